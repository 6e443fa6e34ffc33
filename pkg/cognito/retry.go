package cognito

import (
	"context"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// maxRetryAfterSeconds bounds a parsed Retry-After so that it cannot overflow a Duration;
// any wait is capped at RetryPolicy.MaxDelay anyway.
const maxRetryAfterSeconds = 1 << 31

// attemptFunc makes one attempt. It reports whether a failure is worth retrying and the
// wait the server asked for (Retry-After; zero when none).
type attemptFunc func(ctx context.Context) (retryAfter time.Duration, retryable bool, err error)

// retrier runs attempts under a RetryPolicy. sleep and jitter are fields so that tests can
// record the waits instead of sleeping, and pin the randomness.
type retrier struct {
	policy RetryPolicy
	sleep  func(ctx context.Context, d time.Duration) error
	jitter func(ceiling time.Duration) time.Duration
}

func newRetrier(p RetryPolicy) retrier {
	return retrier{policy: p.withDefaults(), sleep: sleepContext, jitter: fullJitter}
}

// do calls op until it succeeds, fails with an error not worth retrying, or the policy's
// attempts run out. It returns how many attempts were made and the last error. It never
// waits past ctx's deadline: when the next wait would end after it, do gives up at once
// with the last error rather than sleep for nothing.
func (r retrier) do(ctx context.Context, op attemptFunc) (attempts int, err error) {
	for attempts = 1; ; attempts++ {
		retryAfter, retryable, err := op(ctx)
		if err == nil || !retryable || attempts >= r.policy.MaxAttempts || ctx.Err() != nil {
			return attempts, err
		}
		wait := r.policy.delay(attempts, retryAfter, r.jitter)
		if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < wait {
			return attempts, err
		}
		if r.sleep(ctx, wait) != nil {
			return attempts, err
		}
	}
}

// delay returns the wait after the given number of failed attempts: a random duration
// between zero and BaseDelay·2^(failures-1) (full jitter, so that many clients failing
// together do not retry together), raised to retryAfter when the server asked for more,
// and capped at MaxDelay either way.
func (p RetryPolicy) delay(failures int, retryAfter time.Duration, jitter func(time.Duration) time.Duration) time.Duration {
	ceiling := p.BaseDelay
	for i := 1; i < failures && ceiling < p.MaxDelay; i++ {
		ceiling *= 2
	}
	ceiling = min(ceiling, p.MaxDelay)
	wait := max(jitter(ceiling), retryAfter)
	return min(wait, p.MaxDelay)
}

// fullJitter returns a uniformly random duration in [0, ceiling].
func fullJitter(ceiling time.Duration) time.Duration {
	if ceiling <= 0 {
		return 0
	}
	return rand.N(ceiling + 1)
}

// parseRetryAfter reads a Retry-After header (RFC 9110 §10.2.3): a number of seconds or
// an HTTP date, which is compared with now. ok is false when v is neither.
func parseRetryAfter(v string, now time.Time) (d time.Duration, ok bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseUint(v, 10, 64); err == nil {
		return time.Duration(min(secs, maxRetryAfterSeconds)) * time.Second, true
	}
	at, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return max(at.Sub(now), 0), true
}

// sleepContext waits d, or less if ctx ends first, in which case it returns ctx's error.
func sleepContext(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
