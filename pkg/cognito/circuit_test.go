package cognito

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cognitokit/cognitokit/pkg/cognitotest"
)

// wrongSecret returns a local Cognito and a config for its client with a wrong secret.
func wrongSecret(t *testing.T) (*cognitotest.Server, ClientCredentialsConfig) {
	t.Helper()
	srv, cfg := startCognito(t, 0)
	cfg.ClientSecret = "a-typo-in-the-secret"
	return srv, cfg
}

// checkRejection fails the test unless err is the rejection of a wrong secret, held off
// (no request made) or not as heldOff says.
func checkRejection(t *testing.T, err error, heldOff bool) *AuthenticationError {
	t.Helper()
	var ae *AuthenticationError
	if !errors.As(err, &ae) || !errors.Is(err, ErrTokenRequestRejected) || ae.ErrorCode != "invalid_client" || ae.StatusCode != http.StatusBadRequest {
		t.Fatalf("error = %v; want the invalid_client rejection", err)
	}
	if ae.HeldOff != heldOff {
		t.Fatalf("error %v: HeldOff = %v; want %v", err, ae.HeldOff, heldOff)
	}
	if heldOff && ae.Attempts != 0 {
		t.Errorf("a held-off error counts %d attempts", ae.Attempts)
	}
	var cd *Cooldown
	if !errors.As(err, &cd) || cd.Reason != "token_request_rejected" || cd.ErrorCode != "invalid_client" {
		t.Errorf("error %v does not unwrap to its cool-down (%+v)", err, cd)
	}
	return ae
}

// A wrong secret: 200 calls in a row make one request; the first call gets the answer,
// every later one the same typed error at once, marked held off.
func TestWrongSecretSequentialCallsOneRequest(t *testing.T) {
	srv, cfg := wrongSecret(t)
	clock := newFakeClock()
	logger, logs := newLogger()
	a, _ := newAuth(t, cfg, WithClock(clock.Now), WithLogger(logger))
	_, err := a.GetToken(context.Background())
	first := checkRejection(t, err, false)
	if want := t0.Add(DefaultRejectionCooldown); !first.RetryAt.Equal(want) {
		t.Errorf("RetryAt = %v; want %v", first.RetryAt, want)
	}
	// A request now would never be answered: a call that waited for one would hang.
	srv.StallNext(cognitotest.EndpointToken, 1000, time.Hour)
	t.Cleanup(srv.ClearFaults)
	done := make(chan []error)
	go func() {
		var errs []error
		for range 199 {
			_, err := a.GetToken(context.Background())
			errs = append(errs, err)
			if f := currentFlight(a); f != nil {
				t.Error("a held-off call started a fetch")
			}
		}
		done <- errs
	}()
	for _, err := range within(t, done, 10*time.Second, "199 held-off calls") {
		if ae := checkRejection(t, err, true); !ae.RetryAt.Equal(first.RetryAt) {
			t.Errorf("RetryAt = %v; want %v", ae.RetryAt, first.RetryAt)
		}
	}
	if n := srv.Requests(cognitotest.EndpointToken); n != 1 {
		t.Errorf("token requests = %d; want 1", n)
	}
	if got := strings.Count(logs.String(), "token requests held off"); got != 1 {
		t.Errorf("the cool-down was logged %d times; want once:\n%s", got, logs)
	}
	if strings.Contains(logs.String(), cfg.ClientSecret) {
		t.Error("the secret was logged")
	}
	if strings.Contains(err.Error(), "held off") {
		t.Errorf("the first error %q says held off", err)
	}
	_, err = a.GetToken(context.Background())
	if !strings.Contains(err.Error(), "held off") {
		t.Errorf("a held-off error %q does not say so", err)
	}
}

// 50 goroutines × 40 calls with a wrong secret: one request; the callers that arrive
// while it runs share its answer, the others are held off.
func TestWrongSecretConcurrentCallsOneRequest(t *testing.T) {
	srv, cfg := wrongSecret(t)
	clock := newFakeClock()
	a, _ := newAuth(t, cfg, WithClock(clock.Now))
	var wg sync.WaitGroup
	var fresh, held atomic.Int64
	start := make(chan struct{})
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for range 40 {
				_, err := a.GetToken(context.Background())
				var ae *AuthenticationError
				if !errors.As(err, &ae) || !errors.Is(err, ErrTokenRequestRejected) || ae.ErrorCode != "invalid_client" {
					t.Errorf("error = %v; want the invalid_client rejection", err)
					return
				}
				if ae.HeldOff {
					held.Add(1)
				} else {
					fresh.Add(1)
				}
			}
		}()
	}
	close(start)
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	within(t, done, 20*time.Second, "2,000 calls")
	if n := srv.Requests(cognitotest.EndpointToken); n > 2 {
		t.Errorf("token requests = %d; want at most 2", n)
	}
	if fresh.Load()+held.Load() != 2000 || held.Load() < 2000-50 {
		t.Errorf("%d calls shared the answer and %d were held off; want at most one call per goroutine sharing it", fresh.Load(), held.Load())
	}
}

