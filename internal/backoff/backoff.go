// Package backoff computes the waits between attempts at something that keeps failing:
// exponential, capped, with full jitter, and raised to what a server asks for with
// Retry-After. The token endpoint's retries, the wait before refreshing a cached token
// after a failed refresh, and the JWKS refetch after a failed fetch all take their waits
// from here.
package backoff

import (
	"context"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Exponential is a wait that doubles with each failure in a row, from First up to Max.
type Exponential struct {
	First time.Duration
	Max   time.Duration
}

// After returns the wait after n failures in a row: First·2^(n-1), at most Max. An n
// below 1 counts as 1. It never overflows, however large n is.
func (e Exponential) After(n int) time.Duration {
	d := e.First
	for i := 1; i < n && d > 0 && d < e.Max; i++ {
		if d > e.Max/2 {
			d = e.Max
			break
		}
		d *= 2
	}
	return min(d, e.Max)
}

// Retry returns the wait before the next attempt after n failures in a row: a random
// duration up to After(n), picked by jitter (nil means [FullJitter]), so that clients
// that failed together do not retry together; raised to retryAfter when the server
// asked for more (zero when it did not ask); and at most Max either way.
func (e Exponential) Retry(n int, retryAfter time.Duration, jitter func(ceiling time.Duration) time.Duration) time.Duration {
	if jitter == nil {
		jitter = FullJitter
	}
	return min(max(jitter(e.After(n)), retryAfter), e.Max)
}

// FullJitter returns a uniformly random duration in [0, ceiling]; zero when ceiling is
// not positive.
func FullJitter(ceiling time.Duration) time.Duration {
	if ceiling <= 0 {
		return 0
	}
	return rand.N(ceiling + 1)
}

// maxRetryAfterSeconds bounds a parsed Retry-After so that it cannot overflow a Duration;
// the caller caps any wait far lower anyway.
const maxRetryAfterSeconds = 1 << 31

// ParseRetryAfter reads a Retry-After header (RFC 9110 §10.2.3): a number of seconds or
// an HTTP date, which is compared with now (a date in the past asks for no wait). ok is
// false when v is neither.
func ParseRetryAfter(v string, now time.Time) (d time.Duration, ok bool) {
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

// Sleep waits d, or less if ctx ends first, in which case it returns ctx's error.
func Sleep(ctx context.Context, d time.Duration) error {
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
