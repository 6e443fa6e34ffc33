package policy_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/cognitokit/cognitokit/pkg/cognito"
	"github.com/cognitokit/cognitokit/pkg/policy"
)

// TestMatchAgreesWithServeMux routes tricky requests through a real ServeMux holding the
// same patterns and checks that the policy picks the route the ServeMux serves — or, when
// the ServeMux redirects (unclean path, missing trailing slash), the route the redirect
// leads to.
func TestMatchAgreesWithServeMux(t *testing.T) {
	p := loadExample(t)
	mux := http.NewServeMux()
	for _, pattern := range p.Routes() {
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Pattern", r.Pattern)
		})
	}
	targets := []string{
		"/orders/7", "//orders/7", "/orders//7", "/orders/../orders/7", "/x/../orders/7",
		"/orders/%2e%2e/admin", "/orders/%2F", "/orders/7/", "/orders/", "/orders",
		"/healthz", "/healthz/", "//healthz", "/./healthz", "/HEALTHZ",
		"/tenants/acme/items", "/tenants/acme/items/", "/tenants/acme/items/../../globex/items/",
		"/reports", "/reports/a/../b", "/ops", "/ops/", "/ops/a/b/c",
		"/tier", "/tier/", "/tier/x", "/me", "/me/",
	}
	methods := []string{"GET", "HEAD", "POST", "DELETE", "PUT"}
	for _, method := range methods {
		for _, target := range targets {
			r := httptest.NewRequest(method, target, nil)
			d := p.Decide(r, accessClaims())
			want := serveMuxRoute(t, mux, method, target)
			if d.Route != want {
				t.Errorf("%s %s: policy route %q; ServeMux serves %q", method, target, d.Route, want)
			}
		}
	}
}

// serveMuxRoute returns the pattern mux serves for the request, following its redirects.
func serveMuxRoute(t *testing.T, mux *http.ServeMux, method, target string) string {
	for range 5 {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest(method, target, nil))
		switch rec.Code {
		case http.StatusMovedPermanently, http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
			u, err := url.Parse(rec.Header().Get("Location"))
			if err != nil {
				t.Fatal(err)
			}
			target = u.RequestURI()
			continue
		}
		return rec.Header().Get("X-Pattern")
	}
	t.Fatalf("%s %s: redirect loop", method, target)
	return ""
}

// tokenClaims is a Verifier for routing tests: each token stands for fixed claims.
type tokenClaims map[string]*cognito.Claims

func (v tokenClaims) Verify(_ context.Context, token string) (*cognito.Claims, error) {
	if c, ok := v[token]; ok {
		return c, nil
	}
	return nil, &cognito.AuthorizationError{Reason: cognito.ErrMalformedToken}
}

// rawRequest sends one request line as written, over a new connection, and returns the
// status and body: net/http's client would not send a dot segment in a CONNECT path.
func rawRequest(t *testing.T, addr, requestLine, authorization string) (int, string) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "%s\r\nHost: %s\r\nAuthorization: %s\r\nConnection: close\r\n\r\n", requestLine, addr, authorization)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// TestConnectCannotCrossTenants: a ServeMux routes CONNECT on the raw path, so
// "/tenants/victim/../evil/" reaches the handler with tenant "victim". The policy must
// compare the token's tenant with that value, not with the cleaned path's "evil".
func TestConnectCannotCrossTenants(t *testing.T) {
	p, err := policy.Load("testdata/tenants.yaml")
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/tenants/{tenant}/", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "tenant="+r.PathValue("tenant"))
	})
	v := tokenClaims{"evil": accessClaims(claim("custom:tenant", "evil"))}
	srv := httptest.NewServer(policy.Middleware(p, v)(mux))
	t.Cleanup(srv.Close)
	addr := srv.Listener.Addr().String()

	for _, tc := range []struct {
		line       string
		wantStatus int
		wantBody   string
	}{
		{"CONNECT /tenants/victim/../evil/ HTTP/1.1", http.StatusForbidden, ""},
		{"CONNECT /tenants/victim/./ HTTP/1.1", http.StatusForbidden, ""},
		{"CONNECT /tenants/evil/ HTTP/1.1", http.StatusOK, "tenant=evil"},
		{"GET /tenants/evil/ HTTP/1.1", http.StatusOK, "tenant=evil"},
		{"GET /tenants/victim/ HTTP/1.1", http.StatusForbidden, ""},
	} {
		status, body := rawRequest(t, addr, tc.line, "Bearer evil")
		if status != tc.wantStatus || (tc.wantBody != "" && body != tc.wantBody) {
			t.Errorf("%s: %d %q; want %d %q", tc.line, status, body, tc.wantStatus, tc.wantBody)
		}
		if strings.Contains(body, "victim") {
			t.Errorf("%s: the victim tenant's handler answered: %q", tc.line, body)
		}
	}
}