// The rejection cool-down: 1s, doubling while the rejection repeats, up to a minute; one
// request when each ends; logged once; a success resets it.
func TestRejectionCooldownGrowsAndSuccessResets(t *testing.T) {
	var reject atomic.Bool
	reject.Store(true)
	te := startTokenEndpoint(t, func(n int64, w http.ResponseWriter, r *http.Request) {
		if reject.Load() {
			writeJSONBody(w, http.StatusBadRequest, map[string]string{"error": "invalid_scope"})
			return
		}
		writeToken(w, "token", 60)
	})
	clock := newFakeClock()
	logger, logs := newLogger()
	a, _ := newAuth(t, testConfig(te.TokenURL()), WithClock(clock.Now), WithLogger(logger))
	calls := func(n int) {
		for range n {
			_, _ = a.GetToken(context.Background())
		}
	}
	calls(10)
	want := int64(1)
	for _, cooldown := range []time.Duration{1, 2, 4, 8, 16, 32, 60, 60} {
		cooldown *= time.Second
		clock.Advance(cooldown - time.Millisecond)
		calls(10)
		if n := te.requests.Load(); n != want {
			t.Fatalf("token requests = %d before the cool-down of %v ended; want %d", n, cooldown, want)
		}
		clock.Advance(time.Millisecond)
		calls(10)
		want++
		if n := te.requests.Load(); n != want {
			t.Fatalf("token requests = %d after the cool-down of %v; want %d", n, cooldown, want)
		}
	}
	if n := strings.Count(logs.String(), `"level":"WARN"`); n != 1 {
		t.Errorf("%d warnings for one rejection repeating; want 1:\n%s", n, logs)
	}
	// The client is fixed: the next request, once the cool-down ends, succeeds, and the
	// next rejection starts from a second again.
	reject.Store(false)
	clock.Advance(time.Minute)
	mustToken(t, a)
	if !strings.Contains(logs.String(), "token requests resume") {
		t.Errorf("the recovery was not logged:\n%s", logs)
	}
	reject.Store(true)
	clock.Advance(2 * time.Minute) // the token (60s) has expired
	_, err := a.GetToken(context.Background())
	var ae *AuthenticationError
	if !errors.As(err, &ae) || ae.HeldOff || !ae.RetryAt.Equal(clock.Now().Add(time.Second)) {
		t.Fatalf("GetToken = %v (RetryAt %v); want a fresh rejection and a 1s cool-down", err, ae.RetryAt)
	}
}

// 503 for a minute, a call every 100ms, no cached token: the first fetch makes its 3
// attempts; then one probe when each wait ends: 1s, 2s, 4s, 8s, 16s, 30s, each cut by up
// to a quarter. Whatever the jitter, at most 3 + 6 = 9 requests in the first minute and
// 3 in each later one (30s waits cut to 22.5s at worst); when the endpoint recovers, the
// next probe succeeds and every call is served from the cache at once.
func TestOutageMinuteRequestsBounded(t *testing.T) {
	srv, cfg := startCognito(t, 0)
	clock := newFakeClock()
	a, _ := newAuth(t, cfg, WithClock(clock.Now))
	srv.FailNext(cognitotest.EndpointToken, 10_000, cognitotest.Fault{Status: http.StatusServiceUnavailable})
	minute := func() (requests int64) {
		before := srv.Requests(cognitotest.EndpointToken)
		for range 600 {
			_, err := a.GetToken(context.Background())
			if !errors.Is(err, ErrTokenEndpointUnavailable) {
				t.Fatalf("GetToken = %v; want ErrTokenEndpointUnavailable", err)
			}
			clock.Advance(100 * time.Millisecond)
		}
		return srv.Requests(cognitotest.EndpointToken) - before
	}
	if n := minute(); n > 9 || n < 6 {
		t.Errorf("token requests in the first minute of a 503 = %d; want 6 to 9", n)
	}
	for i := range 2 {
		if n := minute(); n > 3 || n < 2 {
			t.Errorf("token requests in minute %d of a 503 = %d; want 2 or 3", i+2, n)
		}
	}
	srv.ClearFaults()
	// Recovery: the probe due within 30s succeeds.
	var tok *Token
	for range 300 {
		if t, err := a.GetToken(context.Background()); err == nil {
			tok = t
			break
		}
		clock.Advance(100 * time.Millisecond)
	}
	if tok == nil {
		t.Fatal("no token within 30s of the recovery")
	}
	before := srv.Requests(cognitotest.EndpointToken)
	for range 100 {
		if got := mustToken(t, a); got != tok {
			t.Fatal("the token after recovery was not cached")
		}
	}
	if n := srv.Requests(cognitotest.EndpointToken) - before; n != 0 {
		t.Errorf("%d requests after the recovery; want 0", n)
	}
	if a.circuit.probing() {
		t.Error("the circuit is still open after a success")
	}
}

