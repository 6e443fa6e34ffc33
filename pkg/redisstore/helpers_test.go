package redisstore_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cognitokit/cognitokit/internal/testkit"
	"github.com/cognitokit/cognitokit/pkg/cognito"
	"github.com/cognitokit/cognitokit/pkg/cognitotest"
	"github.com/cognitokit/cognitokit/pkg/redisstore"
)

// t0 is the fake "now" tests start at.
var t0 = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

// fakeClock is a clock the test moves by hand.
type fakeClock = testkit.Clock

func newFakeClock() *fakeClock { return testkit.NewClock(t0) }

// cmdCounter is a go-redis hook counting the commands (each one round trip: the store
// sends no pipelines) a client sends.
type cmdCounter struct {
	n     atomic.Int64
	mu    sync.Mutex
	names []string
}

func (c *cmdCounter) DialHook(next redis.DialHook) redis.DialHook { return next }

func (c *cmdCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		c.n.Add(1)
		c.mu.Lock()
		c.names = append(c.names, cmd.Name())
		c.mu.Unlock()
		return next(ctx, cmd)
	}
}

func (c *cmdCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		c.n.Add(1)
		return next(ctx, cmds)
	}
}

func (c *cmdCounter) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n.Store(0)
	c.names = nil
}

func (c *cmdCounter) commands() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.names...)
}

// instance stands in for one process of a fleet: its own HTTP client, its own go-redis
// client, its own store and authenticator.
type instance struct {
	auth   *cognito.ClientCredentialsAuthenticator
	store  *redisstore.Store
	client redis.UniversalClient // what the store uses
	rdb    *redis.Client         // the same, for a single-server instance
	cmds   *cmdCounter
	http   *http.Client
}

func newInstance(t testing.TB, addr string, cfg cognito.ClientCredentialsConfig, storeOpts []redisstore.Option, authOpts ...cognito.AuthenticatorOption) *instance {
	t.Helper()
	cmds := &cmdCounter{}
	rdb := newClient(t, addr, cmds)
	cmds.reset()
	in := newInstanceOn(t, rdb, cfg, storeOpts, authOpts...)
	in.rdb, in.cmds = rdb, cmds
	return in
}

// newInstanceOn is an instance whose store uses client: a Cluster or Sentinel client.
func newInstanceOn(t testing.TB, client redis.UniversalClient, cfg cognito.ClientCredentialsConfig, storeOpts []redisstore.Option, authOpts ...cognito.AuthenticatorOption) *instance {
	t.Helper()
	in := &instance{client: client}
	var err error
	if in.store, err = redisstore.New(client, append(patient(), storeOpts...)...); err != nil {
		t.Fatal(err)
	}
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	in.http = &http.Client{Transport: tr, Timeout: 10 * time.Second}
	opts := append([]cognito.AuthenticatorOption{cognito.WithHTTPClient(in.http), cognito.WithTokenStore(in.store)}, authOpts...)
	if in.auth, err = cognito.NewClientCredentialsAuthenticator(cfg, opts...); err != nil {
		t.Fatal(err)
	}
	return in
}

// patient are store options for tests on a loaded machine (the race detector, thousands
// of goroutines, two cores): Redis calls and waits that take long are not what most tests
// are about, and falling back would change the number of token requests they count.
// Tests of timeouts set their own, after these.
func patient() []redisstore.Option {
	return []redisstore.Option{redisstore.WithTimeout(10 * time.Second), redisstore.WithMaxWait(time.Minute)}
}

func newFleet(t testing.TB, n int, addr string, cfg cognito.ClientCredentialsConfig, storeOpts []redisstore.Option, authOpts ...cognito.AuthenticatorOption) []*instance {
	t.Helper()
	fleet := make([]*instance, n)
	for i := range fleet {
		fleet[i] = newInstance(t, addr, cfg, storeOpts, authOpts...)
	}
	return fleet
}

