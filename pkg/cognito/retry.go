package cognito

import (
	"context"
	"time"

	"github.com/cognitokit/cognitokit/internal/backoff"
)

// attemptFunc makes one attempt. It reports whether a failure is worth retrying and the
// wait the server asked for (Retry-After; zero when none).
type attemptFunc func(ctx context.Context) (retryAfter time.Duration, retryable bool, err error)

// retrier runs attempts under a RetryPolicy, its retries paid from a budget. sleep and
// jitter are fields so that tests can record the waits instead of sleeping, and pin the
// randomness.
type retrier struct {
	policy RetryPolicy
	budget *retryBudget // shared by the copies of the retrier; nil: retries are free
	sleep  func(ctx context.Context, d time.Duration) error
	jitter func(ceiling time.Duration) time.Duration
}

func newRetrier(p RetryPolicy) retrier {
	p = p.withDefaults()
	return retrier{policy: p, budget: newRetryBudget(p.Budget), sleep: backoff.Sleep, jitter: backoff.FullJitter}
}

// do calls op until it succeeds, fails with an error not worth retrying, or the policy's
// attempts or the budget's retries run out. It returns how many attempts were made and
// the last error. A success refunds the budget one retry. It never waits past ctx's
// deadline: when the next wait would end after it, do gives up at once with the last
// error rather than sleep for nothing; nor does it retry before a Retry-After longer than
// MaxDelay, which it leaves to the caller to honour.
func (r retrier) do(ctx context.Context, op attemptFunc) (attempts int, err error) {
	for attempts = 1; ; attempts++ {
		retryAfter, retryable, err := op(ctx)
		if err == nil {
			r.budget.refund()
			return attempts, nil
		}
		if !retryable || attempts >= r.policy.MaxAttempts || ctx.Err() != nil || retryAfter > r.policy.MaxDelay {
			return attempts, err
		}
		wait := r.policy.delay(attempts, retryAfter, r.jitter)
		if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < wait {
			return attempts, err
		}
		if !r.budget.take() {
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
	return backoff.Exponential{First: p.BaseDelay, Max: p.MaxDelay}.Retry(failures, retryAfter, jitter)
}
