package policy_test

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/cognitokit/cognitokit/pkg/cognito"
	"github.com/cognitokit/cognitokit/pkg/policy"
)

const deleterClient = "3n4b5urk1ft4fl3mg5e62d9ado"

// claimsOpt edits the payload of a test token.
type claimsOpt func(raw map[string]any)

// accessClaims builds the claims of an access token as Verify would; tests of Decide need
// no signature, the middleware tests use real tokens.
func accessClaims(opts ...claimsOpt) *cognito.Claims {
	raw := map[string]any{"token_use": "access", "client_id": "someclient", "sub": "someclient"}
	for _, o := range opts {
		o(raw)
	}
	c, err := cognito.NewClaims(raw)
	if err != nil {
		panic(err)
	}
	return c
}

func idToken(raw map[string]any) {
	raw["token_use"] = "id"
	raw["aud"] = raw["client_id"]
	delete(raw, "client_id")
}

func scopes(s ...string) claimsOpt {
	return func(raw map[string]any) { raw["scope"] = strings.Join(s, " ") }
}

func groups(g ...string) claimsOpt {
	return func(raw map[string]any) {
		items := make([]any, len(g))
		for i, v := range g {
			items[i] = v
		}
		raw["cognito:groups"] = items
	}
}

func client(id string) claimsOpt { return func(raw map[string]any) { raw["client_id"] = id } }

func claim(name string, v any) claimsOpt { return func(raw map[string]any) { raw[name] = v } }

// deleter satisfies every requirement of DELETE /orders/{id}.
func deleter(extra ...claimsOpt) []claimsOpt {
	// idToken, when given, must come last: it moves client_id to aud.
	return append([]claimsOpt{client(deleterClient), groups("admin"), claim("email_verified", true),
		claim("custom:tier", "gold"), claim("custom:org", "acme"), claim("email", "ann@example.com")}, extra...)
}

func loadExample(t testing.TB) *policy.Policy {
	t.Helper()
	p, err := policy.Load("testdata/routes.yaml")
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return p
}

