package policy_test

import (
	"bufio"
	"maps"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/cognitokit/cognitokit/pkg/cognito"
	"github.com/cognitokit/cognitokit/pkg/policy"
)

// The routing-parity property: whatever request reaches a handler behind the policy
// middleware, the policy decided on the route the handler serves (r.Pattern), and every
// path wildcard a condition compared had the value the handler reads (r.PathValue). A
// request the policy cannot match that way is refused, never let through on other values.

var parityMethods = []string{
	"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT", "PURGE", "FOO", "get",
}

var parityTargets = []string{
	"/healthz", "/healthz/", "//healthz", "/./healthz", "/x/../healthz",
	"/tenants/acme/", "/tenants/acme", "/tenants/acme/../globex/", "/tenants/acme/./",
	"/tenants/acme/%2e%2e/globex/", "/tenants/a%2Fb/", "/tenants/a%252Fb/", "/tenants//", "//tenants/acme/",
	"/tenants/acme/items/7", "/tenants/acme/items/7/", "/tenants/acme/items/", "/tenants/acme/items",
	"/tenants/acme/items/../../globex/items/7", "/tenants/acme/items/%2e%2e/8", "/tenants/acme/items/a%2Fb",
	"/files/", "/files", "/files/a/b/c", "/files/a/../b", "/files/a%2Fb/c", "/files//a", "/files/a/b/",
	"/a/1/b/2/3", "/a/1/b/", "/a/1/b", "/a/1/../2/b/3", "/a/%31/b/%32%2F3",
	"/hosts/h1", "/hosts/h1/", "/hosts/../hosts/h2",
	"/orders/9", "/orders/9/", "/orders/../orders/9", "/orders/%39",
	"/static/", "/static", "/static/x/../../tenants/acme/",
	"/opt/o1", "/trace/t1", "/tunnel/c1", "/tunnel/c1/../c2", "/cache/k1", "/cache/k1/../k2",
	"*", "/", "/nothing", "http://api.example.com/hosts/abs", "http://other.example/tenants/acme/",
}

var parityHosts = []string{"example.com", "api.example.com", "api.example.com:8443", "API.EXAMPLE.COM"}

var wildcardName = regexp.MustCompile(`\{([A-Za-z_][A-Za-z0-9_]*)(?:\.\.\.)?\}`)

// parity holds a policy, the same routes on a plain ServeMux (the service's router), and
// that ServeMux behind the policy middleware.
type parity struct {
	p        *policy.Policy
	direct   *http.ServeMux
	names    map[string][]string // pattern → its wildcard names
	verifier tokenClaims
	guarded  http.Handler
}

// seen is what a handler observed, written into the response headers.
const (
	hdrPattern = "X-Pattern"
	hdrValue   = "X-Value-" // + wildcard name
)

func newParity(t testing.TB) *parity {
	p, err := policy.Load("testdata/parity.yaml")
	if err != nil {
		t.Fatal(err)
	}
	pt := &parity{p: p, direct: http.NewServeMux(), names: map[string][]string{}, verifier: tokenClaims{}}
	for _, pattern := range p.Routes() {
		var names []string
		for _, m := range wildcardName.FindAllStringSubmatch(pattern, -1) {
			names = append(names, m[1])
		}
		pt.names[pattern] = names
		pt.direct.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			defer func() {
				// Go 1.26's PathValue panics on "CONNECT /tenants//" (an empty segment
				// matched to a wildcard): the server would answer 500 and close.
				if recover() != nil {
					w.WriteHeader(http.StatusInternalServerError)
				}
			}()
			for _, n := range names {
				r.PathValue(n)
			}
			w.Header().Set(hdrPattern, r.Pattern)
			for _, n := range names {
				w.Header().Set(hdrValue+n, r.PathValue(n))
			}
			w.WriteHeader(299) // a status no part of the stack answers by itself
		})
	}
	pt.guarded = policy.Middleware(p, pt.verifier)(pt.direct)
	return pt
}

// request parses a request as the server does; ok is false for one it would refuse.
func parityRequest(method, host, target string) (*http.Request, bool) {
	raw := method + " " + target + " HTTP/1.1\r\nHost: " + host + "\r\nAuthorization: Bearer t\r\n\r\n"
	r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw)))
	if err != nil {
		return nil, false
	}
	return r, true
}

