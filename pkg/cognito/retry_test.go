package cognito

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/cognitokit/cognitokit/internal/backoff"
)

func TestRetryDelay(t *testing.T) {
	p := RetryPolicy{}.withDefaults()
	if p.MaxAttempts != 3 || p.BaseDelay != 100*time.Millisecond || p.MaxDelay != 2*time.Second {
		t.Fatalf("defaults = %+v", p)
	}
	ceilingJitter := func(d time.Duration) time.Duration { return d }
	noJitter := func(time.Duration) time.Duration { return 0 }
	ms := time.Millisecond
	tests := []struct {
		name       string
		failures   int
		retryAfter time.Duration
		jitter     func(time.Duration) time.Duration
		want       time.Duration
	}{
		{"first backoff at its ceiling", 1, 0, ceilingJitter, 100 * ms},
		{"doubles", 2, 0, ceilingJitter, 200 * ms},
		{"doubles again", 4, 0, ceilingJitter, 800 * ms},
		{"capped at MaxDelay", 6, 0, ceilingJitter, 2 * time.Second},
		{"no overflow after many failures", 200, 0, ceilingJitter, 2 * time.Second},
		{"full jitter can be zero", 3, 0, noJitter, 0},
		{"Retry-After raises the wait", 1, time.Second, noJitter, time.Second},
		{"Retry-After below the backoff", 4, 10 * ms, ceilingJitter, 800 * ms},
		{"Retry-After capped at MaxDelay", 1, time.Minute, noJitter, 2 * time.Second},
	}
	for _, tt := range tests {
		if got := p.delay(tt.failures, tt.retryAfter, tt.jitter); got != tt.want {
			t.Errorf("%s: delay = %v; want %v", tt.name, got, tt.want)
		}
	}
}

func TestRetrierDo(t *testing.T) {
	errTemporary := errors.New("temporary")
	errPermanent := errors.New("permanent")
	tests := []struct {
		name         string
		policy       RetryPolicy
		results      []error // per attempt; the last one repeats
		retryable    bool
		wantAttempts int
		wantErr      error
	}{
		{"success at once", RetryPolicy{}, []error{nil}, true, 1, nil},
		{"success on the third attempt", RetryPolicy{}, []error{errTemporary, errTemporary, nil}, true, 3, nil},
		{"attempts run out", RetryPolicy{}, []error{errTemporary}, true, 3, errTemporary},
		{"five attempts", RetryPolicy{MaxAttempts: 5}, []error{errTemporary}, true, 5, errTemporary},
		{"retries disabled", RetryPolicy{MaxAttempts: 1}, []error{errTemporary}, true, 1, errTemporary},
		{"not retryable", RetryPolicy{}, []error{errPermanent}, false, 1, errPermanent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRetrier(tt.policy)
			sl := &sleepLog{}
			r.sleep = sl.sleep
			calls := 0
			attempts, err := r.do(context.Background(), func(context.Context) (time.Duration, bool, error) {
				err := tt.results[min(calls, len(tt.results)-1)]
				calls++
				return 0, tt.retryable, err
			})
			if attempts != tt.wantAttempts || calls != tt.wantAttempts || err != tt.wantErr {
				t.Errorf("do = %d, %v with %d calls; want %d, %v", attempts, err, calls, tt.wantAttempts, tt.wantErr)
			}
			if len(sl.Waits()) != tt.wantAttempts-1 {
				t.Errorf("waits = %v; want %d", sl.Waits(), tt.wantAttempts-1)
			}
		})
	}
}

func TestRetrierNeverWaitsPastDeadline(t *testing.T) {
	errTemporary := errors.New("temporary")
	r := newRetrier(RetryPolicy{})
	sl := &sleepLog{}
	r.sleep = sl.sleep
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	calls := 0
	// The server asks for 1s; with a deadline 1 minute away that is fine...
	attempts, err := r.do(ctx, func(context.Context) (time.Duration, bool, error) {
		calls++
		return time.Second, true, errTemporary
	})
	if attempts != 3 || err != errTemporary {
		t.Fatalf("do = %d, %v", attempts, err)
	}
	// ...but with 100ms left the retrier gives up now with the last error.
	ctx, cancel = context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	sl = &sleepLog{}
	r.sleep = sl.sleep
	calls = 0
	attempts, err = r.do(ctx, func(context.Context) (time.Duration, bool, error) {
		calls++
		return time.Second, true, errTemporary
	})
	if attempts != 1 || calls != 1 || err != errTemporary || len(sl.Waits()) != 0 {
		t.Errorf("do = %d, %v with %d calls and waits %v; want 1 attempt, the last error, no wait", attempts, err, calls, sl.Waits())
	}
}

func TestRetrierStopsWhenContextEnds(t *testing.T) {
	errTemporary := errors.New("temporary")
	r := newRetrier(RetryPolicy{MaxAttempts: 10})
	ctx, cancel := context.WithCancel(context.Background())
	r.sleep = func(ctx context.Context, d time.Duration) error {
		cancel()
		return backoff.Sleep(ctx, time.Hour)
	}
	calls := 0
	attempts, err := r.do(ctx, func(context.Context) (time.Duration, bool, error) {
		calls++
		return 0, true, errTemporary
	})
	if attempts != 1 || calls != 1 || err != errTemporary {
		t.Errorf("do = %d, %v with %d calls; want 1 attempt and the last error", attempts, err, calls)
	}
}
