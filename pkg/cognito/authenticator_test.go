package cognito

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cognitokit/cognitokit/pkg/cognitotest"
)

func TestNewClientCredentialsAuthenticatorRejectsBadConfig(t *testing.T) {
	good := testConfig("https://example.auth.us-east-1.amazoncognito.com/oauth2/token")
	tests := []struct {
		name   string
		mutate func(*ClientCredentialsConfig)
	}{
		{"empty client ID", func(c *ClientCredentialsConfig) { c.ClientID = "" }},
		{"empty client secret", func(c *ClientCredentialsConfig) { c.ClientSecret = "" }},
		{"empty token URL", func(c *ClientCredentialsConfig) { c.TokenURL = "" }},
		{"relative token URL", func(c *ClientCredentialsConfig) { c.TokenURL = "/oauth2/token" }},
		{"host without scheme", func(c *ClientCredentialsConfig) { c.TokenURL = "example.com/oauth2/token" }},
		{"ftp token URL", func(c *ClientCredentialsConfig) { c.TokenURL = "ftp://example.com/oauth2/token" }},
		{"no host", func(c *ClientCredentialsConfig) { c.TokenURL = "https:///oauth2/token" }},
		{"unparsable token URL", func(c *ClientCredentialsConfig) { c.TokenURL = "https://exa mple.com/%zz" }},
		{"credentials in token URL", func(c *ClientCredentialsConfig) { c.TokenURL = "https://user:hunter2@example.com/oauth2/token" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := good
			tt.mutate(&cfg)
			a, err := NewClientCredentialsAuthenticator(cfg)
			if err == nil || a != nil {
				t.Fatalf("NewClientCredentialsAuthenticator = %v, %v; want an error", a, err)
			}
			if !errors.Is(err, ErrInvalidConfig) {
				t.Errorf("error %q does not match ErrInvalidConfig", err)
			}
			if !strings.HasPrefix(err.Error(), "cognito: ") {
				t.Errorf("error %q does not start with cognito:", err)
			}
			for _, secret := range []string{good.ClientSecret, "hunter2"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error %q contains a secret", err)
				}
			}
		})
	}
	for _, u := range []string{"http://127.0.0.1:9229/oauth2/token", "HTTPS://Example.com/oauth2/token", "https://example.com/token?x=1"} {
		cfg := good
		cfg.TokenURL = u
		if _, err := NewClientCredentialsAuthenticator(cfg); err != nil {
			t.Errorf("token URL %q refused: %v", u, err)
		}
	}
}

func TestClientCredentialsConfigFromEnv(t *testing.T) {
	for _, name := range []string{"COGNITO_CLIENT_ID", "COGNITO_CLIENT_SECRET", "COGNITO_DOMAIN", "COGNITO_TOKEN_URL", "COGNITO_SCOPE"} {
		t.Setenv(name, "")
	}
	t.Run("domain", func(t *testing.T) {
		t.Setenv("COGNITO_CLIENT_ID", "abc")
		t.Setenv("COGNITO_CLIENT_SECRET", "env-secret")
		t.Setenv("COGNITO_DOMAIN", "my-app.auth.eu-west-1.amazoncognito.com")
		t.Setenv("COGNITO_SCOPE", " orders/read orders/write ")
		cfg, err := ClientCredentialsConfigFromEnv()
		if err != nil {
			t.Fatal(err)
		}
		want := ClientCredentialsConfig{ClientID: "abc", ClientSecret: "env-secret",
			TokenURL: "https://my-app.auth.eu-west-1.amazoncognito.com/oauth2/token", Scope: "orders/read orders/write"}
		if cfg != want {
			t.Errorf("config = %#v; want %#v", cfg, want)
		}
		if _, err := NewClientCredentialsAuthenticator(cfg); err != nil {
			t.Errorf("config from env refused: %v", err)
		}
	})
	t.Run("domain given as URL", func(t *testing.T) {
		t.Setenv("COGNITO_CLIENT_ID", "abc")
		t.Setenv("COGNITO_CLIENT_SECRET", "env-secret")
		t.Setenv("COGNITO_DOMAIN", "https://auth.example.com/")
		cfg, err := ClientCredentialsConfigFromEnv()
		if err != nil || cfg.TokenURL != "https://auth.example.com/oauth2/token" {
			t.Errorf("TokenURL = %q, %v", cfg.TokenURL, err)
		}
	})
	t.Run("explicit token URL wins", func(t *testing.T) {
		t.Setenv("COGNITO_CLIENT_ID", "abc")
		t.Setenv("COGNITO_CLIENT_SECRET", "env-secret")
		t.Setenv("COGNITO_DOMAIN", "ignored.example.com")
		t.Setenv("COGNITO_TOKEN_URL", "http://127.0.0.1:9229/oauth2/token")
		cfg, err := ClientCredentialsConfigFromEnv()
		if err != nil || cfg.TokenURL != "http://127.0.0.1:9229/oauth2/token" {
			t.Errorf("TokenURL = %q, %v", cfg.TokenURL, err)
		}
	})
	t.Run("missing", func(t *testing.T) {
		t.Setenv("COGNITO_CLIENT_SECRET", "env-secret")
		_, err := ClientCredentialsConfigFromEnv()
		if !errors.Is(err, ErrInvalidConfig) {
			t.Fatalf("error = %v; want ErrInvalidConfig", err)
		}
		for _, name := range []string{"COGNITO_CLIENT_ID", "COGNITO_TOKEN_URL or COGNITO_DOMAIN"} {
			if !strings.Contains(err.Error(), name) {
				t.Errorf("error %q does not name %s", err, name)
			}
		}
		if strings.Contains(err.Error(), "COGNITO_CLIENT_SECRET") || strings.Contains(err.Error(), "env-secret") {
			t.Errorf("error %q names a variable that is set, or its value", err)
		}
	})
}