// During an outage a cached token that has not expired is served to every call, and the
// refreshes are bounded as probes are.
func TestOutageServesCachedToken(t *testing.T) {
	srv, cfg := startCognito(t, 0)
	clock := newFakeClock()
	a, _ := newAuth(t, cfg, WithClock(clock.Now))
	cached := mustToken(t, a)
	srv.FailNext(cognitotest.EndpointToken, 10_000, cognitotest.Fault{Status: http.StatusServiceUnavailable})
	clock.Set(cached.ExpiresAt.Add(-10 * time.Minute)) // into the refresh-ahead window
	for clock.Now().Before(cached.ExpiresAt) {
		tok, err := a.GetToken(context.Background())
		if err != nil || tok != cached {
			t.Fatalf("at %v before expiry: GetToken = %v, %v; want the cached token", cached.ExpiresAt.Sub(clock.Now()), tok, err)
		}
		waitFlight(a)
		clock.Advance(100 * time.Millisecond)
	}
	// Ten minutes: one failed refresh (3 attempts), then one request every backoff (5s
	// doubling to a minute, and never before the circuit's probe): at most 3 + 14.
	if n := srv.Requests(cognitotest.EndpointToken); n > 1+3+14 {
		t.Errorf("token requests = %d in 10 minutes of outage; want at most 18", n)
	}
	_, err := a.GetToken(context.Background())
	if !errors.Is(err, ErrTokenEndpointUnavailable) {
		t.Errorf("after expiry: %v; want ErrTokenEndpointUnavailable", err)
	}
}

// 429 with Retry-After: 5 holds everyone off for 5s, however many call.
func TestRetryAfterHonouredForEveryone(t *testing.T) {
	srv, cfg := startCognito(t, 0)
	clock := newFakeClock()
	a, _ := newAuth(t, cfg, WithClock(clock.Now))
	srv.FailNext(cognitotest.EndpointToken, 1000, cognitotest.Fault{Status: http.StatusTooManyRequests,
		Header: http.Header{"Retry-After": {"5"}}})
	step := 100 * time.Millisecond
	for elapsed := time.Duration(0); elapsed < 5*time.Second; elapsed += step {
		var wg sync.WaitGroup
		for range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var ae *AuthenticationError
				if _, err := a.GetToken(context.Background()); !errors.As(err, &ae) || ae.StatusCode != http.StatusTooManyRequests {
					t.Errorf("GetToken = %v; want the 429", err)
				}
			}()
		}
		wg.Wait()
		clock.Advance(step)
	}
	if n := srv.Requests(cognitotest.EndpointToken); n != 1 {
		t.Fatalf("token requests = %d within the Retry-After of 5s; want 1", n)
	}
	srv.ClearFaults()
	mustToken(t, a)
	if n := srv.Requests(cognitotest.EndpointToken); n != 2 {
		t.Errorf("token requests = %d; want 2", n)
	}
}

// The retry budget: while failures outnumber successes, retries stop.
func TestRetryBudget(t *testing.T) {
	b := newRetryBudget(2)
	takes := func(n int) (got int) {
		for range n {
			if b.take() {
				got++
			}
		}
		return got
	}
	if got := takes(3); got != 2 {
		t.Fatalf("a budget of 2 gave %d retries", got)
	}
	b.refund()
	if got := takes(2); got != 1 {
		t.Fatalf("a refund gave back %d retries; want 1", got)
	}
	for range 10 {
		b.refund()
	}
	if b.remaining() != 2 {
		t.Errorf("remaining = %d after refunds; want the capacity, 2", b.remaining())
	}
	if nb := newRetryBudget(-1); nb != nil || !nb.take() {
		t.Error("a negative budget is not unlimited")
	}

	// The endpoint fails twice before each success: each fetch retries twice and
	// succeeds once, a net cost of one retry, so that after 3 fetches one retry is left:
	// the fourth fetch fails after two attempts instead of three.
	te := startTokenEndpoint(t, func(n int64, w http.ResponseWriter, r *http.Request) {
		if n%3 != 0 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		writeToken(w, "token", 60)
	})
	clock := newFakeClock()
	a, _ := newAuth(t, testConfig(te.TokenURL()), WithClock(clock.Now))
	for i := range 3 {
		mustToken(t, a)
		clock.Advance(time.Minute)
		if got, want := a.retry.budget.remaining(), 4-(i+1); got != want {
			t.Fatalf("after fetch %d the budget is %d; want %d", i+1, got, want)
		}
	}
	before := te.requests.Load()
	_, err := a.GetToken(context.Background())
	var ae *AuthenticationError
	if !errors.As(err, &ae) || ae.Attempts != 2 || te.requests.Load()-before != 2 {
		t.Errorf("with one retry left: %v after %d requests; want two attempts", err, te.requests.Load()-before)
	}
	if left := a.retry.budget.remaining(); left != 0 {
		t.Errorf("budget = %d; want 0", left)
	}
}