// getAll calls GetToken on every instance at once, perInstance goroutines each, and
// returns the token every call got; it fails the test if they differ or any call fails.
func getAll(t testing.TB, fleet []*instance, perInstance int) string {
	t.Helper()
	var wg sync.WaitGroup
	var mu sync.Mutex
	seen := map[string]int{}
	start := make(chan struct{})
	for _, in := range fleet {
		for range perInstance {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				tok, err := in.auth.GetToken(ctx)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				seen[tok.Token]++
				mu.Unlock()
			}()
		}
	}
	close(start)
	wg.Wait()
	if len(seen) != 1 {
		t.Fatalf("the fleet got %d different tokens; want 1", len(seen))
	}
	for tok := range seen {
		return tok
	}
	return ""
}

// eachToken calls GetToken on every instance at once, once each, and returns the tokens
// in the fleet's order.
func eachToken(t testing.TB, fleet []*instance) []string {
	t.Helper()
	out := make([]string, len(fleet))
	var wg sync.WaitGroup
	for i, in := range fleet {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			tok, err := in.auth.GetToken(ctx)
			if err != nil {
				t.Errorf("instance %d: %v", i, err)
				return
			}
			out[i] = tok.Token
		}()
	}
	wg.Wait()
	return out
}

// startCognito serves a local Cognito with its "orders-reader" client and returns the
// client's config. The server reads each request's body before answering, so that a
// stalled answer (StallNext) ends as soon as the client goes away.
func startCognito(t testing.TB, clock func() time.Time) (*cognitotest.Server, cognito.ClientCredentialsConfig) {
	t.Helper()
	c := cognitotest.DefaultConfig()
	c.Clock = clock
	hs := httptest.NewUnstartedServer(nil)
	srv, err := cognitotest.New("http://"+hs.Listener.Addr().String(), c)
	if err != nil {
		t.Fatal(err)
	}
	hs.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		srv.ServeHTTP(w, r)
	})
	hs.Start()
	t.Cleanup(hs.Close)
	client, _ := srv.Client("orders-reader")
	return srv, cognito.ClientCredentialsConfig{ClientID: client.ID, ClientSecret: client.Secret,
		TokenURL: srv.TokenURL(), Scope: "orders/read"}
}

// eventually waits until cond holds: a guard against a hang, never a timing assertion.
// cond reads counters the code under test moves.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s did not happen within 20s", what)
		}
		<-tick.C
	}
}

// within fails the test if ch does not deliver in d: a guard against a hang, never a
// timing assertion.
func within[T any](t testing.TB, ch <-chan T, d time.Duration, what string) T {
	t.Helper()
	return testkit.Within(t, ch, d, what)
}

// connRecorder dials for an http.Transport and keeps the connections, so that a test can
// cut them as a crash of the process would.
type connRecorder struct {
	mu    sync.Mutex
	conns []net.Conn
	d     net.Dialer
}

func (r *connRecorder) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := r.d.DialContext(ctx, network, addr)
	if err == nil {
		r.mu.Lock()
		r.conns = append(r.conns, c)
		r.mu.Unlock()
	}
	return c, err
}

func (r *connRecorder) cutAll() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range r.conns {
		_ = c.Close()
	}
}

func sumStats(fleet []*instance) redisstore.Stats {
	var s redisstore.Stats
	for _, in := range fleet {
		x := in.store.Stats()
		s.Hits += x.Hits
		s.Misses += x.Misses
		s.Stores += x.Stores
		s.Locks += x.Locks
		s.LockWaits += x.LockWaits
		s.Shared += x.Shared
		s.Fallbacks += x.Fallbacks
		s.LostLocks += x.LostLocks
		s.HeldOff += x.HeldOff
		s.Cooldowns += x.Cooldowns
	}
	return s
}

// syncBuffer collects log output written from any goroutine.
type syncBuffer = testkit.LogBuffer

func newLogger() (*slog.Logger, *syncBuffer) { return testkit.NewLogger() }