// recordedRequest is what a token endpoint received.
type recordedRequest struct {
	method, path, rawQuery, contentType, authorization, body string
	form                                                     url.Values
}

func startRecordingEndpoint(t *testing.T) (*tokenEndpoint, <-chan recordedRequest) {
	got := make(chan recordedRequest, 10)
	te := startTokenEndpoint(t, func(n int64, w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		form, _ := url.ParseQuery(string(body))
		got <- recordedRequest{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Get("Content-Type"),
			r.Header.Get("Authorization"), string(body), form}
		writeToken(w, fmt.Sprintf("token-%d", n), 3600)
	})
	return te, got
}

func TestTokenRequestShape(t *testing.T) {
	const id, secret = "id:+/%&= x", "se:cr+et/%&=?#é"
	// RFC 6749 §2.3.1: each part form-urlencoded, then HTTP Basic.
	wantAuth := "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret)))
	tests := []struct {
		name, scope, wantBody string
	}{
		{"no scope", "", "grant_type=client_credentials"},
		{"scopes", "orders/read https://api.example.com/orders.write", "grant_type=client_credentials&scope=orders%2Fread+https%3A%2F%2Fapi.example.com%2Forders.write"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			te, got := startRecordingEndpoint(t)
			a, _ := newAuth(t, ClientCredentialsConfig{ClientID: id, ClientSecret: secret, TokenURL: te.TokenURL(), Scope: tt.scope})
			tok := mustToken(t, a)
			r := <-got
			if r.method != http.MethodPost || r.path != "/oauth2/token" || r.rawQuery != "" {
				t.Errorf("request = %s %s?%s; want POST /oauth2/token", r.method, r.path, r.rawQuery)
			}
			if r.contentType != "application/x-www-form-urlencoded" {
				t.Errorf("Content-Type = %q", r.contentType)
			}
			if r.authorization != wantAuth {
				t.Errorf("Authorization = %q; want %q", r.authorization, wantAuth)
			}
			req := &http.Request{Header: http.Header{"Authorization": {r.authorization}}}
			gotID, gotSecret, ok := req.BasicAuth()
			if uid, _ := url.QueryUnescape(gotID); !ok || uid != id {
				t.Errorf("Basic user decodes to %q; want %q", uid, id)
			}
			if usecret, _ := url.QueryUnescape(gotSecret); usecret != secret {
				t.Errorf("Basic password does not decode to the secret")
			}
			if r.body != tt.wantBody {
				t.Errorf("body = %q; want %q", r.body, tt.wantBody)
			}
			if _, has := r.form["scope"]; has != (tt.scope != "") || r.form.Get("scope") != tt.scope {
				t.Errorf("form scope = %q (present %v); want %q", r.form.Get("scope"), has, tt.scope)
			}
			if _, has := r.form["client_secret"]; has {
				t.Error("secret sent in the body as well")
			}
			if tok.Token != "token-1" || tok.TokenType != "Bearer" || tok.Scope != tt.scope {
				t.Errorf("token = %v", tok)
			}
		})
	}
}

