package forwardauth_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/cognitokit/cognitokit/internal/forwardauth"
	"github.com/cognitokit/cognitokit/pkg/policy"
)

var tricky = []string{
	"/", "*", "/a", "/a/../b", "//a", "/a%2Fb", "/a%zz", "/%", "/a?b=c", "/a?", "/a#frag", "/ä",
	"http://h.example/x", "https://h.example:8443/x?y", "h.example:443", "h.example", "mailto:x", "a/b",
	"/a\\b", "/a%00b", `/"quoted"`, "/a;b", "/{x}",
}

// goServer returns a function sending a raw request to a real Go HTTP server and
// returning the request its handler saw; ok is false when the server refused it.
func goServer(t *testing.T) func(raw string) (seen *http.Request, ok bool) {
	seen := make(chan *http.Request, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen <- r.Clone(context.Background())
	}))
	t.Cleanup(srv.Close)
	return func(raw string) (*http.Request, bool) {
		conn, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if _, err := io.WriteString(conn, raw); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("reading the answer to %q: %v", raw, err)
		}
		resp.Body.Close()
		select {
		case r := <-seen:
			return r, true
		default:
			return nil, false
		}
	}
}

// TestOriginalRequestMatchesReadRequest: the request rebuilt from a proxy's headers is
// the one a real Go server hands its handler for the same request line and Host: same
// method, URL, host and target, and refused exactly when the server refuses it.
func TestOriginalRequestMatchesReadRequest(t *testing.T) {
	server := goServer(t)
	d, err := forwardauth.New(forwardauth.Config{Guard: forwardauth.Static(nil), Verifier: unavailable{}})
	if err != nil {
		t.Fatal(err)
	}
	for _, method := range []string{"GET", "CONNECT", "OPTIONS", "PURGE", "get", "M-SEARCH", "G(T", "GÉT"} {
		for _, target := range tricky {
			for _, host := range []string{"example.com", "example.com:8080", "[::1]:80", "bad host", "a/b", ""} {
				if method == "OPTIONS" && target == "*" {
					continue // a Go server answers it itself, without calling a handler
				}
				want, wantOK := server(rawRequest(method, target, host, "Connection", "close"))
				in := httptest.NewRequest("GET", forwardauth.ForwardPath, nil)
				in.RemoteAddr = "127.0.0.1:1"
				in.Header.Set("X-Forwarded-Method", method)
				in.Header.Set("X-Forwarded-Uri", target)
				in.Header.Set("X-Forwarded-Host", host)
				if host == "" {
					in.Host = ""
				}
				got, err := d.Original(forwardauth.ForwardAuth, in)
				switch {
				case wantOK != (err == nil):
					t.Errorf("%s %s host %q: server accepts=%v, Original error %v", method, target, host, wantOK, err)
				case wantOK:
					if got.Method != want.Method || got.URL.String() != want.URL.String() || got.Host != want.Host ||
						got.RequestURI != want.RequestURI || got.URL.Path != want.URL.Path || got.URL.RawPath != want.URL.RawPath {
						t.Errorf("%s %s host %q: got %s %q host %q; the server parses %s %q host %q", method, target, host,
							got.Method, got.URL, got.Host, want.Method, want.URL, want.Host)
					}
				}
			}
		}
	}
}

