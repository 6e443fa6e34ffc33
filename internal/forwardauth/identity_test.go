package forwardauth_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/cognitokit/cognitokit/internal/forwardauth"
	"github.com/cognitokit/cognitokit/internal/testkit"
	"github.com/cognitokit/cognitokit/pkg/cognitotest"
	"github.com/cognitokit/cognitokit/pkg/policy"
)

func TestParseIdentityHeader(t *testing.T) {
	for in, want := range map[string]forwardauth.IdentityHeader{
		"X-Tenant=custom:tenant":  {Name: "X-Tenant", Claim: "custom:tenant"},
		" X-User = sub ":          {Name: "X-User", Claim: "sub"},
		"X-A=weird=claim":         {Name: "X-A", Claim: "weird=claim"},
		"X-Groups=cognito:groups": {Name: "X-Groups", Claim: "cognito:groups"},
	} {
		got, err := forwardauth.ParseIdentityHeader(in)
		if err != nil || got != want {
			t.Errorf("ParseIdentityHeader(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, in := range []string{"X-User", "X User=sub", "=sub", "X-User=", "X-Üser=sub", "X-User:=sub", "X-User\r\nX: y=sub"} {
		if _, err := forwardauth.ParseIdentityHeader(in); err == nil {
			t.Errorf("ParseIdentityHeader(%q): no error", in)
		}
	}
	if _, err := forwardauth.New(forwardauth.Config{Guard: forwardauth.Static(nil), Verifier: unavailable{},
		Headers: []forwardauth.IdentityHeader{{Name: "Bad Name", Claim: "sub"}}}); err == nil {
		t.Error("New accepted an invalid header name")
	}
}

// TestIdentityHeaders: the configured headers carry the claims, rendered as documented;
// a value that would break a header, or read as another value, is not sent at all, and
// the refusal is logged by header name without the value.
func TestIdentityHeaders(t *testing.T) {
	idp := cognitotest.Start(t, cognitotest.DefaultConfig())
	f := &fixture{idp: idp}
	p, err := policy.Parse([]byte("version: 1\ndefault: authenticated\ntoken_use: any\nroutes: {}\n"), "any.yaml")
	if err != nil {
		t.Fatal(err)
	}
	authz := newFixtureAuthorizer(t, idp)
	logger, logs := testkit.NewLogger()
	headers := append(slices.Clone(forwardauth.DefaultHeaders()),
		forwardauth.IdentityHeader{Name: "x-tenant", Claim: "custom:tenant"},
		forwardauth.IdentityHeader{Name: "X-Level", Claim: "custom:level"},
		forwardauth.IdentityHeader{Name: "X-Verified", Claim: "email_verified"},
		forwardauth.IdentityHeader{Name: "X-Teams", Claim: "custom:teams"},
		forwardauth.IdentityHeader{Name: "X-Object", Claim: "custom:object"},
		forwardauth.IdentityHeader{Name: "X-Missing", Claim: "custom:missing"},
		forwardauth.IdentityHeader{Name: "X-Name", Claim: "custom:name"},
	)
	d, err := forwardauth.New(forwardauth.Config{Guard: forwardauth.Static(p), Verifier: authz, Headers: headers, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	decide := func(claims map[string]any, id bool) http.Header {
		t.Helper()
		o := cognitotest.TokenOptions{Client: "orders-admin", Username: "alice", Claims: claims}
		var tok string
		if id {
			tok, err = f.idp.MintIDToken(o)
		} else {
			tok, err = f.idp.MintAccessToken(o)
		}
		if err != nil {
			t.Fatal(err)
		}
		r, _ := readRequest(t, rawRequest("GET", "/anything", "example.com", "Authorization", "Bearer "+tok), "127.0.0.1:1")
		out := d.Decide(r)
		if !out.Allow {
			t.Fatalf("denied: %+v", out)
		}
		return out.Header
	}

	h := decide(map[string]any{"custom:tenant": "acme", "custom:level": 3, "email_verified": true,
		"custom:teams": []any{"red", "blue"}, "custom:object": map[string]any{"a": 1}, "scope": "orders/read orders/admin"}, false)
	for name, want := range map[string]string{
		"X-Auth-Request-User":      "a11ce000-0000-4000-8000-000000000001",
		"X-Auth-Request-Username":  "alice",
		"X-Auth-Request-Scopes":    "orders/read orders/admin",
		"X-Auth-Request-Client-Id": "3admin00orders0client00003",
		"X-Auth-Request-Token-Use": "access",
		"X-Auth-Request-Pool":      "us-east-1_LocalPool1",
		"X-Auth-Request-Groups":    "admin,ops",
		"X-Tenant":                 "acme",
		"X-Level":                  "3",
		"X-Verified":               "true",
		"X-Teams":                  "red,blue",
	} {
		if got := h.Values(name); len(got) != 1 || got[0] != want {
			t.Errorf("%s = %q; want %q", name, got, want)
		}
	}
	for _, name := range []string{"X-Object", "X-Missing"} {
		if _, ok := h[name]; ok {
			t.Errorf("%s sent: %q", name, h.Values(name))
		}
	}
	id := decide(nil, true)
	if id.Get("X-Auth-Request-Token-Use") != "id" || id.Get("X-Auth-Request-Username") != "alice" ||
		id.Get("X-Auth-Request-Client-Id") != "3admin00orders0client00003" || id.Get("X-Auth-Request-Email") != "alice@example.com" {
		t.Errorf("ID token identity = %v", id)
	}

	const evil = "evil-value"
	for name, claims := range map[string]map[string]any{
		"X-Auth-Request-Email":  {"email": "a@example.com\r\nX-Auth-Request-User: " + evil},
		"X-Tenant":              {"custom:tenant": "acme\n" + evil},
		"X-Teams":               {"custom:teams": []any{"red", "blue," + evil}},
		"X-Auth-Request-Groups": {"cognito:groups": []any{"admin", "ops,root"}},
		"X-Level":               {"custom:level": "3\x00" + evil},
		"X-Name":                {"custom:name": "Jos\u00e9 " + evil},
		"X-Object":              {"custom:object": strings.Repeat("x", 3000)},
	} {
		before := len(logs.String())
		h := decide(claims, false)
		if v, ok := h[name]; ok {
			t.Errorf("%s sent: %q", name, v)
		}
		if h.Get("X-Auth-Request-User") != "a11ce000-0000-4000-8000-000000000001" {
			t.Errorf("%s refused: the other headers must still be sent, got %v", name, h)
		}
		if s := logs.String()[before:]; !strings.Contains(s, name) || strings.Contains(s, evil) {
			t.Errorf("%s refused: log %q; want the header's name and not its value", name, s)
		}
	}
}
