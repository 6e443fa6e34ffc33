package cognito

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cognitokit/cognitokit/pkg/cognitotest"
)

// plainStore is a MemoryStore without its Coalesce, so that only the authenticator's own
// single flight stands between its callers and the token endpoint.
type plainStore struct{ m MemoryStore }

func (s *plainStore) Load(ctx context.Context, key string) (*Token, error) { return s.m.Load(ctx, key) }
func (s *plainStore) Store(ctx context.Context, key string, t *Token) error {
	return s.m.Store(ctx, key, t)
}
func (s *plainStore) Delete(ctx context.Context, key string, t *Token) error {
	return s.m.Delete(ctx, key, t)
}

func TestColdCacheTenThousandCallersOneRequest(t *testing.T) {
	t.Run("default store", func(t *testing.T) { testColdCache(t) })
	t.Run("store without coalescing", func(t *testing.T) { testColdCache(t, WithTokenStore(&plainStore{})) })
}

func testColdCache(t *testing.T, opts ...AuthenticatorOption) {
	g := startGatedCognito(t, 0)
	cfg := configFor(g.Server, "orders-reader")
	cfg.TokenURL = g.URL + "/oauth2/token"
	a, _ := newAuth(t, cfg, opts...)

	const callers, quitters = 10_000, 200
	quitCtx, quit := context.WithCancel(context.Background())
	quitErrs := make(chan error, quitters)
	for range quitters {
		go func() {
			_, err := a.GetToken(quitCtx)
			quitErrs <- err
		}()
	}
	var started, done sync.WaitGroup
	tokens := make([]*Token, callers)
	errs := make([]error, callers)
	started.Add(callers)
	done.Add(callers)
	for i := range callers {
		go func() {
			defer done.Done()
			started.Done()
			tokens[i], errs[i] = a.GetToken(context.Background())
		}()
	}
	within(t, g.entered, 10*time.Second, "the token request")
	started.Wait()

	// The request is held at the server: cancelled callers must come back anyway.
	quit()
	for range quitters {
		err := within(t, quitErrs, 10*time.Second, "a cancelled caller's return")
		if !errors.Is(err, context.Canceled) || !strings.HasPrefix(err.Error(), "cognito: ") {
			t.Fatalf("cancelled caller got %v; want a cognito: error matching context.Canceled", err)
		}
	}
	if f := currentFlight(a); f == nil {
		t.Fatal("the cancelled callers cancelled the fetch")
	}
	close(g.release)
	done.Wait()

	for i := range callers {
		if errs[i] != nil {
			t.Fatalf("caller %d: %v", i, errs[i])
		}
		if tokens[i] != tokens[0] {
			t.Fatalf("caller %d got another token", i)
		}
	}
	if n := g.Requests(cognitotest.EndpointToken); n != 1 {
		t.Errorf("token requests = %d; want 1", n)
	}
}

func TestCancelledCallerStartsNoRequest(t *testing.T) {
	te := startTokenEndpoint(t, nil)
	a, _ := newAuth(t, testConfig(te.TokenURL()))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := a.GetToken(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("GetToken with a cancelled context = %v", err)
	}
	if n := te.requests.Load(); n != 0 {
		t.Errorf("token requests = %d; want 0", n)
	}
}