func (pt *parity) claims(t testing.TB, values map[string]string) *cognito.Claims {
	raw := map[string]any{"token_use": "access", "client_id": "c", "sub": "c"}
	for n, v := range values {
		raw["custom:p_"+n] = v
	}
	c, err := cognito.NewClaims(raw)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// check runs one request through the stack with claims saying values, and checks the
// property. It reports whether the handler was reached.
func (pt *parity) check(t testing.TB, method, host, target string, values map[string]string) bool {
	t.Helper()
	r, ok := parityRequest(method, host, target)
	if !ok {
		return false
	}
	claims := pt.claims(t, values)
	pt.verifier["t"] = claims
	rec := httptest.NewRecorder()
	pt.guarded.ServeHTTP(rec, r)
	if rec.Code != 299 {
		return false
	}
	pattern := rec.Header().Get(hdrPattern)
	if d := pt.p.Decide(r, claims); d.Route != pattern {
		t.Errorf("%s %s (Host %s): the policy decided on route %q; the handler serves %q", method, target, host, d.Route, pattern)
	}
	for _, n := range pt.names[pattern] {
		if got, compared := rec.Header().Get(hdrValue+n), values[n]; got != compared {
			t.Errorf("%s %s (Host %s): route %q: the policy compared {%s} = %q; the handler reads %q",
				method, target, host, pattern, n, compared, got)
		}
	}
	return true
}

// direct returns what the service's router alone hands a handler: the pattern and the
// wildcard values, or ok false when it answers by itself (redirect, 404, 405, 400).
func (pt *parity) directValues(method, host, target string) (pattern string, values map[string]string, ok bool) {
	r, good := parityRequest(method, host, target)
	if !good {
		return "", nil, false
	}
	rec := httptest.NewRecorder()
	pt.direct.ServeHTTP(rec, r)
	if rec.Code != 299 {
		return "", nil, false
	}
	pattern = rec.Header().Get(hdrPattern)
	values = map[string]string{}
	for _, n := range pt.names[pattern] {
		values[n] = rec.Header().Get(hdrValue + n)
	}
	return pattern, values, true
}

// checkAll checks one request with the true wildcard values, with false ones, and with
// the given value for every wildcard.
func (pt *parity) checkAll(t testing.TB, method, host, target, value string) {
	t.Helper()
	if pattern, truth, ok := pt.directValues(method, host, target); ok {
		// An empty wildcard value equals no claim: such a request is refused by design.
		empty := slices.Contains(slices.Collect(maps.Values(truth)), "")
		if !pt.check(t, method, host, target, truth) && !empty {
			t.Errorf("%s %s (Host %s): the router serves %q but the policy refused claims holding its wildcard values %v",
				method, target, host, pattern, truth)
		}
		if len(truth) > 0 {
			lies := map[string]string{}
			for n, v := range truth {
				lies[n] = v + "x"
			}
			pt.check(t, method, host, target, lies)
		}
	}
	all := map[string]string{}
	for _, names := range pt.names {
		for _, n := range names {
			all[n] = value
		}
	}
	pt.check(t, method, host, target, all)
}

func TestRoutingParity(t *testing.T) {
	pt := newParity(t)
	for _, method := range parityMethods {
		for _, host := range parityHosts {
			for _, target := range parityTargets {
				// Claims holding each segment value the targets spell, so that a policy
				// comparing the wrong segment is let through on some request.
				for _, value := range []string{"acme", "globex", "8", "c2", "k2", "h2", "b"} {
					pt.checkAll(t, method, host, target, value)
				}
			}
		}
	}
}

// FuzzRoutingParity checks the routing-parity property on arbitrary requests.
func FuzzRoutingParity(f *testing.F) {
	for i, target := range parityTargets {
		f.Add(parityMethods[i%len(parityMethods)], parityHosts[i%len(parityHosts)], target, "acme")
	}
	f.Add("CONNECT", "example.com", "/tenants/victim/../evil/", "evil")
	pt := newParity(f)
	f.Fuzz(func(t *testing.T, method, host, target, value string) {
		pt.checkAll(t, method, host, target, value)
	})
}
