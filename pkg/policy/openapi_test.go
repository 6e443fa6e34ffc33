package policy_test

import (
	"io/fs"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

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
	testdata := os.DirFS("testdata")
	if _, err := policy.LoadFS(fstest.MapFS{"x.yaml": {Data: []byte("version: 1\nopenapi: {file: missing.yaml, security_scheme: cognito}\n")}}, "x.yaml"); err == nil {
		t.Error("missing OpenAPI document accepted")
	}
	unknownScheme := fstest.MapFS{
		"x.yaml":   {Data: []byte("version: 1\nopenapi: {file: api.yaml, security_scheme: nope}\n")},
		"api.yaml": {Data: must(fs.ReadFile(testdata, "api.yaml"))},
	}
	if _, err := policy.LoadFS(unknownScheme, "x.yaml"); err == nil || !strings.Contains(err.Error(), `no security scheme "nope"`) {
		t.Errorf("unknown scheme: %v", err)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestImportsComeFromTheGivenFiles: Parse reads no file; LoadFS reads imports from its
// fs.FS only, relative to the policy and never outside the file system.
func TestImportsComeFromTheGivenFiles(t *testing.T) {
	withImport := []byte("version: 1\nopenapi: {file: api.yaml, security_scheme: cognito}\n")
	if _, err := policy.Parse(withImport, "testdata/with-openapi.yaml"); err == nil ||
		!strings.Contains(err.Error(), "testdata/with-openapi.yaml:2:10: openapi: an OpenAPI import needs the files it names") {
		t.Errorf("Parse of a policy with an import: %v; want an error at the openapi key", err)
	}
	p, err := policy.LoadFS(os.DirFS("testdata"), "with-openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if got := len(p.Routes()); got != 5 {
		t.Errorf("LoadFS: %d routes; want the 5 of with-openapi.yaml", got)
	}
	nested := fstest.MapFS{
		"policies/routes.yaml": {Data: []byte("version: 1\nopenapi: {file: ../api/api.yaml, security_scheme: cognito}\n")},
		"api/api.yaml":         {Data: must(fs.ReadFile(os.DirFS("testdata"), "api.yaml"))},
		"escape.yaml":          {Data: []byte("version: 1\nopenapi: {file: ../api.yaml, security_scheme: cognito}\n")},
		"absolute.yaml":        {Data: []byte("version: 1\nopenapi: {file: /etc/passwd, security_scheme: cognito}\n")},
	}
	if _, err := policy.LoadFS(nested, "policies/routes.yaml"); err != nil {
		t.Errorf("import relative to the policy's directory: %v", err)
	}
	for _, name := range []string{"escape.yaml", "absolute.yaml"} {
		if _, err := policy.LoadFS(nested, name); err == nil || !strings.Contains(err.Error(), "outside the file system") {
			t.Errorf("%s: %v; want an import outside the file system refused", name, err)
		}
	}
}

func TestImportedDocumentMustBeARegularFile(t *testing.T) {
	pol := filepath.Join(t.TempDir(), "routes.yaml")
	if err := os.WriteFile(pol, []byte("version: 1\nopenapi: {file: /dev/zero, security_scheme: cognito}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := policy.Load(pol)
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
