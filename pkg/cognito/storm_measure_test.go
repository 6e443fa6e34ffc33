package cognito

import (
	"context"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/cognitokit/cognitokit/pkg/cognitotest"
)

// TestStormMeasures prints the token requests one authenticator makes for 1,000 GetToken
// calls spread evenly over a window of fake time, with no cached token, while the
// endpoint rejects the client, answers 503, or answers 429 with Retry-After: 5; with the
// default protections and with them turned off. BENCHMARKS.md records its output. Run it
// with COGNITOKIT_MEASURE_STORM=1.
func TestStormMeasures(t *testing.T) {
	if os.Getenv("COGNITOKIT_MEASURE_STORM") == "" {
		t.Skip("set COGNITOKIT_MEASURE_STORM=1 to measure")
	}
	off := []AuthenticatorOption{WithCooldown(CooldownPolicy{RejectionFirst: -1, OutageFirst: -1}), WithRetry(RetryPolicy{Budget: -1})}
	scenarios := []struct {
		name  string
		fault *cognitotest.Fault // nil: a wrong secret
	}{
		{"rejection (wrong secret)", nil},
		{"503 outage", &cognitotest.Fault{Status: http.StatusServiceUnavailable}},
		{"429 storm, Retry-After: 5", &cognitotest.Fault{Status: http.StatusTooManyRequests, Header: http.Header{"Retry-After": {"5"}}}},
	}
	for _, window := range []time.Duration{10 * time.Second, time.Minute} {
		for _, sc := range scenarios {
			for _, protected := range []bool{true, false} {
				srv, cfg := startCognito(t, 0)
				if sc.fault == nil {
					cfg.ClientSecret = "wrong"
				} else {
					srv.FailNext(cognitotest.EndpointToken, 1_000_000, *sc.fault)
				}
				clock := newFakeClock()
				opts := []AuthenticatorOption{WithClock(clock.Now)}
				if !protected {
					opts = append(opts, off...)
				}
				a, _ := newAuth(t, cfg, opts...)
				for range 1000 {
					_, _ = a.GetToken(context.Background())
					clock.Advance(window / 1000)
				}
				t.Logf("window %v | %-26s | protected %-5v | %4d token requests per 1,000 calls",
					window, sc.name, protected, srv.Requests(cognitotest.EndpointToken))
			}
		}
	}
}