// A downstream service rejecting every token while the token endpoint rejects the
// client: the Transport's invalidations do not get past the cool-down.
func TestTransportInvalidationRespectsCooldown(t *testing.T) {
	var reject atomic.Bool
	te := startTokenEndpoint(t, func(n int64, w http.ResponseWriter, r *http.Request) {
		if reject.Load() {
			writeJSONBody(w, http.StatusBadRequest, map[string]string{"error": "invalid_client"})
			return
		}
		writeToken(w, "token", 3600)
	})
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusUnauthorized)
	}))
	t.Cleanup(api.Close)
	clock := newFakeClock()
	a, _ := newAuth(t, testConfig(te.TokenURL()), WithClock(clock.Now))
	client := &http.Client{Transport: a.Transport(nil)}
	mustToken(t, a)
	reject.Store(true)
	var rejected int
	for range 100 {
		resp, err := client.Get(api.URL)
		if err != nil {
			if !errors.Is(err, ErrTokenRequestRejected) {
				t.Fatalf("Get = %v", err)
			}
			rejected++
			continue
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		clock.Advance(10 * time.Millisecond)
	}
	if n := te.requests.Load(); n > 3 {
		t.Errorf("token requests = %d; want at most 3 (the token, one rejection, one after the cool-down)", n)
	}
	if rejected < 90 {
		t.Errorf("%d calls failed with the rejection; want nearly all", rejected)
	}
}

// Turned off, the cool-downs and the budget give the old behaviour back: every call asks.
func TestCooldownOff(t *testing.T) {
	srv, cfg := wrongSecret(t)
	a, _ := newAuth(t, cfg, WithCooldown(CooldownPolicy{RejectionFirst: -1, OutageFirst: -1}))
	for range 20 {
		_, err := a.GetToken(context.Background())
		checkRejectionNoCooldown(t, err)
	}
	if n := srv.Requests(cognitotest.EndpointToken); n != 20 {
		t.Errorf("token requests = %d; want 20", n)
	}
}

func checkRejectionNoCooldown(t *testing.T, err error) {
	t.Helper()
	var ae *AuthenticationError
	var cd *Cooldown
	if !errors.As(err, &ae) || ae.HeldOff || !ae.RetryAt.IsZero() || errors.As(err, &cd) {
		t.Fatalf("error = %v; want a fresh rejection with no cool-down", err)
	}
}

// cooldownStore is a CooldownStore that does not coalesce, shared by authenticators in
// one process, on a fake clock.
type cooldownStore struct {
	MemoryStore
	clock *fakeClock
	mu    sync.Mutex
	cds   map[string]cooldownAt
	loads atomic.Int64
}

type cooldownAt struct {
	c     Cooldown
	until time.Time
}

func (s *cooldownStore) LoadCooldown(_ context.Context, key string) (*Cooldown, error) {
	s.loads.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.cds[key]
	if !ok || !s.clock.Now().Before(e.until) {
		return nil, nil
	}
	c := e.c
	c.Remaining = e.until.Sub(s.clock.Now())
	return &c, nil
}

func (s *cooldownStore) StoreCooldown(_ context.Context, key string, c *Cooldown) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cds == nil {
		s.cds = map[string]cooldownAt{}
	}
	s.cds[key] = cooldownAt{c: *c, until: s.clock.Now().Add(c.Remaining)}
	return nil
}

// tokenStoreOnly hides the MemoryStore's Coalesce, so that the authenticator uses Load,
// Store and the cool-down methods.
type tokenStoreOnly struct{ cooldownStore *cooldownStore }

