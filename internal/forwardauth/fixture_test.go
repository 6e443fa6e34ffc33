package forwardauth_test

import (
	"bufio"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cognitokit/cognitokit/internal/forwardauth"
	"github.com/cognitokit/cognitokit/pkg/cognito"
	"github.com/cognitokit/cognitokit/pkg/cognitotest"
	"github.com/cognitokit/cognitokit/pkg/policy"
)

// caller is an identity requests are made as: the Authorization header values it sends.
type caller struct {
	name string
	auth []string
}

// fixture is a local Cognito, a real authorizer of its pool, and callers of every kind:
// the demo's (three app clients, two users' ID tokens, an expired token, nobody), a
// token carrying every claim the test policies compare, and broken Authorization
// headers.
type fixture struct {
	idp     *cognitotest.Server
	authz   *cognito.JWTAuthorizer
	callers []caller
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	idp := cognitotest.Start(t, cognitotest.DefaultConfig())
	f := &fixture{idp: idp, authz: newFixtureAuthorizer(t, idp)}
	bearer := func(name string, tok string, err error) {
		if err != nil {
			t.Fatal(err)
		}
		f.callers = append(f.callers, caller{name: name, auth: []string{"Bearer " + tok}})
	}
	f.callers = append(f.callers, caller{name: "(no token)"})
	for _, c := range []string{"orders-reader", "orders-writer", "orders-admin"} {
		tok, err := idp.MintAccessToken(cognitotest.TokenOptions{Client: c})
		bearer(c, tok, err)
	}
	for _, u := range []string{"alice", "bob"} {
		tok, err := idp.MintIDToken(cognitotest.TokenOptions{Username: u, Client: "orders-reader"})
		bearer(u+" (ID token)", tok, err)
	}
	tok, err := idp.MintAccessToken(cognitotest.TokenOptions{Client: "orders-admin", IssuedAt: time.Now().Add(-2 * time.Hour)})
	bearer("expired", tok, err)
	everything := map[string]any{
		"custom:tenant": "acme", "custom:tier": "gold", "custom:org": "o1", "custom:root": "a/b/c", "custom:level": 3,
		"email": "carol@example.com", "email_verified": true, "cognito:groups": []any{"admin", "ops", "oncall"},
		"custom:p_tenant": "acme", "custom:p_item": "7", "custom:p_path": "a/b/c", "custom:p_x": "1", "custom:p_y": "2/3",
		"custom:p_h": "h1", "custom:p_id": "9",
	}
	tok, err = idp.MintAccessToken(cognitotest.TokenOptions{Client: "orders-admin", Username: "alice",
		Scopes: []string{"orders/read", "orders/write", "orders/admin", "reports/read", "reports/export"}, Claims: everything})
	bearer("claims (access)", tok, err)
	tok, err = idp.MintIDToken(cognitotest.TokenOptions{Client: "orders-admin", Username: "alice", Claims: everything})
	bearer("claims (ID token)", tok, err)
	valid := f.callers[1].auth[0]
	f.callers = append(f.callers,
		caller{"forged", []string{valid[:strings.LastIndexByte(valid, '.')+1] + strings.Repeat("A", 342)}},
		caller{"garbage", []string{"Bearer not-a-jwt"}},
		caller{"basic", []string{"Basic dXNlcjpwYXNz"}},
		caller{"two headers", []string{valid, valid}},
		caller{"empty", []string{""}},
	)
	return f
}

// newFixtureAuthorizer verifies tokens of every client of idp's pool, of either use.
func newFixtureAuthorizer(t testing.TB, idp *cognitotest.Server) *cognito.JWTAuthorizer {
	t.Helper()
	authz, err := cognito.NewJWTAuthorizer(cognito.JWTAuthorizerConfig{
		UserPoolID: idp.Pools()[0].ID, AllowAnyClient: true, TokenUse: cognito.TokenUseAny,
	}, cognito.WithEndpoint(idp.BaseURL()))
	if err != nil {
		t.Fatal(err)
	}
	return authz
}

// policies are the policies the parity tests run: the demo's and pkg/policy's.
func policies(t testing.TB) map[string]*policy.Policy {
	t.Helper()
	files := []string{"../../examples/orders/routes.yaml"}
	for _, name := range []string{"routes", "tenants", "parity", "with-openapi", "with-slash-api"} {
		files = append(files, filepath.Join("../../pkg/policy/testdata", name+".yaml"))
	}
	out := map[string]*policy.Policy{}
	for _, f := range files {
		p, err := policy.Load(f)
		if err != nil {
			t.Fatal(err)
		}
		out[strings.TrimPrefix(f, "../../")] = p
	}
	return out
}

var wildcard = regexp.MustCompile(`\{([A-Za-z_][A-Za-z0-9_]*)(\.\.\.)?\}`)

// targets are paths that reach every route of p (each wildcard given the value the
// claims token carries), plus paths that probe cleaning, escaping and no route.
func targets(p *policy.Policy) []string {
	values := map[string]string{"tenant": "acme", "item": "7", "id": "9", "x": "1", "h": "h1"}
	out := []string{"/", "/nowhere", "*", "/healthz/", "//healthz", "/x/../healthz", "/orders/%39",
		"/tenants/acme/../globex/orders", "/tenants/a%2Fb/orders", "/admin", "http://api.example.com/hosts/abs"}
	for _, pattern := range p.Routes() {
		path := pattern
		if i := strings.IndexByte(path, '/'); i >= 0 {
			path = path[i:]
		}
		path = strings.ReplaceAll(path, "{$}", "")
		path = wildcard.ReplaceAllStringFunc(path, func(m string) string {
			sub := wildcard.FindStringSubmatch(m)
			if sub[2] != "" {
				return "a/b/c"
			}
			if v, ok := values[sub[1]]; ok {
				return v
			}
			return "v"
		})
		out = append(out, path, path+"x")
	}
	return out
}

var (
	methods = []string{"GET", "POST", "DELETE", "PUT", "HEAD"}
	hosts   = []string{"example.com", "api.example.com"}
)

// readRequest parses a raw request as a Go server does; ok is false for one it refuses.
func readRequest(t testing.TB, raw, remote string) (*http.Request, bool) {
	r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw)))
	if err != nil {
		return nil, false
	}
	r.RemoteAddr = remote
	return r, true
}

// rawRequest is "method target HTTP/1.1" with the headers, Host first.
func rawRequest(method, target, host string, headers ...string) string {
	var b strings.Builder
	b.WriteString(method + " " + target + " HTTP/1.1\r\nHost: " + host + "\r\n")
	for i := 0; i+1 < len(headers); i += 2 {
		b.WriteString(headers[i] + ": " + headers[i+1] + "\r\n")
	}
	b.WriteString("\r\n")
	return b.String()
}

func authHeaders(c caller) []string {
	var h []string
	for _, a := range c.auth {
		h = append(h, "Authorization", a)
	}
	return h
}

// reference is the Go middleware's answer to the request a Go server parses from raw.
func reference(p *policy.Policy, v policy.Verifier, r *http.Request) (*httptest.ResponseRecorder, *cognito.Claims) {
	var claims *cognito.Claims
	h := policy.Middleware(p, v, policy.WithRealm("orders"))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		claims, _ = policy.ClaimsFromContext(r.Context())
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return rec, claims
}

func newDecider(t testing.TB, g forwardauth.Guard, v policy.Verifier) *forwardauth.Decider {
	t.Helper()
	d, err := forwardauth.New(forwardauth.Config{Guard: g, Verifier: v, Realm: "orders"})
	if err != nil {
		t.Fatal(err)
	}
	return d
}
