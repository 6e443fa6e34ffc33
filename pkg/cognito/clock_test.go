package cognito

import (
	"time"

	"github.com/cognitokit/cognitokit/internal/testkit"
)

// t0 is the fake "now" tests start at.
var t0 = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

// fakeClock is a clock the test moves by hand, for WithClock and cognitotest.Config.Clock.
type fakeClock = testkit.Clock

func newFakeClock() *fakeClock { return testkit.NewClock(t0) }
