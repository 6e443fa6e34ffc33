package policy_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
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
