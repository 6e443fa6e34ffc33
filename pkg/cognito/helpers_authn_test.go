package cognito

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cognitokit/cognitokit/internal/flight"
	"github.com/cognitokit/cognitokit/internal/testkit"
	"github.com/cognitokit/cognitokit/pkg/cognitotest"
)

// syncBuffer collects log output written from any goroutine.
type syncBuffer = testkit.LogBuffer

func newLogger() (*slog.Logger, *syncBuffer) { return testkit.NewLogger() }

// sleepLog replaces the retrier's sleep: it records each wait and returns at once, so that
// retry tests take no wall time and can check the waits computed.
type sleepLog struct {
	mu    sync.Mutex
	waits []time.Duration
}

func (s *sleepLog) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.waits = append(s.waits, d)
	s.mu.Unlock()
	return ctx.Err()
}

func (s *sleepLog) Waits() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.waits...)
}

// newAuth builds an authenticator whose retry waits are recorded instead of slept.
func newAuth(t *testing.T, cfg ClientCredentialsConfig, opts ...AuthenticatorOption) (*ClientCredentialsAuthenticator, *sleepLog) {
	t.Helper()
	a, err := NewClientCredentialsAuthenticator(cfg, opts...)
	if err != nil {
		t.Fatalf("NewClientCredentialsAuthenticator: %v", err)
	}
	sl := &sleepLog{}
	a.retry.sleep = sl.sleep
	return a, sl
}

// mustToken calls GetToken and fails the test on error.
func mustToken(t testing.TB, a *ClientCredentialsAuthenticator) *Token {
	t.Helper()
	tok, err := a.GetToken(context.Background())
	if err != nil {
		t.Fatalf("GetToken: %v", err)
	}
	return tok
}

// tokenEndpoint is an httptest token endpoint. By default it issues distinct opaque
// tokens "token-<n>" of ttl seconds; answer replaces that.
type tokenEndpoint struct {
	*httptest.Server
	requests atomic.Int64
	ttl      atomic.Int64
	// answer, when set, writes the n-th answer (1-based) instead.
	answer func(n int64, w http.ResponseWriter, r *http.Request)
}

func startTokenEndpoint(t testing.TB, answer func(n int64, w http.ResponseWriter, r *http.Request)) *tokenEndpoint {
	t.Helper()
	te := &tokenEndpoint{answer: answer}
	te.ttl.Store(3600)
	te.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := te.requests.Add(1)
		if te.answer != nil {
			te.answer(n, w, r)
			return
		}
		writeToken(w, fmt.Sprintf("token-%d", n), te.ttl.Load())
	}))
	t.Cleanup(te.Close)
	return te
}

func (te *tokenEndpoint) TokenURL() string { return te.URL + "/oauth2/token" }

func writeToken(w http.ResponseWriter, token string, ttl int64) {
	writeJSONBody(w, http.StatusOK, map[string]any{"access_token": token, "token_type": "Bearer", "expires_in": ttl})
}

func writeJSONBody(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func testConfig(tokenURL string) ClientCredentialsConfig {
	return ClientCredentialsConfig{ClientID: "test-client", ClientSecret: "s3cr3t-value-never-printed", TokenURL: tokenURL}
}

// startCognito starts a local Cognito with one confidential client of the given access
// token lifetime (0: one hour) and returns it with the client's config.
func startCognito(t testing.TB, ttl time.Duration) (*cognitotest.Server, ClientCredentialsConfig) {
	t.Helper()
	srv := cognitotest.Start(t, cognitoConfig(ttl))
	return srv, configFor(srv, "orders-reader")
}

func cognitoConfig(ttl time.Duration) cognitotest.Config {
	return cognitotest.Config{Pools: []cognitotest.PoolConfig{{
		ID:              "us-east-1_TestPool1",
		ResourceServers: []cognitotest.ResourceServer{{Identifier: "orders", Scopes: []string{"read", "write"}}},
		Clients: []cognitotest.AppClient{
			{ID: "1reader0orders0client00001", Name: "orders-reader", Scopes: []string{"orders/read"}, AccessTokenTTL: ttl},
			{ID: "id:with+reserved/chars%&=", Secret: "secret:with+reserved/chars%&= and space", Name: "reserved",
				Scopes: []string{"orders/read", "orders/write"}, AccessTokenTTL: ttl},
		},
	}}}
}

func configFor(srv *cognitotest.Server, client string) ClientCredentialsConfig {
	c, ok := srv.Client(client)
	if !ok {
		panic("no client " + client)
	}
	return ClientCredentialsConfig{ClientID: c.ID, ClientSecret: c.Secret, TokenURL: srv.TokenURL()}
}

// gatedCognito serves a local Cognito whose token endpoint holds every request until
// release is closed; entered gets a value as each request arrives.
type gatedCognito struct {
	*cognitotest.Server
	URL     string
	entered chan struct{}
	release chan struct{}
}

func startGatedCognito(t testing.TB, ttl time.Duration) *gatedCognito {
	t.Helper()
	hs := httptest.NewUnstartedServer(nil)
	local, err := cognitotest.New("http://"+hs.Listener.Addr().String(), cognitoConfig(ttl))
	if err != nil {
		t.Fatal(err)
	}
	g := &gatedCognito{Server: local, URL: "http://" + hs.Listener.Addr().String(),
		entered: make(chan struct{}, 100), release: make(chan struct{})}
	hs.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/oauth2/token" {
			select {
			case g.entered <- struct{}{}:
			default:
			}
			<-g.release
		}
		local.ServeHTTP(w, r)
	})
	hs.Start()
	t.Cleanup(hs.Close)
	return g
}

// currentFlight returns the fetch in progress, if any.
func currentFlight(a *ClientCredentialsAuthenticator) *flight.Call[*cacheEntry] {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.inflight
}

// waitFlight waits for the fetch in progress, if any. When there is none, it has already
// finished, and its effects happened before currentFlight's lock.
func waitFlight(a *ClientCredentialsAuthenticator) {
	if f := currentFlight(a); f != nil {
		<-f.Done()
	}
}

// within fails the test if ch does not deliver in d: a guard against a hang, never a
// timing assertion.
func within[T any](t testing.TB, ch <-chan T, d time.Duration, what string) T {
	t.Helper()
	return testkit.Within(t, ch, d, what)
}
