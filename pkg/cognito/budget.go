package cognito

import "sync"

// retryBudget is a token bucket of retries, in the spirit of the AWS SDKs' retry quota:
// a retry takes a token, a success puts one back, up to the capacity. While the
// endpoint answers, the bucket stays full and a failure now and then is retried as the
// RetryPolicy says; when failures outnumber successes it runs dry and failed requests are
// no longer retried, so that an authenticator never multiplies the endpoint's load by
// its retry count. A nil budget never runs dry.
type retryBudget struct {
	mu       sync.Mutex
	left     int
	capacity int
}

// newRetryBudget returns a full budget of n retries; nil (no budget) when n is negative.
func newRetryBudget(n int) *retryBudget {
	if n < 0 {
		return nil
	}
	return &retryBudget{left: n, capacity: n}
}

// take takes a token for a retry and reports whether there was one.
func (b *retryBudget) take() bool {
	if b == nil {
		return true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.left == 0 {
		return false
	}
	b.left--
	return true
}

// refund puts a token back after a success.
func (b *retryBudget) refund() {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.left = min(b.left+1, b.capacity)
}

// remaining returns the tokens left.
func (b *retryBudget) remaining() int {
	if b == nil {
		return -1
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.left
}