func TestDecide(t *testing.T) {
	p := loadExample(t)
	tests := []struct {
		name       string
		method     string
		target     string
		claims     []claimsOpt
		noToken    bool
		wantRoute  string
		wantReason policy.Reason
		wantScopes []string
	}{
		{"public route without token", "GET", "/healthz", nil, true, "GET /healthz", policy.ReasonPublic, nil},
		{"public route HEAD", "HEAD", "/healthz", nil, true, "GET /healthz", policy.ReasonPublic, nil},
		{"any valid token", "GET", "/me", nil, false, "GET /me", policy.ReasonAllowed, nil},
		{"no token on protected route", "GET", "/me", nil, true, "GET /me", policy.ReasonAuthenticationRequired, nil},
		{"no route, default deny", "GET", "/nowhere", nil, false, "", policy.ReasonNoRoute, nil},
		{"no route, default deny, no token", "GET", "/nowhere", nil, true, "", policy.ReasonNoRoute, nil},
		{"wrong method is no route", "PUT", "/me", nil, false, "", policy.ReasonNoRoute, nil},
		{"scopes any: first", "GET", "/orders/7", []claimsOpt{scopes("orders/read")}, false, "GET /orders/{id}", policy.ReasonAllowed, nil},
		{"scopes any: second", "GET", "/orders/7", []claimsOpt{scopes("orders/admin")}, false, "GET /orders/{id}", policy.ReasonAllowed, nil},
		{"scopes any: none", "GET", "/orders/7", []claimsOpt{scopes("orders/write")}, false, "GET /orders/{id}",
			policy.ReasonInsufficientScope, []string{"orders/read", "orders/admin"}},
		{"scopes all and groups any", "POST", "/orders", []claimsOpt{scopes("orders/write"), groups("ops")}, false, "POST /orders", policy.ReasonAllowed, nil},
		{"scopes all missing", "POST", "/orders", []claimsOpt{scopes("orders/read"), groups("ops")}, false, "POST /orders",
			policy.ReasonInsufficientScope, []string{"orders/write"}},
		{"group missing", "POST", "/orders", []claimsOpt{scopes("orders/write"), groups("staff")}, false, "POST /orders", policy.ReasonNotInGroup, nil},
		{"no groups at all", "POST", "/orders", []claimsOpt{scopes("orders/write")}, false, "POST /orders", policy.ReasonNotInGroup, nil},
		{"equals_param same tenant", "GET", "/tenants/acme/items/", []claimsOpt{claim("custom:tenant", "acme")}, false,
			"GET /tenants/{tenant}/items/", policy.ReasonAllowed, nil},
		{"equals_param subpath", "GET", "/tenants/acme/items/42", []claimsOpt{claim("custom:tenant", "acme")}, false,
			"GET /tenants/{tenant}/items/", policy.ReasonAllowed, nil},
		{"equals_param other tenant", "GET", "/tenants/globex/items/", []claimsOpt{claim("custom:tenant", "acme")}, false,
			"GET /tenants/{tenant}/items/", policy.ReasonClaimMismatch, nil},
		{"equals_param escaped wildcard", "GET", "/tenants/ac%6De/items/", []claimsOpt{claim("custom:tenant", "acme")}, false,
			"GET /tenants/{tenant}/items/", policy.ReasonAllowed, nil},
		{"equals_param claim missing", "GET", "/tenants/acme/items/", nil, false, "GET /tenants/{tenant}/items/", policy.ReasonClaimMismatch, nil},
		{"equals_param claim not a string", "GET", "/tenants/7/items/", []claimsOpt{claim("custom:tenant", 7.0)}, false,
			"GET /tenants/{tenant}/items/", policy.ReasonClaimMismatch, nil},
		{"delete: everything holds", "DELETE", "/orders/7", deleter(), false, "DELETE /orders/{id}", policy.ReasonAllowed, nil},
		{"delete: ID token allowed by token_use any", "DELETE", "/orders/7", deleter(idToken), false, "DELETE /orders/{id}", policy.ReasonAllowed, nil},
		{"delete: other client", "DELETE", "/orders/7", deleter(client("other")), false, "DELETE /orders/{id}", policy.ReasonInvalidClient, nil},
		{"delete: email not verified", "DELETE", "/orders/7", deleter(claim("email_verified", false)), false, "DELETE /orders/{id}", policy.ReasonClaimMismatch, nil},
		{"delete: email_verified string is not bool", "DELETE", "/orders/7", deleter(claim("email_verified", "true")), false, "DELETE /orders/{id}", policy.ReasonClaimMismatch, nil},
		{"delete: tier not in list", "DELETE", "/orders/7", deleter(claim("custom:tier", "silver")), false, "DELETE /orders/{id}", policy.ReasonClaimMismatch, nil},
		{"delete: tier platinum", "DELETE", "/orders/7", deleter(claim("custom:tier", "platinum")), false, "DELETE /orders/{id}", policy.ReasonAllowed, nil},
		{"delete: org absent", "DELETE", "/orders/7", deleter(func(raw map[string]any) { delete(raw, "custom:org") }), false, "DELETE /orders/{id}", policy.ReasonClaimMismatch, nil},
		{"delete: email other domain", "DELETE", "/orders/7", deleter(claim("email", "ann@example.com.evil")), false, "DELETE /orders/{id}", policy.ReasonClaimMismatch, nil},
		{"delete: email empty", "DELETE", "/orders/7", deleter(claim("email", "")), false, "DELETE /orders/{id}", policy.ReasonClaimMismatch, nil},
		{"delete: not in admin group", "DELETE", "/orders/7", deleter(groups("ops")), false, "DELETE /orders/{id}", policy.ReasonClaimMismatch, nil},
		{"id token on access route", "GET", "/me", []claimsOpt{idToken}, false, "GET /me", policy.ReasonInvalidTokenUse, nil},
		{"id token route", "GET", "/profile", []claimsOpt{idToken}, false, "GET /profile", policy.ReasonAllowed, nil},
		{"access token on id route", "GET", "/profile", nil, false, "GET /profile", policy.ReasonInvalidTokenUse, nil},
		{"scopes all and any both hold", "GET", "/reports/q1", []claimsOpt{scopes("reports/read", "reports/export", "orders/read")}, false,
			"GET /reports/", policy.ReasonAllowed, nil},
		{"scopes all hold, any fails", "GET", "/reports/q1", []claimsOpt{scopes("reports/read", "reports/export")}, false,
			"GET /reports/", policy.ReasonInsufficientScope, []string{"orders/admin", "orders/read"}},
		{"scopes both fail", "GET", "/reports/q1", []claimsOpt{scopes("reports/read")}, false,
			"GET /reports/", policy.ReasonInsufficientScope, []string{"reports/export", "orders/admin", "orders/read"}},
		{"groups all hold", "GET", "/ops/a/b", []claimsOpt{groups("ops", "oncall")}, false, "GET /ops/{path...}", policy.ReasonAllowed, nil},
		{"groups all partial", "GET", "/ops/a/b", []claimsOpt{groups("ops")}, false, "GET /ops/{path...}", policy.ReasonNotInGroup, nil},
		{"rest wildcard param", "GET", "/files/home/ann", []claimsOpt{claim("custom:root", "home/ann")}, false, "GET /files/{path...}", policy.ReasonAllowed, nil},
		{"rest wildcard param mismatch", "GET", "/files/home/bob", []claimsOpt{claim("custom:root", "home/ann")}, false, "GET /files/{path...}", policy.ReasonClaimMismatch, nil},
		{"present false holds", "GET", "/anonymous", nil, false, "GET /anonymous", policy.ReasonAllowed, nil},
		{"present false fails", "GET", "/anonymous", []claimsOpt{claim("custom:banned", "yes")}, false, "GET /anonymous", policy.ReasonClaimMismatch, nil},
		{"equals number", "GET", "/tier/", []claimsOpt{claim("custom:level", 3.0)}, false, "GET /tier/{$}", policy.ReasonAllowed, nil},
		{"equals number as string fails", "GET", "/tier/", []claimsOpt{claim("custom:level", "3")}, false, "GET /tier/{$}", policy.ReasonClaimMismatch, nil},
		{"{$} does not match below", "GET", "/tier/x", []claimsOpt{claim("custom:level", 3.0)}, false, "", policy.ReasonNoRoute, nil},
		{"host pattern", "POST", "http://api.example.com/anything", nil, true, "api.example.com/", policy.ReasonPublic, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(tt.method, tt.target, nil)
			var c *cognito.Claims
			if !tt.noToken {
				c = accessClaims(tt.claims...)
			}
			d := p.Decide(r, c)
			if d.Route != tt.wantRoute || d.Reason != tt.wantReason {
				t.Fatalf("Decide = route %q reason %q (%s); want route %q reason %q", d.Route, d.Reason, d.Detail, tt.wantRoute, tt.wantReason)
			}
			wantAllow := tt.wantReason == policy.ReasonAllowed || tt.wantReason == policy.ReasonPublic
			if d.Allow != wantAllow {
				t.Errorf("Allow = %v; want %v", d.Allow, wantAllow)
			}
			wantStatus := map[bool]int{true: http.StatusOK, false: http.StatusForbidden}[wantAllow]
			if tt.wantReason == policy.ReasonAuthenticationRequired {
				wantStatus = http.StatusUnauthorized
			}
			if d.Status != wantStatus {
				t.Errorf("Status = %d; want %d", d.Status, wantStatus)
			}
			if !slices.Equal(d.Scopes, tt.wantScopes) {
				t.Errorf("Scopes = %q; want %q", d.Scopes, tt.wantScopes)
			}
		})
	}
}