func TestTokenLifetimes(t *testing.T) {
	for _, tt := range []struct {
		ttl, refreshAt, freshUntil time.Duration
	}{
		{time.Hour, 2655 * time.Second, 3540 * time.Second},
		{120 * time.Second, 45 * time.Second, 60 * time.Second},
		{30 * time.Second, 11250 * time.Millisecond, 15 * time.Second},
	} {
		srv, cfg := startCognito(t, tt.ttl)
		t.Run(tt.ttl.String(), func(t *testing.T) {
			for _, ahead := range []bool{true, false} {
				clock := newFakeClock()
				start := clock.Now()
				opts := []AuthenticatorOption{WithClock(clock.Now)}
				quietUntil := tt.refreshAt
				if !ahead {
					opts = append(opts, WithRefreshAhead(0))
					quietUntil = tt.freshUntil
				}
				a, _ := newAuth(t, cfg, opts...)
				before := srv.Requests(cognitotest.EndpointToken)
				first := mustToken(t, a)
				if !first.ExpiresAt.Equal(start.Add(tt.ttl)) {
					t.Fatalf("ExpiresAt = %v; want start+%v", first.ExpiresAt, tt.ttl)
				}
				const calls = 1000
				for i := range calls {
					clock.Set(start.Add(quietUntil * time.Duration(i) / calls))
					if tok := mustToken(t, a); tok != first {
						t.Fatalf("refresh ahead %v: at %v a new token was fetched", ahead, quietUntil*time.Duration(i)/calls)
					}
				}
				clock.Set(start.Add(quietUntil - 1))
				mustToken(t, a)
				if n := srv.Requests(cognitotest.EndpointToken) - before; n != 1 {
					t.Fatalf("refresh ahead %v: %d requests within the quiet window; want 1", ahead, n)
				}
				if e := a.cur.Load(); !e.refreshAt.Equal(start.Add(tt.refreshAt)) && ahead {
					t.Errorf("refreshAt = %v; want start+%v", e.refreshAt.Sub(start), tt.refreshAt)
				}
				clock.Set(start.Add(tt.freshUntil))
				second := mustToken(t, a)
				if second == first || second.Token == first.Token {
					t.Fatalf("refresh ahead %v: the token was not replaced at the end of its fresh window", ahead)
				}
				if n := srv.Requests(cognitotest.EndpointToken) - before; n != 2 {
					t.Fatalf("refresh ahead %v: %d requests after the fresh window; want 2", ahead, n)
				}
			}
		})
	}
}

func TestRefreshAheadRunsOnceInBackground(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{}, 1)
	te := startTokenEndpoint(t, func(n int64, w http.ResponseWriter, r *http.Request) {
		if n == 2 {
			entered <- struct{}{}
			<-release
		}
		writeToken(w, fmt.Sprintf("token-%d", n), 3600)
	})
	clock := newFakeClock()
	a, _ := newAuth(t, testConfig(te.TokenURL()), WithClock(clock.Now))
	old := mustToken(t, a)

	clock.Advance(3000 * time.Second) // past refreshAt (2655s), before freshUntil (3540s)
	if tok := mustToken(t, a); tok != old {
		t.Fatal("the caller that started the refresh did not get the cached token")
	}
	within(t, entered, 10*time.Second, "the background refresh request")
	f := currentFlight(a)
	if f == nil {
		t.Fatal("no refresh in flight")
	}
	// The refresh is held at the server; callers must not wait for it.
	var wg sync.WaitGroup
	for range 500 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 10 {
				if tok := mustToken(t, a); tok != old {
					t.Error("a caller got something else than the cached token during the refresh")
					return
				}
			}
		}()
	}
	wg.Wait()
	if n := te.requests.Load(); n != 2 {
		t.Fatalf("token requests = %d; want 2 (one background refresh)", n)
	}
	close(release)
	<-f.Done()
	if tok := mustToken(t, a); tok.Token != "token-2" {
		t.Fatalf("after the refresh got %v; want token-2", tok)
	}
	if n := te.requests.Load(); n != 2 {
		t.Errorf("token requests = %d; want 2", n)
	}
}