func TestGetTokenFromLocalCognito(t *testing.T) {
	clock := newFakeClock()
	srv, _ := startCognito(t, 0)
	// The client whose ID and secret hold ":+/%&=" and a space: the local Cognito decodes
	// Basic credentials per RFC 6749 §2.3.1 and refuses anything else.
	cfg := configFor(srv, "reserved")
	cfg.Scope = "orders/write"
	a, _ := newAuth(t, cfg, WithClock(clock.Now))
	tok := mustToken(t, a)
	if tok.TokenType != "Bearer" || tok.Scope != "orders/write" || strings.Count(tok.Token, ".") != 2 {
		t.Errorf("token = %v", tok)
	}
	if want := clock.Now().Add(time.Hour); !tok.ExpiresAt.Equal(want) {
		t.Errorf("ExpiresAt = %v; want %v", tok.ExpiresAt, want)
	}
	if got, want := tok.ExpiresAtISO(), "2026-05-01T13:00:00Z"; got != want {
		t.Errorf("ExpiresAtISO = %q; want %q", got, want)
	}
	if !tok.IssuedAt.Equal(clock.Now()) {
		t.Errorf("IssuedAt = %v; want %v", tok.IssuedAt, clock.Now())
	}
}

func TestTokenURLWithPathPrefix(t *testing.T) {
	t.Run("prefix before /oauth2/token", func(t *testing.T) {
		hs := httptest.NewUnstartedServer(nil)
		base := "http://" + hs.Listener.Addr().String()
		local, err := cognitotest.New(base, cognitoConfig(0))
		if err != nil {
			t.Fatal(err)
		}
		hs.Config.Handler = http.StripPrefix("/tenant-a", local)
		hs.Start()
		t.Cleanup(hs.Close)
		cfg := configFor(local, "orders-reader")
		cfg.TokenURL = base + "/tenant-a/oauth2/token"
		a, _ := newAuth(t, cfg)
		if a.tokenURL != nil {
			t.Error("the generated client's own URL was not used for a prefixed token URL")
		}
		mustToken(t, a)
		if n := local.Requests(cognitotest.EndpointToken); n != 1 {
			t.Errorf("token requests = %d; want 1", n)
		}
	})
	for _, tt := range []struct{ path, query string }{
		{"/custom/token", "tenant=a&x=%2F"},
		{"/oauth2/token", "v=2"},
		{"/a%2Fb/oauth2/token", ""},
	} {
		t.Run(tt.path+"?"+tt.query, func(t *testing.T) {
			te, got := startRecordingEndpoint(t)
			u := te.URL + tt.path
			if tt.query != "" {
				u += "?" + tt.query
			}
			a, _ := newAuth(t, testConfig(u))
			mustToken(t, a)
			r := <-got
			if r.path != strings.ReplaceAll(tt.path, "%2F", "/") || r.rawQuery != tt.query || r.method != http.MethodPost {
				t.Errorf("request = %s %s?%s; want POST %s?%s", r.method, r.path, r.rawQuery, tt.path, tt.query)
			}
		})
	}
}

