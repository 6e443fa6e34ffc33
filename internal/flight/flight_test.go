package flight

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type ctxKey struct{}

// However many goroutines ask at once, the function runs once and all of them get its
// result.
func TestGroupRunsOnceForConcurrentCallers(t *testing.T) {
	const n = 200
	var g Group[string, int]
	var runs atomic.Int32
	release := make(chan struct{})
	fn := func(context.Context) (int, error) {
		runs.Add(1)
		<-release
		return 42, nil
	}
	var joined, finished sync.WaitGroup
	var starters atomic.Int32
	results := make(chan int, n)
	for range n {
		joined.Add(1)
		finished.Add(1)
		go func() {
			defer finished.Done()
			c, started := g.Start(context.Background(), "k", 0, fn)
			if started {
				starters.Add(1)
			}
			joined.Done()
			v, err := c.Wait(context.Background())
			if err != nil {
				t.Error(err)
			}
			results <- v
		}()
	}
	joined.Wait() // every caller holds the call before it may finish
	close(release)
	finished.Wait()
	close(results)
	for v := range results {
		if v != 42 {
			t.Fatalf("a caller got %d; want 42", v)
		}
	}
	if r, s := runs.Load(), starters.Load(); r != 1 || s != 1 {
		t.Errorf("runs = %d, starters = %d; want 1 and 1", r, s)
	}
}

// Keys are independent; a finished call is forgotten before its waiters wake, so a
// caller that comes after starts a new one.
func TestGroupKeysAndForgetting(t *testing.T) {
	var g Group[string, string]
	var runs atomic.Int32
	fn := func(ctx context.Context) (string, error) {
		runs.Add(1)
		return ctx.Value(ctxKey{}).(string), nil
	}
	ctx := context.WithValue(context.Background(), ctxKey{}, "a")
	if v, err := g.Do(ctx, "a", 0, fn); v != "a" || err != nil {
		t.Fatalf("Do = %q, %v", v, err)
	}
	c, started := g.Start(context.WithValue(context.Background(), ctxKey{}, "b"), "a", 0, fn)
	if !started {
		t.Fatal("a finished call was joined")
	}
	if v, _ := c.Wait(context.Background()); v != "b" {
		t.Errorf("second call = %q", v)
	}
	// Woken waiters find the key free at once.
	c, _ = g.Start(context.Background(), "x", 0, func(context.Context) (string, error) { return "", nil })
	<-c.Done()
	if _, started := g.Start(context.Background(), "x", 0, func(context.Context) (string, error) { return "", nil }); !started {
		t.Error("the key of a finished call was still taken after Done")
	}
	if n := runs.Load(); n != 2 {
		t.Errorf("runs = %d; want 2", n)
	}
}

// A waiter whose context ends gets its context's error at once; the run goes on, with a
// live context, and the other waiters get its result.
func TestWaiterGivingUpDoesNotCancelTheWork(t *testing.T) {
	release := make(chan struct{})
	var runErr error
	c := Start(context.Background(), time.Minute, func(ctx context.Context) (string, error) {
		<-release
		runErr = ctx.Err()
		return "token", nil
	})
	impatient, cancel := context.WithCancel(context.Background())
	cancel()
	if v, err := c.Wait(impatient); v != "" || !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled waiter got %q, %v; want its context's error", v, err)
	}
	if c.Await(impatient) {
		t.Fatal("Await reported an unfinished call finished")
	}
	close(release)
	if v, err := c.Wait(context.Background()); v != "token" || err != nil {
		t.Fatalf("patient waiter got %q, %v", v, err)
	}
	if runErr != nil {
		t.Errorf("the run's context ended (%v) because a waiter gave up", runErr)
	}
	// Finished: reported so even to a waiter whose context has ended.
	if !c.Await(impatient) {
		t.Error("Await on an ended context did not report a finished call")
	}
}