func TestRefreshAheadFailureKeepsServingAndLogs(t *testing.T) {
	te := startTokenEndpoint(t, func(n int64, w http.ResponseWriter, r *http.Request) {
		if n == 1 {
			writeToken(w, "token-1", 3600)
			return
		}
		http.Error(w, "unavailable", http.StatusServiceUnavailable)
	})
	clock := newFakeClock()
	logger, logs := newLogger()
	a, _ := newAuth(t, testConfig(te.TokenURL()), WithClock(clock.Now), WithLogger(logger))
	old := mustToken(t, a)
	clock.Advance(3000 * time.Second)
	mustToken(t, a)
	waitFlight(a)
	if tok := mustToken(t, a); tok != old {
		t.Fatalf("got %v after a failed refresh; want the cached token", tok)
	}
	if n := te.requests.Load(); n != 4 {
		t.Errorf("token requests = %d; want 1 + 3 attempts", n)
	}
	if !strings.Contains(logs.String(), "token refresh failed") || !strings.Contains(logs.String(), `"level":"WARN"`) {
		t.Errorf("no warning logged: %s", logs)
	}
	// The next tries come after a backoff of 5s, then 10s, not on every call; each is a
	// probe of one request, the failed series having opened the circuit.
	wantRequests := int64(4)
	for _, backoff := range []time.Duration{5 * time.Second, 10 * time.Second} {
		clock.Advance(backoff - time.Millisecond)
		for range 100 {
			if tok := mustToken(t, a); tok != old {
				t.Fatalf("got %v; want the cached token", tok)
			}
		}
		if n := te.requests.Load(); n != wantRequests {
			t.Fatalf("token requests = %d before the backoff of %v ended; want %d", n, backoff, wantRequests)
		}
		clock.Advance(time.Millisecond)
		mustToken(t, a)
		waitFlight(a)
		wantRequests++
		if n := te.requests.Load(); n != wantRequests {
			t.Fatalf("token requests = %d after the backoff of %v; want %d", n, backoff, wantRequests)
		}
	}
}

func TestRefreshBackoff(t *testing.T) {
	want := []time.Duration{5 * time.Second, 10 * time.Second, 20 * time.Second, 40 * time.Second, time.Minute, time.Minute}
	for i, w := range want {
		if got := refreshBackoff(i + 1); got != w {
			t.Errorf("refreshBackoff(%d) = %v; want %v", i+1, got, w)
		}
	}
	if got := refreshBackoff(1000); got != time.Minute {
		t.Errorf("refreshBackoff(1000) = %v", got)
	}
}

func TestEndpointDownWhileTokenCached(t *testing.T) {
	t.Run("503", func(t *testing.T) {
		srv, cfg := startCognito(t, 0)
		clock := newFakeClock()
		logger, logs := newLogger()
		a, _ := newAuth(t, cfg, WithClock(clock.Now), WithLogger(logger))
		cached := mustToken(t, a)
		srv.FailNext(cognitotest.EndpointToken, 1000, cognitotest.Fault{Status: http.StatusServiceUnavailable})

		clock.Advance(3550 * time.Second) // past freshUntil (3540s), before ExpiresAt (3600s)
		for range 100 {
			if tok := mustToken(t, a); tok != cached {
				t.Fatalf("got %v; want the cached token", tok)
			}
		}
		if n := srv.Requests(cognitotest.EndpointToken); n != 4 {
			t.Errorf("token requests = %d; want 1 + 3 (one failed refresh, then backoff)", n)
		}
		if !strings.Contains(logs.String(), "serving the cached token") {
			t.Errorf("no warning logged: %s", logs)
		}
		clock.Set(cached.ExpiresAt)
		_, err := a.GetToken(context.Background())
		var ae *AuthenticationError
		// The failed refresh opened the circuit: this fetch is a probe, a single request.
		if !errors.As(err, &ae) || !errors.Is(err, ErrTokenEndpointUnavailable) || ae.StatusCode != 503 || ae.Attempts != 1 || ae.HeldOff {
			t.Errorf("after expiry: %v; want endpoint unavailable after one probe", err)
		}
	})
	t.Run("server gone", func(t *testing.T) {
		te := startTokenEndpoint(t, nil)
		clock := newFakeClock()
		a, _ := newAuth(t, testConfig(te.TokenURL()), WithClock(clock.Now))
		cached := mustToken(t, a)
		te.Close()
		clock.Advance(3599 * time.Second)
		if tok := mustToken(t, a); tok != cached {
			t.Fatalf("got %v; want the cached token", tok)
		}
	})
}