func problemCode(t *testing.T, rec *httptest.ResponseRecorder) string {
	t.Helper()
	var p struct {
		Code   string `json:"code"`
		Detail string `json:"detail"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
		t.Fatalf("body %q is not a problem: %v", rec.Body, err)
	}
	return p.Code
}

// TestBadInput: requests that do not describe an original request get 400 (or the
// middleware's 401 for Authorization problems), with a problem body, never a crash.
func TestBadInput(t *testing.T) {
	f := newFixture(t)
	p := policies(t)["examples/orders/routes.yaml"]
	h := newDecider(t, forwardauth.Static(p), f.authz).Handler(http.NotFoundHandler())
	admin := f.callers[3].auth[0]
	for _, tc := range []struct {
		name    string
		raw     string
		status  int
		code    string
		contain string
	}{
		{"nginx without X-Original-URI", rawRequest("GET", "/auth/nginx", "x", "X-Original-Method", "GET", "Authorization", admin), 400, "bad_request", "X-Original-URI"},
		{"nginx without X-Original-Method", rawRequest("GET", "/auth/nginx", "x", "X-Original-URI", "/me", "Authorization", admin), 400, "bad_request", "X-Original-Method"},
		{"two X-Original-URI", rawRequest("GET", "/auth/nginx", "x", "X-Original-Method", "GET", "X-Original-URI", "/me", "X-Original-URI", "/healthz"), 400, "bad_request", "more than once"},
		{"two X-Forwarded-Host", rawRequest("GET", "/auth/forward", "x", "X-Forwarded-Method", "GET", "X-Forwarded-Uri", "/me", "X-Forwarded-Host", "a", "X-Forwarded-Host", "b"), 400, "bad_request", "more than once"},
		{"forward without X-Forwarded-Uri", rawRequest("GET", "/auth/forward", "x", "X-Forwarded-Method", "GET"), 400, "bad_request", "X-Forwarded-Uri"},
		{"garbage method", rawRequest("GET", "/auth/forward", "x", "X-Forwarded-Method", "G E T", "X-Forwarded-Uri", "/me"), 400, "bad_request", "method"},
		{"long method", rawRequest("GET", "/auth/forward", "x", "X-Forwarded-Method", strings.Repeat("G", 65), "X-Forwarded-Uri", "/me"), 400, "bad_request", "method"},
		{"absurd target", rawRequest("GET", "/auth/forward", "x", "X-Forwarded-Method", "GET", "X-Forwarded-Uri", "/"+strings.Repeat("a", 9000)), 400, "bad_request", "too long"},
		{"absurd host", rawRequest("GET", "/auth/forward", "x", "X-Forwarded-Method", "GET", "X-Forwarded-Uri", "/me", "X-Forwarded-Host", strings.Repeat("h", 2000)), 400, "bad_request", "too long"},
		{"target with a space", rawRequest("GET", "/auth/forward", "x", "X-Forwarded-Method", "GET", "X-Forwarded-Uri", "/healthz HTTP/1.1"), 400, "bad_request", "target"},
		{"host with a space", rawRequest("GET", "/auth/forward", "x", "X-Forwarded-Method", "GET", "X-Forwarded-Uri", "/healthz", "X-Forwarded-Host", "a b"), 400, "bad_request", "host"},
		{"relative target", rawRequest("GET", "/auth/forward", "x", "X-Forwarded-Method", "GET", "X-Forwarded-Uri", "healthz"), 400, "bad_request", "target"},
		{"X-Original-URL not a URL", rawRequest("GET", "/auth/nginx", "x", "X-Original-Method", "GET", "X-Original-URL", "/healthz"), 400, "bad_request", "X-Original-URL"},
		{"envoy prefix without a path", rawRequest("GET", "/auth/envoyhealthz", "x"), 404, "", ""},
		{"two Authorization headers", rawRequest("GET", "/auth/forward", "x", "X-Forwarded-Method", "GET", "X-Forwarded-Uri", "/me", "Authorization", admin, "Authorization", admin), 401, "authentication_required", "Bearer"},
		{"Authorization not bearer", rawRequest("GET", "/auth/forward", "x", "X-Forwarded-Method", "GET", "X-Forwarded-Uri", "/me", "Authorization", "Basic eDp5"), 401, "authentication_required", "bearer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, ok := readRequest(t, tc.raw, "127.0.0.1:9")
			if !ok {
				t.Fatalf("request refused by the parser")
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			if rec.Code != tc.status {
				t.Fatalf("status %d (%s); want %d", rec.Code, rec.Body, tc.status)
			}
			if tc.code == "" {
				return
			}
			if code := problemCode(t, rec); code != tc.code || !strings.Contains(rec.Body.String(), tc.contain) {
				t.Errorf("body %s; want code %q and %q", rec.Body, tc.code, tc.contain)
			}
			if rec.Code == 401 && !strings.HasPrefix(rec.Header().Get("WWW-Authenticate"), "Bearer ") {
				t.Errorf("401 without a Bearer challenge")
			}
			if strings.Contains(rec.Body.String(), admin[len("Bearer "):]) {
				t.Errorf("the answer echoes the token")
			}
		})
	}
}

// TestUntrustedPeerIsJudgedOnItsOwnRequest: forwarded and original headers from a peer
// that is not a trusted proxy change nothing: the answer is the middleware's for the
// peer's own request line, whatever path it claims.
func TestUntrustedPeerIsJudgedOnItsOwnRequest(t *testing.T) {
	f := newFixture(t)
	for _, name := range []string{"examples/orders/routes.yaml", "pkg/policy/testdata/with-openapi.yaml"} {
		p := policies(t)[name]
		h := newDecider(t, forwardauth.Static(p), f.authz).Handler(http.NotFoundHandler())
		for _, c := range f.callers {
			for _, target := range []string{"/healthz", "/internal/prices/1", "/me", "/tenants/acme/orders", "/"} {
				for _, tc := range []struct{ path, host string }{
					{forwardauth.NginxPath, "auth.internal"},
					{forwardauth.ForwardPath, "auth.internal"},
					{"/auth/envoy/me", "api.example.com"},
				} {
					spoofed := append([]string{
						"X-Original-Method", "GET", "X-Original-URI", target, "X-Original-URL", "http://api.example.com" + target,
						"X-Forwarded-Method", "GET", "X-Forwarded-Uri", target, "X-Forwarded-Host", "api.example.com",
						"X-Forwarded-Prefix", "/", "Forwarded", "for=127.0.0.1;host=api.example.com", "X-Forwarded-For", "127.0.0.1",
					}, authHeaders(c)...)
					raw := rawRequest("GET", tc.path, tc.host, spoofed...)
					own, _ := readRequest(t, rawRequest("GET", tc.path, tc.host, authHeaders(c)...), "198.51.100.7:1")
					ref, claims := reference(p, f.authz, own)
					for _, peer := range []string{"198.51.100.7:1", "[2001:db8::1]:2", "10.0.0.1:3"} {
						r, _ := readRequest(t, raw, peer)
						got := httptest.NewRecorder()
						h.ServeHTTP(got, r)
						if msg := compare(ref, claims, got); msg != "" {
							t.Errorf("%s: %s from %s claiming %s as %s: %s", name, tc.path, peer, target, c.name, msg)
						}
					}
				}
			}
		}
	}
}

// TestTrustedProxies: only the configured prefixes are believed; IPv4-mapped IPv6 peers
// count as their IPv4 address; an empty list trusts nobody.
func TestTrustedProxies(t *testing.T) {
	f := newFixture(t)
	p := policies(t)["examples/orders/routes.yaml"]
	try := func(trusted []netip.Prefix, peer string) int {
		d, err := forwardauth.New(forwardauth.Config{Guard: forwardauth.Static(p), Verifier: f.authz, TrustedProxies: trusted})
		if err != nil {
			t.Fatal(err)
		}
		r, _ := readRequest(t, rawRequest("GET", forwardauth.ForwardPath, "x", "X-Forwarded-Method", "GET", "X-Forwarded-Uri", "/healthz"), peer)
		rec := httptest.NewRecorder()
		d.Handler(http.NotFoundHandler()).ServeHTTP(rec, r)
		return rec.Code // 200 when believed (public /healthz); 403 no_route when judged as /auth/forward
	}
	tenOne := []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16")}
	for _, tc := range []struct {
		trusted []netip.Prefix
		peer    string
		want    int
	}{
		{nil, "127.0.0.1:1", 200},
		{nil, "127.9.9.9:1", 200},
		{nil, "[::1]:1", 200},
		{nil, "[::ffff:127.0.0.1]:1", 200},
		{nil, "10.1.2.3:1", 403},
		{tenOne, "10.1.2.3:1", 200},
		{tenOne, "[::ffff:10.1.2.3]:1", 200},
		{tenOne, "127.0.0.1:1", 403},
		{tenOne, "10.2.0.1:1", 403},
		{[]netip.Prefix{}, "127.0.0.1:1", 403},
		{nil, "not-an-address", 403},
	} {
		if got := try(tc.trusted, tc.peer); got != tc.want {
			t.Errorf("trusted %v, peer %s: status %d; want %d", tc.trusted, tc.peer, got, tc.want)
		}
	}
}

// FuzzEndpoints: whatever a peer sends, the endpoints answer 200, 400, 401 or 403 and
// never panic.
func FuzzEndpoints(f *testing.F) {
	p, err := policy.Load("../../examples/orders/routes.yaml")
	if err != nil {
		f.Fatal(err)
	}
	d, err := forwardauth.New(forwardauth.Config{Guard: forwardauth.Static(p), Verifier: unavailable{}})
	if err != nil {
		f.Fatal(err)
	}
	h := d.Handler(http.NotFoundHandler())
	f.Add("/auth/nginx", "GET", "/healthz", "example.com", "", "")
	f.Add("/auth/forward", "POST", "/orders", "example.com", "", "Bearer x")
	f.Add("/auth/envoy/orders/1", "DELETE", "", "example.com:1", "http://a/b", "Bearer a.b.c")
	f.Add("/auth/nginx", "CONNECT", "example.com:443", "", "https://x/y?z", "")
	f.Fuzz(func(t *testing.T, path, method, target, host, url, auth string) {
		r := httptest.NewRequest("GET", "/", nil)
		r.RequestURI, r.URL.Path, r.RemoteAddr = path, path, "127.0.0.1:1"
		for _, kv := range [][2]string{
			{"X-Original-Method", method}, {"X-Original-URI", target}, {"X-Original-URL", url},
			{"X-Forwarded-Method", method}, {"X-Forwarded-Uri", target}, {"X-Forwarded-Host", host}, {"Authorization", auth},
		} {
			if kv[1] != "" {
				r.Header.Set(kv[0], kv[1])
			}
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		switch rec.Code {
		case 200, 400, 401, 403, 404, 503:
		default:
			t.Fatalf("status %d", rec.Code)
		}
	})
}
