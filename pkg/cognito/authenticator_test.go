package cognito

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
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
		// The Basic credential would cross the network in clear.
		{"plain http to a remote host", func(c *ClientCredentialsConfig) {
			c.TokenURL = "http://example.auth.us-east-1.amazoncognito.com/oauth2/token"
		}},
		{"plain http to a private address", func(c *ClientCredentialsConfig) { c.TokenURL = "http://10.0.0.8:9229/oauth2/token" }},
		{"plain http to a name ending in localhost", func(c *ClientCredentialsConfig) { c.TokenURL = "http://localhost.example.com/oauth2/token" }},
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
	for _, u := range []string{"http://127.0.0.1:9229/oauth2/token", "http://localhost:9229/oauth2/token", "http://[::1]:9229/oauth2/token",
		"HTTPS://Example.com/oauth2/token", "https://example.com/token?x=1"} {
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

// TestTokenRequestFollowsNoRedirect: a redirected token request would carry the Basic
// credential to wherever the redirect points; a token endpoint never redirects, so a 3xx
// is an invalid answer and nothing is sent again.
func TestTokenRequestFollowsNoRedirect(t *testing.T) {
	var redirected atomic.Int64
	te := startTokenEndpoint(t, func(n int64, w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/elsewhere" {
			redirected.Add(1)
			writeToken(w, "token-elsewhere", 3600)
			return
		}
		http.Redirect(w, r, "/elsewhere", http.StatusTemporaryRedirect)
	})
	a, _ := newAuth(t, testConfig(te.TokenURL()))
	_, err := a.GetToken(t.Context())
	var ae *AuthenticationError
	if !errors.As(err, &ae) || !errors.Is(err, ErrInvalidTokenResponse) || ae.StatusCode != http.StatusTemporaryRedirect {
		t.Fatalf("GetToken = %v; want ErrInvalidTokenResponse with status 307", err)
	}
	if n := redirected.Load(); n != 0 {
		t.Errorf("the redirect was followed %d times", n)
	}
}
