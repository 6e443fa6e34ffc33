package policy_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cognitokit/cognitokit/internal/testkit"
	"github.com/cognitokit/cognitokit/pkg/cognito"
	"github.com/cognitokit/cognitokit/pkg/cognitotest"
	"github.com/cognitokit/cognitokit/pkg/policy"
)

// stack is a service protected by testdata/routes.yaml, verifying tokens of a local
// Cognito with a real JWTAuthorizer.
type stack struct {
	cognito *cognitotest.Server
	api     *httptest.Server
	logs    *testkit.LogBuffer
}

func newStack(t *testing.T) *stack {
	t.Helper()
	cfg := cognitotest.DefaultConfig()
	cfg.Pools[0].Clients = append(cfg.Pools[0].Clients, cognitotest.AppClient{
		ID: deleterClient, Name: "deleter", Scopes: []string{"orders/admin"},
	})
	idp := cognitotest.Start(t, cfg)
	pool := cfg.Pools[0].ID
	authz, err := cognito.NewJWTAuthorizer(cognito.JWTAuthorizerConfig{
		UserPoolID: pool, AllowAnyClient: true, TokenUse: cognito.TokenUseAny,
	}, cognito.WithEndpoint(idp.BaseURL()))
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	for _, pattern := range loadExample(t).Routes() {
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			c, ok := policy.ClaimsFromContext(r.Context())
			sub := "-"
			if ok {
				sub = c.Sub
			}
			w.Header().Set("X-Sub", sub)
			io.WriteString(w, "ok")
		})
	}
	logger, logs := testkit.NewLogger()
	h := policy.Middleware(loadExample(t), authz, policy.WithRealm("orders"), policy.WithLogger(logger))(mux)
	api := httptest.NewServer(h)
	t.Cleanup(api.Close)
	return &stack{cognito: idp, api: api, logs: logs}
}

func (s *stack) mint(t *testing.T, o cognitotest.TokenOptions) string {
	t.Helper()
	tok, err := s.cognito.MintAccessToken(o)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

type answer struct {
	status    int
	challenge string
	problem   map[string]any
	sub       string
	raw       string
}

func (s *stack) call(t *testing.T, method, path, authorization string) answer {
	t.Helper()
	req, err := http.NewRequest(method, s.api.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	resp, err := s.api.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode, challenge: resp.Header.Get("WWW-Authenticate"), sub: resp.Header.Get("X-Sub"), raw: string(body)}
	if ct := resp.Header.Get("Content-Type"); ct == "application/problem+json" {
		if err := json.Unmarshal(body, &a.problem); err != nil {
			t.Fatalf("problem body: %v", err)
		}
	} else if resp.StatusCode >= 400 {
		t.Errorf("%s %s: status %d with Content-Type %q; want application/problem+json", method, path, resp.StatusCode, ct)
	}
	return a
}

func TestMiddlewareAnswers(t *testing.T) {
	s := newStack(t)
	reader := s.mint(t, cognitotest.TokenOptions{Client: "orders-reader"})
	writer := s.mint(t, cognitotest.TokenOptions{Client: "orders-writer"})
	alice := s.mint(t, cognitotest.TokenOptions{Client: "orders-writer", Username: "alice", Scopes: []string{"orders/write"}})
	bob := s.mint(t, cognitotest.TokenOptions{Client: "orders-writer", Username: "bob", Scopes: []string{"orders/write"}})
	expired := s.mint(t, cognitotest.TokenOptions{IssuedAt: time.Now().Add(-3 * time.Hour)})
	aliceTenant := s.mint(t, cognitotest.TokenOptions{Username: "alice", Claims: map[string]any{"custom:tenant": "acme"}})
	idAlice, err := s.cognito.MintIDToken(cognitotest.TokenOptions{Username: "alice", Client: deleterClient,
		Claims: map[string]any{"custom:org": "acme"}})
	if err != nil {
		t.Fatal(err)
	}
	forged := reader[:strings.LastIndexByte(reader, '.')+1] + strings.Repeat("A", 342)

	tests := []struct {
		name          string
		method, path  string
		authorization string
		wantStatus    int
		wantChallenge string // prefix; "" means no header
		wantCode      string
	}{
		{"public route, no token", "GET", "/healthz", "", 200, "", ""},
		{"public route ignores a bad token", "GET", "/healthz", "Bearer garbage", 200, "", ""},
		{"no token", "GET", "/me", "", 401, `Bearer realm="orders"`, "authentication_required"},
		{"basic scheme", "GET", "/me", "Basic dXNlcjpwYXNz", 401, `Bearer realm="orders"`, "authentication_required"},
		{"bearer without token", "GET", "/me", "Bearer", 401, `Bearer realm="orders"`, "authentication_required"},
		{"bearer with two spaces", "GET", "/me", "Bearer  " + reader, 401, `Bearer realm="orders"`, "authentication_required"},
		{"bearer with extra part", "GET", "/me", "Bearer " + reader + " extra", 401, `Bearer realm="orders"`, "authentication_required"},
		{"scheme is case-insensitive", "GET", "/me", "bEaReR " + reader, 200, "", ""},
		{"garbage token", "GET", "/me", "Bearer not.a.jwt", 401, `Bearer realm="orders", error="invalid_token", error_description="malformed_token"`, "invalid_token"},
		{"expired token", "GET", "/me", "Bearer " + expired, 401, `Bearer realm="orders", error="invalid_token", error_description="expired"`, "invalid_token"},
		{"forged signature", "GET", "/me", "Bearer " + forged, 401, `Bearer realm="orders", error="invalid_token", error_description="invalid_signature"`, "invalid_token"},
		{"valid token", "GET", "/me", "Bearer " + reader, 200, "", ""},
		{"scope held", "GET", "/orders/7", "Bearer " + reader, 200, "", ""},
		{"scope missing", "POST", "/orders", "Bearer " + reader, 403, `Bearer realm="orders", error="insufficient_scope", scope="orders/write"`, "insufficient_scope"},
		{"scope held, no group (machine token)", "POST", "/orders", "Bearer " + writer, 403, "", "not_in_group"},
		{"scope and group held", "POST", "/orders", "Bearer " + alice, 200, "", ""},
		{"user not in group", "POST", "/orders", "Bearer " + bob, 403, "", "not_in_group"},
		{"no route", "GET", "/elsewhere", "Bearer " + reader, 403, "", "no_route"},
		{"no route, no token", "GET", "/elsewhere", "", 403, "", "no_route"},
		{"tenant isolation holds", "GET", "/tenants/acme/items/", "Bearer " + aliceTenant, 200, "", ""},
		{"tenant isolation refuses other tenant", "GET", "/tenants/globex/items/", "Bearer " + aliceTenant, 403, "", "claim_mismatch"},
		{"path trick to other tenant", "GET", "/tenants/acme/items/../../globex/items/", "Bearer " + aliceTenant, 403, "", "claim_mismatch"},
		{"id token where access needed", "GET", "/me", "Bearer " + idAlice, 403, "", "invalid_token_use"},
		{"id token on id route", "GET", "/profile", "Bearer " + idAlice, 200, "", ""},
		{"every claim operator via ID token", "DELETE", "/orders/7", "Bearer " + idAlice, 200, "", ""},
		{"delete with another client", "DELETE", "/orders/7", "Bearer " + alice, 403, "", "invalid_client"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := s.call(t, tt.method, tt.path, tt.authorization)
			if a.status != tt.wantStatus {
				t.Fatalf("status = %d; want %d (body %s)", a.status, tt.wantStatus, a.raw)
			}
			if a.challenge != tt.wantChallenge {
				t.Errorf("WWW-Authenticate = %q; want %q", a.challenge, tt.wantChallenge)
			}
			if tt.wantStatus >= 400 {
				if a.problem["code"] != tt.wantCode || a.problem["status"] != float64(tt.wantStatus) {
					t.Errorf("problem = %v; want code %q", a.problem, tt.wantCode)
				}
				if tok := strings.TrimPrefix(tt.authorization, "Bearer "); len(tok) > 20 && strings.Contains(a.raw, tok) {
					t.Error("the answer echoes the token")
				}
			}
		})
	}
	// The claims reached the handler through the context.
	if a := s.call(t, "GET", "/me", "Bearer "+alice); a.sub != "a11ce000-0000-4000-8000-000000000001" {
		t.Errorf("handler saw sub %q", a.sub)
	}
	if a := s.call(t, "GET", "/healthz", ""); a.sub != "-" {
		t.Errorf("public route has claims in context: %q", a.sub)
	}
	for _, tok := range []string{reader, expired, forged, alice} {
		if strings.Contains(s.logs.String(), tok) {
			t.Fatal("a token reached the logs")
		}
	}
	if !strings.Contains(s.logs.String(), `"code":"insufficient_scope"`) {
		t.Errorf("denials not logged:\n%s", s.logs)
	}
}