func (s tokenStoreOnly) Load(ctx context.Context, key string) (*Token, error) {
	return s.cooldownStore.Load(ctx, key)
}
func (s tokenStoreOnly) Store(ctx context.Context, key string, t *Token) error {
	return s.cooldownStore.Store(ctx, key, t)
}
func (s tokenStoreOnly) Delete(ctx context.Context, key string, t *Token) error {
	return s.cooldownStore.Delete(ctx, key, t)
}
func (s tokenStoreOnly) LoadCooldown(ctx context.Context, key string) (*Cooldown, error) {
	return s.cooldownStore.LoadCooldown(ctx, key)
}
func (s tokenStoreOnly) StoreCooldown(ctx context.Context, key string, c *Cooldown) error {
	return s.cooldownStore.StoreCooldown(ctx, key, c)
}

// Through a CooldownStore, one authenticator's rejection holds the others off, for what
// is left of the same cool-down, and its streak carries on.
func TestCooldownStoreSharesRejection(t *testing.T) {
	srv, cfg := wrongSecret(t)
	clock := newFakeClock()
	store := tokenStoreOnly{&cooldownStore{clock: clock}}
	var _ CooldownStore = store
	a1, _ := newAuth(t, cfg, WithClock(clock.Now), WithTokenStore(store))
	a2, _ := newAuth(t, cfg, WithClock(clock.Now), WithTokenStore(store))
	_, err := a1.GetToken(context.Background())
	first := checkRejection(t, err, false)
	clock.Advance(300 * time.Millisecond)
	for range 10 {
		_, err = a2.GetToken(context.Background())
		if ae := checkRejection(t, err, true); !ae.RetryAt.Equal(first.RetryAt) {
			t.Errorf("the second authenticator holds off until %v; want %v", ae.RetryAt, first.RetryAt)
		}
	}
	if n := srv.Requests(cognitotest.EndpointToken); n != 1 {
		t.Errorf("token requests = %d; want 1 for both", n)
	}
	if n := store.cooldownStore.loads.Load(); n != 2 {
		t.Errorf("the store was asked for the cool-down %d times; want once by each authenticator, which then holds off on its own", n)
	}
	// The second one probes when the cool-down ends, and its cool-down is the second of
	// the streak: 2s.
	clock.Set(first.RetryAt)
	_, err = a2.GetToken(context.Background())
	if ae := checkRejection(t, err, false); !ae.RetryAt.Equal(first.RetryAt.Add(2 * time.Second)) {
		t.Errorf("RetryAt = %v; want 2s after the first cool-down", ae.RetryAt)
	}
	_, err = a1.GetToken(context.Background())
	checkRejection(t, err, true)
	if n := srv.Requests(cognitotest.EndpointToken); n != 2 {
		t.Errorf("token requests = %d; want 2", n)
	}
}

// Authenticators sharing a MemoryStore share a rejection through its coalesced fetch:
// the one that waited for the other's request holds off as well.
func TestMemoryStoreSharedRejectionHoldsBothOff(t *testing.T) {
	g := startGatedCognito(t, 0)
	cfg := configFor(g.Server, "orders-reader")
	cfg.ClientSecret = "wrong"
	clock := newFakeClock()
	store := NewMemoryStore()
	a1, _ := newAuth(t, cfg, WithClock(clock.Now), WithTokenStore(store))
	a2, _ := newAuth(t, cfg, WithClock(clock.Now), WithTokenStore(store))
	errs := make(chan error, 2)
	go func() { _, err := a1.GetToken(context.Background()); errs <- err }()
	within(t, g.entered, 10*time.Second, "the token request")
	go func() { _, err := a2.GetToken(context.Background()); errs <- err }()
	// a2 joins a1's fetch in the store, or, should it arrive after that fetch ended,
	// makes its own request: at most 2 requests, and then both are held off.
	close(g.release)
	for range 2 {
		checkRejectionFresh(t, within(t, errs, 10*time.Second, "an answer"))
	}
	requests := g.Requests(cognitotest.EndpointToken)
	for _, a := range []*ClientCredentialsAuthenticator{a1, a2} {
		for range 10 {
			_, err := a.GetToken(context.Background())
			checkRejection(t, err, true)
		}
	}
	if n := g.Requests(cognitotest.EndpointToken); n != requests || n > 2 {
		t.Errorf("token requests = %d after %d; want no more, and at most 2", n, requests)
	}
}

func checkRejectionFresh(t *testing.T, err error) {
	t.Helper()
	var ae *AuthenticationError
	if !errors.As(err, &ae) || !errors.Is(err, ErrTokenRequestRejected) {
		t.Fatalf("error = %v; want a rejection", err)
	}
}