func TestDefaultAuthenticated(t *testing.T) {
	p, err := policy.Parse([]byte("version: 1\ndefault: authenticated\ntoken_use: id\nroutes: {}\n"), "inline.yaml")
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest("GET", "/anything", nil)
	if d := p.Decide(r, nil); d.Reason != policy.ReasonAuthenticationRequired || d.Status != 401 {
		t.Errorf("no token: %+v", d)
	}
	if d := p.Decide(r, accessClaims(idToken)); !d.Allow {
		t.Errorf("ID token: %+v", d)
	}
	if d := p.Decide(r, accessClaims()); d.Reason != policy.ReasonInvalidTokenUse {
		t.Errorf("access token under token_use id: %+v", d)
	}
}

func TestRoutesListsPatterns(t *testing.T) {
	p := loadExample(t)
	got := p.Routes()
	if len(got) != 13 || got[0] != "GET /healthz" {
		t.Errorf("Routes() = %q", got)
	}
}

func TestWarningsForPublicHostScopedRoutes(t *testing.T) {
	p, err := policy.Parse([]byte("version: 1\nroutes:\n  \"GET /x\":\n    public: true\n"+
		"  \"api.example.com/\":\n    public: true\n  \"GET admin.example.com/y\": {}\n"), "hosts.yaml")
	if err != nil {
		t.Fatal(err)
	}
	w := p.Warnings()
	if len(w) != 1 || w[0].Line != 5 || w[0].Column != 3 || !strings.Contains(w[0].Msg, `public route "api.example.com/" is host-scoped`) {
		t.Fatalf("Warnings() = %v; want one, at 5:3, for the public host-scoped route", w)
	}
	// What the warning is about: the route opens every path for that Host, whatever the
	// service's router (without host patterns) serves there.
	r := httptest.NewRequest("GET", "http://api.example.com/admin/users", nil)
	if d := p.Decide(r, nil); d.Reason != policy.ReasonPublic {
		t.Errorf("GET api.example.com/admin/users: %q; the warning describes a public route", d.Reason)
	}
	p, err = policy.Load("../../examples/orders/routes.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if w := p.Warnings(); len(w) != 0 {
		t.Errorf("the example policy has warnings: %v", w)
	}
}
