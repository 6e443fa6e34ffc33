package policy_test

import (
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cognitokit/cognitokit/pkg/cognito"
	"github.com/cognitokit/cognitokit/pkg/policy"
)

func TestOpenAPIImport(t *testing.T) {
	p, err := policy.Load("testdata/with-openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	wantRoutes := []string{"GET /health", "GET /orders", "POST /orders", "GET /orders/{id}", "DELETE /orders/{id}"}
	got := p.Routes()
	slices.Sort(got)
	slices.Sort(wantRoutes)
	if !slices.Equal(got, wantRoutes) {
		t.Fatalf("Routes() = %q; want %q", got, wantRoutes)
	}
	tests := []struct {
		method, target string
		claims         []claimsOpt
		noToken        bool
		want           policy.Reason
	}{
		{"GET", "/health", nil, true, policy.ReasonPublic},
		{"GET", "/orders", []claimsOpt{scopes("orders/admin")}, false, policy.ReasonAllowed},
		{"GET", "/orders", []claimsOpt{scopes("orders/write")}, false, policy.ReasonInsufficientScope},
		{"POST", "/orders", []claimsOpt{scopes("orders/write", "orders/read")}, false, policy.ReasonAllowed},
		{"POST", "/orders", []claimsOpt{scopes("orders/write")}, false, policy.ReasonInsufficientScope},
		{"GET", "/orders/1", nil, false, policy.ReasonAllowed}, // document-level security: any valid token
		{"GET", "/orders/1", nil, true, policy.ReasonAuthenticationRequired},
		{"DELETE", "/orders/1", []claimsOpt{scopes("orders/admin")}, false, policy.ReasonNotInGroup}, // the file's override
		{"DELETE", "/orders/1", []claimsOpt{scopes("orders/admin"), groups("admin")}, false, policy.ReasonAllowed},
	}
	for _, tt := range tests {
		var c = accessClaims(tt.claims...)
		if tt.noToken {
			c = nil
		}
		if d := p.Decide(httptest.NewRequest(tt.method, tt.target, nil), c); d.Reason != tt.want {
			t.Errorf("%s %s: reason %q (%s); want %q", tt.method, tt.target, d.Reason, d.Detail, tt.want)
		}
	}
}

func TestOpenAPIImportErrors(t *testing.T) {
	tests := []struct {
		name, security, want string
	}{
		{"other scheme", "- apiKey: []", `operation GET /x (getX): security scheme "apiKey" is not "cognito"`},
		{"multi-scope alternatives", "- cognito: [a, b]\n        - cognito: [c]", "alternatives of several scopes each cannot be expressed"},
		{"optional alternative", "- {}\n        - cognito: [a]", "optional ({}) security alternative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			api := `openapi: 3.0.3
info: {title: t, version: "1"}
components:
  securitySchemes:
    cognito: {type: http, scheme: bearer}
    apiKey: {type: apiKey, in: header, name: X-Key}
paths:
  /x:
    get:
      operationId: getX
      security:
        ` + tt.security + `
      responses: {"200": {description: ok}}
`
			if err := os.WriteFile(filepath.Join(dir, "api.yaml"), []byte(api), 0o600); err != nil {
				t.Fatal(err)
			}
			pol := filepath.Join(dir, "routes.yaml")
			if err := os.WriteFile(pol, []byte("version: 1\nopenapi: {file: api.yaml, security_scheme: cognito}\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := policy.Load(pol)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Load error = %v; want it to mention %q", err, tt.want)
			}
			if !strings.Contains(err.Error(), "routes.yaml:2:10:") {
				t.Errorf("error %v does not point at the openapi key", err)
			}
		})
	}
	if _, err := policy.Parse([]byte("version: 1\nopenapi: {file: missing.yaml, security_scheme: cognito}\n"), "testdata/x.yaml"); err == nil {
		t.Error("missing OpenAPI document accepted")
	}
	if _, err := policy.Parse([]byte("version: 1\nopenapi: {file: api.yaml, security_scheme: nope}\n"), "testdata/x.yaml"); err == nil ||
		!strings.Contains(err.Error(), `no security scheme "nope"`) {
		t.Errorf("unknown scheme: %v", err)
	}
}

func TestImportedDocumentMustBeARegularFile(t *testing.T) {
	_, err := policy.Parse([]byte("version: 1\nopenapi: {file: /dev/zero, security_scheme: cognito}\n"), "routes.yaml")
	if err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Fatalf("importing /dev/zero: %v", err)
	}
	if _, err := policy.Load("/dev/zero"); err == nil {
		t.Fatal("Load(/dev/zero) succeeded")
	}
}

// TestOpenAPIPathsAreExact: an OpenAPI path names one path. "/" and "/docs/" imported as
// the ServeMux patterns "GET /" and "GET /docs/" would match every path below them, and a
// public "/" would make every undocumented GET path public under default: deny.
func TestOpenAPIPathsAreExact(t *testing.T) {
	p, err := policy.Load("testdata/with-slash-api.yaml")
	if err != nil {
		t.Fatal(err)
	}
	reader := accessClaims(scopes("orders/read"))
	tests := []struct {
		method, target string
		claims         *cognito.Claims
		want           policy.Reason
	}{
		{"GET", "/", nil, policy.ReasonPublic},
		{"HEAD", "/", nil, policy.ReasonPublic},
		{"GET", "/docs/", nil, policy.ReasonPublic},
		{"GET", "/admin/users", nil, policy.ReasonNoRoute},
		{"GET", "/debug/pprof/", nil, policy.ReasonNoRoute},
		{"GET", "/docs/internal", nil, policy.ReasonNoRoute},
		{"GET", "/docs/internal/", reader, policy.ReasonNoRoute},
		{"GET", "/tenants/acme/", reader, policy.ReasonAllowed},
		{"GET", "/tenants/acme/", accessClaims(), policy.ReasonInsufficientScope},
		{"GET", "/tenants/acme/secrets", reader, policy.ReasonNoRoute},
		{"GET", "/tenants/acme/orders/7", reader, policy.ReasonAllowed},
		{"GET", "/tenants/acme/orders/7/", reader, policy.ReasonNoRoute},
		{"POST", "/", nil, policy.ReasonNoRoute},
	}
	for _, tt := range tests {
		if d := p.Decide(httptest.NewRequest(tt.method, tt.target, nil), tt.claims); d.Reason != tt.want {
			t.Errorf("%s %s: reason %q (route %q); want %q", tt.method, tt.target, d.Reason, d.Route, tt.want)
		}
	}
}