func TestMiddlewareKeysUnavailable(t *testing.T) {
	idp := cognitotest.Start(t, cognitotest.DefaultConfig())
	pool := idp.Pools()[0].ID
	idp.FailNext(cognitotest.EndpointJWKS, 100, cognitotest.Fault{Status: 500})
	authz, err := cognito.NewJWTAuthorizer(cognito.JWTAuthorizerConfig{UserPoolID: pool, AllowAnyClient: true},
		cognito.WithEndpoint(idp.BaseURL()))
	if err != nil {
		t.Fatal(err)
	}
	p, err := policy.Parse([]byte("version: 1\nroutes:\n  \"GET /x\": {}\n"), "inline.yaml")
	if err != nil {
		t.Fatal(err)
	}
	api := httptest.NewServer(policy.Middleware(p, authz)(http.NotFoundHandler()))
	defer api.Close()
	tok, _ := idp.MintAccessToken(cognitotest.TokenOptions{})
	req, _ := http.NewRequest("GET", api.URL+"/x", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := api.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Errorf("status = %d, Retry-After %q; want 503 with Retry-After when the keys cannot be fetched",
			resp.StatusCode, resp.Header.Get("Retry-After"))
	}
}

func TestMiddlewareCustomErrorWriter(t *testing.T) {
	p, err := policy.Parse([]byte("version: 1\nroutes:\n  \"GET /x\": {}\n"), "inline.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var got policy.Denial
	h := policy.Middleware(p, nil, policy.WithErrorWriter(func(w http.ResponseWriter, r *http.Request, d policy.Denial) {
		got = d
		w.WriteHeader(d.Status)
	}))(http.NotFoundHandler())
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/x", nil))
	if rec.Code != 401 || got.Code != "authentication_required" || got.Challenge != `Bearer realm="api"` {
		t.Errorf("custom writer got %+v, status %d", got, rec.Code)
	}
}

func TestMiddlewareWithWatcher(t *testing.T) {
	path := t.TempDir() + "/routes.yaml"
	writeFile(t, path, openPolicy)
	w, err := policy.Watch(t.Context(), path, policy.WithPollInterval(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	h := w.Middleware(nil)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/x", nil))
	if rec.Code != 200 {
		t.Fatalf("public: %d", rec.Code)
	}
	writeFile(t, path, closedPolicy)
	if err := w.Reload(); err != nil {
		t.Fatal(err)
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/x", nil))
	if rec.Code != 401 {
		t.Fatalf("after reload: %d; want 401", rec.Code)
	}
}