func TestGetHeadersHasOnlyAuthorization(t *testing.T) {
	te := startTokenEndpoint(t, nil)
	a, _ := newAuth(t, testConfig(te.TokenURL()))
	h, err := a.GetHeaders(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != 1 || h.Get("Authorization") != "Bearer token-1" {
		t.Errorf("headers = %v; want only Authorization: Bearer token-1", h)
	}
	te.Close()
	a.Invalidate()
	if h, err := a.GetHeaders(context.Background()); err == nil || h != nil {
		t.Errorf("GetHeaders with the endpoint down = %v, %v; want an error", h, err)
	}
}

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

func testColdCache(t *testing.T, opts ...Option) {
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
				opts := []Option{WithClock(clock.Now)}
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
	<-f.done
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
	// The next tries come after a backoff of 5s, then 10s, not on every call.
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
		wantRequests += 3
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

func TestRetriesThenSucceeds(t *testing.T) {
	srv, cfg := startCognito(t, 0)
	srv.FailNext(cognitotest.EndpointToken, 2, cognitotest.Fault{Status: http.StatusServiceUnavailable, Body: "busy"})
	a, sleeps := newAuth(t, cfg)
	mustToken(t, a)
	if n := srv.Requests(cognitotest.EndpointToken); n != 3 {
		t.Errorf("token requests = %d; want 3", n)
	}
	waits := sleeps.Waits()
	if len(waits) != 2 {
		t.Fatalf("waits = %v; want 2", waits)
	}
	// Full jitter: the n-th wait is at most 100ms·2^(n-1).
	for i, w := range waits {
		if ceiling := 100 * time.Millisecond << i; w < 0 || w > ceiling {
			t.Errorf("wait %d = %v; want within [0, %v]", i+1, w, ceiling)
		}
	}
}

func TestRetryAfterIsHonoured(t *testing.T) {
	clock := newFakeClock()
	tests := []struct {
		name, retryAfter string
		want             time.Duration
	}{
		{"seconds", "1", time.Second},
		{"HTTP date", clock.Now().Add(1500 * time.Millisecond).Format(http.TimeFormat), time.Second}, // whole seconds
		{"capped at MaxDelay", "30", 2 * time.Second},
	}
	srv, cfg := startCognito(t, 0)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := srv.Requests(cognitotest.EndpointToken)
			srv.FailNext(cognitotest.EndpointToken, 1, cognitotest.Fault{Status: http.StatusTooManyRequests,
				Header: http.Header{"Retry-After": {tt.retryAfter}}})
			t.Cleanup(srv.ClearFaults)
			a, sleeps := newAuth(t, cfg, WithClock(clock.Now), WithRetry(RetryPolicy{BaseDelay: time.Nanosecond}))
			mustToken(t, a)
			if waits := sleeps.Waits(); len(waits) != 1 || waits[0] != tt.want {
				t.Errorf("waits = %v; want [%v]", waits, tt.want)
			}
			if n := srv.Requests(cognitotest.EndpointToken) - before; n != 2 {
				t.Errorf("token requests = %d; want 2", n)
			}
		})
	}
}

func TestRejectedRequestIsNotRetried(t *testing.T) {
	srv, cfg := startCognito(t, 0)
	cfg.ClientSecret = "wrong-secret"
	logger, logs := newLogger()
	a, sleeps := newAuth(t, cfg, WithLogger(logger))
	_, err := a.GetToken(context.Background())
	var ae *AuthenticationError
	if !errors.As(err, &ae) {
		t.Fatalf("error %v is not an *AuthenticationError", err)
	}
	if ae.ErrorCode != "invalid_client" || ae.StatusCode != http.StatusBadRequest || ae.Attempts != 1 {
		t.Errorf("error = %+v; want invalid_client, 400, 1 attempt", *ae)
	}
	if !errors.Is(err, ErrTokenRequestRejected) || ReasonCode(err) != "token_request_rejected" {
		t.Errorf("error %v does not match ErrTokenRequestRejected", err)
	}
	if want := `cognito: token request was rejected: "invalid_client" ("Client authentication failed."), HTTP 400`; err.Error() != want {
		t.Errorf("error text = %q; want %q", err, want)
	}
	if n := srv.Requests(cognitotest.EndpointToken); n != 1 {
		t.Errorf("token requests = %d; want 1", n)
	}
	if len(sleeps.Waits()) != 0 {
		t.Errorf("waited %v before giving up", sleeps.Waits())
	}
	if strings.Contains(logs.String(), "wrong-secret") {
		t.Error("the secret was logged")
	}
}