// The run keeps the starter's values but not its cancellation nor its deadline; its own
// timeout bounds it.
func TestRunContext(t *testing.T) {
	starter, cancel := context.WithTimeout(context.WithValue(context.Background(), ctxKey{}, "trace-1"), time.Hour)
	type seen struct {
		value    any
		deadline time.Time
		err      error
	}
	gotCtx := make(chan context.Context, 1)
	release := make(chan struct{})
	c := Start(starter, 30*time.Minute, func(ctx context.Context) (seen, error) {
		gotCtx <- ctx
		<-release
		d, _ := ctx.Deadline()
		return seen{ctx.Value(ctxKey{}), d, ctx.Err()}, nil
	})
	ctx := <-gotCtx
	cancel()
	close(release)
	s, _ := c.Result()
	if s.value != "trace-1" || s.err != nil {
		t.Errorf("run saw value %v and error %v; want trace-1 and none", s.value, s.err)
	}
	if until := time.Until(s.deadline); until > 30*time.Minute || until < 29*time.Minute {
		t.Errorf("run deadline in %v; want its own 30m timeout", until)
	}
	if ctx.Err() == nil {
		t.Error("the run's context outlived the run")
	}
}

// Without a timeout, the run ends at the starter's deadline, if any, but not when the
// starter is cancelled.
func TestRunContextWithoutTimeout(t *testing.T) {
	deadline := time.Now().Add(time.Hour)
	starter, cancel := context.WithDeadline(context.Background(), deadline)
	cancel()
	c := Start(starter, 0, func(ctx context.Context) (time.Time, error) {
		d, _ := ctx.Deadline()
		return d, ctx.Err()
	})
	if d, err := c.Result(); !d.Equal(deadline) || err != nil {
		t.Errorf("run deadline %v, err %v; want %v and none", d, err, deadline)
	}
	c2 := Start(context.Background(), 0, func(ctx context.Context) (bool, error) {
		_, ok := ctx.Deadline()
		return ok, nil
	})
	if has, _ := c2.Result(); has {
		t.Error("the run got a deadline nobody set")
	}
}

// The timeout ends a run that does not finish on its own.
func TestTimeoutEndsTheRun(t *testing.T) {
	c := Start(context.Background(), 10*time.Millisecond, func(ctx context.Context) (int, error) {
		<-ctx.Done()
		return 0, ctx.Err()
	})
	done := make(chan error, 1)
	go func() { _, err := c.Result(); done <- err }()
	select {
	case err := <-done:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("err = %v; want the run's deadline", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the timeout did not end the run")
	}
}

// The error of the run reaches every waiter unchanged.
func TestErrorsReachEveryWaiter(t *testing.T) {
	boom := errors.New("boom")
	var g Group[int, *int]
	release := make(chan struct{})
	c, _ := g.Start(context.Background(), 1, 0, func(context.Context) (*int, error) {
		<-release
		return nil, boom
	})
	errs := make(chan error, 3)
	var joined sync.WaitGroup
	for range 3 {
		joined.Add(1)
		go func() {
			w, started := g.Start(context.Background(), 1, 0, func(context.Context) (*int, error) { return nil, nil })
			if started {
				t.Error("a second run started while the first was running")
			}
			joined.Done()
			_, err := w.Wait(context.Background())
			errs <- err
		}()
	}
	joined.Wait()
	close(release)
	for range 3 {
		if err := <-errs; err != boom {
			t.Errorf("waiter got %v; want boom", err)
		}
	}
	if _, err := c.Result(); err != boom {
		t.Errorf("Result = %v; want boom", err)
	}
}

// A panic in the run does not kill the process from its goroutine: each waiter panics
// with it, as a *PanicError that keeps the value and the run's stack, and the group is
// usable afterwards.
func TestPanicReachesEveryWaiter(t *testing.T) {
	var g Group[string, int]
	boom := errors.New("boom")
	c, _ := g.Start(context.Background(), "k", 0, func(context.Context) (int, error) { panic(boom) })
	for range 2 {
		func() {
			defer func() {
				pe, ok := recover().(*PanicError)
				if !ok {
					t.Fatalf("Wait did not panic with a *PanicError")
				}
				if pe.Value != boom || !errors.Is(pe, boom) || len(pe.Stack) == 0 {
					t.Errorf("PanicError = %v", pe)
				}
			}()
			_, _ = c.Wait(context.Background())
		}()
	}
	if v, err := g.Do(context.Background(), "k", 0, func(context.Context) (int, error) { return 7, nil }); v != 7 || err != nil {
		t.Errorf("after a panic Do = %d, %v", v, err)
	}
}
