// Package flight runs a piece of work once for every caller that needs it at the same
// time: a token fetch, a JWKS download. The work runs in its own goroutine, detached from
// the cancellation of the caller that started it and bounded by a timeout of its own;
// every caller waits for it on its own context, so one caller giving up neither ends the
// work nor fails the others.
package flight

import (
	"context"
	"fmt"
	"runtime/debug"
	"sync"
	"time"
)

// Call is one run of a function, whose outcome every caller that waits for it shares.
type Call[V any] struct {
	done     chan struct{}
	val      V
	err      error
	panicked *PanicError
}

// PanicError is what [Call.Result] and [Call.Wait] panic with when the function of a
// Call panicked: the value it panicked with and the stack of the goroutine that ran it,
// which a re-panic in the waiter's goroutine would otherwise lose.
type PanicError struct {
	Value any
	Stack []byte
}

func (p *PanicError) Error() string {
	return fmt.Sprintf("flight: the call panicked: %v\n\n%s", p.Value, p.Stack)
}

// Unwrap returns the value the call panicked with, when it is an error.
func (p *PanicError) Unwrap() error {
	err, _ := p.Value.(error)
	return err
}

// Start runs fn in a new goroutine and returns its Call at once.
//
// fn's context keeps ctx's values (a trace, a logger) but not its cancellation: callers
// other than the one that started the call come to depend on it. It ends after timeout
// instead, or, when timeout is zero or less, at ctx's deadline if ctx has one (the run
// then lasts no longer than its starter was prepared to wait, but does not end when the
// starter merely gives up).
func Start[V any](ctx context.Context, timeout time.Duration, fn func(context.Context) (V, error)) *Call[V] {
	return start(ctx, timeout, fn, nil)
}

// start is Start with settle, when not nil, run after fn returns and before any waiter
// is woken, so that an owner can forget the call first: a caller arriving once the
// waiters have woken then starts a new call rather than joining a finished one.
func start[V any](ctx context.Context, timeout time.Duration, fn func(context.Context) (V, error), settle func()) *Call[V] {
	c := &Call[V]{done: make(chan struct{})}
	rctx, cancel := detach(ctx, timeout)
	go func() {
		defer close(c.done)
		if settle != nil {
			defer settle()
		}
		defer cancel()
		c.val, c.err = c.run(rctx, fn)
	}()
	return c
}

func detach(ctx context.Context, timeout time.Duration) (context.Context, context.CancelFunc) {
	d := context.WithoutCancel(ctx)
	if timeout > 0 {
		return context.WithTimeout(d, timeout)
	}
	if deadline, ok := ctx.Deadline(); ok {
		return context.WithDeadline(d, deadline)
	}
	return context.WithCancel(d)
}

// run calls fn, turning a panic into c.panicked so that it reaches the waiters instead of
// killing the process from a goroutine nobody can recover in.
func (c *Call[V]) run(ctx context.Context, fn func(context.Context) (V, error)) (v V, err error) {
	defer func() {
		if r := recover(); r != nil {
			c.panicked = &PanicError{Value: r, Stack: debug.Stack()}
		}
	}()
	return fn(ctx)
}

// Done is closed when the call has finished and its outcome is set.
func (c *Call[V]) Done() <-chan struct{} { return c.done }

// Await waits until the call finishes or ctx ends, and reports whether the call
// finished. A call that has finished is reported so even if ctx has ended too.
func (c *Call[V]) Await(ctx context.Context) bool {
	select {
	case <-c.done:
		return true
	default:
	}
	select {
	case <-c.done:
		return true
	case <-ctx.Done():
		return false
	}
}

// Result waits for the call to finish and returns what its function returned. If the
// function panicked, Result panics with a *PanicError.
func (c *Call[V]) Result() (V, error) {
	<-c.done
	if c.panicked != nil {
		panic(c.panicked)
	}
	return c.val, c.err
}

// Wait returns the call's result, or, if ctx ends first, the zero V and ctx.Err(). The
// call goes on either way. If the function panicked, Wait panics with a *PanicError.
func (c *Call[V]) Wait(ctx context.Context) (V, error) {
	if !c.Await(ctx) {
		var zero V
		return zero, ctx.Err()
	}
	return c.Result()
}

// Group runs at most one Call per key at a time. Its zero value is ready to use; it is
// safe for concurrent use.
type Group[K comparable, V any] struct {
	mu    sync.Mutex
	calls map[K]*Call[V]
}

// Start returns the call running for key, or, when there is none, starts fn as one with
// [Start]'s ctx and timeout; started reports which. The call is forgotten as it
// finishes, before its waiters are woken.
func (g *Group[K, V]) Start(ctx context.Context, key K, timeout time.Duration, fn func(context.Context) (V, error)) (c *Call[V], started bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if c, ok := g.calls[key]; ok {
		return c, false
	}
	if g.calls == nil {
		g.calls = map[K]*Call[V]{}
	}
	c = start(ctx, timeout, fn, func() {
		g.mu.Lock()
		delete(g.calls, key)
		g.mu.Unlock()
	})
	g.calls[key] = c
	return c, true
}

// Do waits on ctx for the call running for key, or for fn started as a new one (see
// [Group.Start]), and returns its result as [Call.Wait] does.
func (g *Group[K, V]) Do(ctx context.Context, key K, timeout time.Duration, fn func(context.Context) (V, error)) (V, error) {
	c, _ := g.Start(ctx, key, timeout, fn)
	return c.Wait(ctx)
}