func TestOtherStatusesAndNetworkErrors(t *testing.T) {
	tests := []struct {
		name     string
		status   int
		body     string
		header   http.Header
		reason   error
		attempts int
		code     string
	}{
		{"401", http.StatusUnauthorized, `{"error":"invalid_client"}`, nil, ErrTokenRequestRejected, 1, "invalid_client"},
		{"403 HTML", http.StatusForbidden, "<html>forbidden</html>", nil, ErrTokenRequestRejected, 1, ""},
		{"400 garbled JSON", http.StatusBadRequest, `{"error":`, http.Header{"Content-Type": {"application/json"}}, ErrTokenRequestRejected, 1, ""},
		{"500", http.StatusInternalServerError, "oops", nil, ErrTokenEndpointUnavailable, 3, ""},
		{"503 with OAuth body", http.StatusServiceUnavailable, `{"error":"temporarily_unavailable"}`, nil, ErrTokenEndpointUnavailable, 3, "temporarily_unavailable"},
		{"429", http.StatusTooManyRequests, "", nil, ErrTokenEndpointUnavailable, 3, ""},
		{"302", http.StatusFound, "", http.Header{"Location": {"/login"}}, ErrInvalidTokenResponse, 1, ""},
		{"204", http.StatusNoContent, "", nil, ErrInvalidTokenResponse, 1, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			te := startTokenEndpoint(t, func(n int64, w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/login" {
					_, _ = io.WriteString(w, "<html>login</html>")
					return
				}
				for k, v := range tt.header {
					w.Header()[k] = v
				}
				w.WriteHeader(tt.status)
				_, _ = io.WriteString(w, tt.body)
			})
			a, _ := newAuth(t, testConfig(te.TokenURL()))
			_, err := a.GetToken(context.Background())
			var ae *AuthenticationError
			if !errors.As(err, &ae) || !errors.Is(err, tt.reason) {
				t.Fatalf("error = %v; want an *AuthenticationError matching %v", err, tt.reason)
			}
			if ae.Attempts != tt.attempts || ae.ErrorCode != tt.code {
				t.Errorf("error = %+v; want %d attempts, code %q", *ae, tt.attempts, tt.code)
			}
			if tt.status != http.StatusFound && int(te.requests.Load()) != tt.attempts {
				t.Errorf("requests = %d; want %d", te.requests.Load(), tt.attempts)
			}
		})
	}
	t.Run("connection refused", func(t *testing.T) {
		te := startTokenEndpoint(t, nil)
		te.Close()
		a, sleeps := newAuth(t, testConfig(te.TokenURL()))
		_, err := a.GetToken(context.Background())
		var ae *AuthenticationError
		if !errors.As(err, &ae) || !errors.Is(err, ErrTokenEndpointUnavailable) || ae.Attempts != 3 || ae.StatusCode != 0 || ae.Err == nil {
			t.Fatalf("error = %v; want endpoint unavailable after 3 attempts with the network error", err)
		}
		if len(sleeps.Waits()) != 2 {
			t.Errorf("waits = %v; want 2", sleeps.Waits())
		}
	})
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
		if !errors.As(err, &ae) || !errors.Is(err, ErrTokenEndpointUnavailable) || ae.StatusCode != 503 || ae.Attempts != 3 {
			t.Errorf("after expiry: %v; want endpoint unavailable", err)
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

func TestInvalidate(t *testing.T) {
	te := startTokenEndpoint(t, nil)
	store := NewMemoryStore()
	a, _ := newAuth(t, testConfig(te.TokenURL()), WithTokenStore(store))
	a.Invalidate() // nothing cached: no effect
	first := mustToken(t, a)
	if stored, _ := store.Load(context.Background(), a.key); stored != first {
		t.Fatal("the token was not stored")
	}
	a.Invalidate()
	if stored, _ := store.Load(context.Background(), a.key); stored != nil {
		t.Error("Invalidate left the token in the store")
	}
	second := mustToken(t, a)
	if second.Token == first.Token || te.requests.Load() != 2 {
		t.Errorf("after Invalidate got %v with %d requests; want a new token", second, te.requests.Load())
	}
}

func TestContextDeadlineDuringRetries(t *testing.T) {
	te := startTokenEndpoint(t, func(n int64, w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	a, _ := newAuth(t, testConfig(te.TokenURL()))
	stop := make(chan struct{})
	waits := make(chan time.Duration, 10)
	a.retry.sleep = func(ctx context.Context, d time.Duration) error {
		waits <- d
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-stop:
			return errors.New("test over")
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := a.GetToken(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error = %v; want the caller's deadline", err)
	}
	if d := within(t, waits, 10*time.Second, "the retry wait"); d != time.Second {
		t.Errorf("wait = %v; want the Retry-After of 1s", d)
	}
	f := currentFlight(a)
	close(stop)
	if f != nil {
		<-f.done
	}
}

// BenchmarkGetTokenCached measures GetToken on a fresh cached token: an atomic load and a
// clock reading, no lock, no allocation.
func BenchmarkGetTokenCached(b *testing.B) {
	a := benchAuthenticator(b)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := a.GetToken(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGetTokenCachedParallel is the same from GOMAXPROCS goroutines: the hit path
// writes no shared memory, so it stays flat.
func BenchmarkGetTokenCachedParallel(b *testing.B) {
	a := benchAuthenticator(b)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := a.GetToken(ctx); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func benchAuthenticator(b *testing.B) *ClientCredentialsAuthenticator {
	te := startTokenEndpoint(b, nil)
	a, err := NewClientCredentialsAuthenticator(testConfig(te.TokenURL()))
	if err != nil {
		b.Fatal(err)
	}
	mustToken(b, a)
	return a
}
