package main

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cognitokit/cognitokit/internal/testkit"
	"github.com/cognitokit/cognitokit/pkg/cognitotest"
)

// requireProxy skips the test when the proxy's binary is not installed (.ci/run installs
// nginx and caddy, so CI runs these tests).
func requireProxy(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s is not installed, so the tests through a real %s are skipped (apt-get install %s)", name, name, name)
	}
	return path
}

// freeAddr is a loopback address free when asked.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// echoUpstream is a plain service that answers 200 with the identity headers it
// received, as JSON.
func echoUpstream(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen := map[string][]string{}
		for name, v := range r.Header {
			if strings.HasPrefix(name, "X-Auth-Request-") {
				seen[name] = v
			}
		}
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(seen)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// tokenSub is the sub claim of a JWT, read without verification (the test made it).
func tokenSub(t *testing.T, token string) string {
	t.Helper()
	parts := strings.Split(token, ".")
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Sub string `json:"sub"`
	}
	if err := json.Unmarshal(payload, &c); err != nil {
		t.Fatal(err)
	}
	return c.Sub
}

// throughProxy runs the demo's callers on the demo's routes through the proxy at
// proxyAddr, each request also carrying client-made identity headers, and checks: the
// demo's status (200 for the service's own successes); 401s with the Bearer challenge;
// the service sees the caller's sub on token routes, no identity on public routes, and
// never a client-made value.
func throughProxy(t *testing.T, proxyAddr string, callers []caller) {
	t.Helper()
	const spoofed = "spoofed-by-the-client"
	client := &http.Client{Timeout: 30 * time.Second}
	n := 0
	for _, c := range demoCalls() {
		for _, who := range callers {
			want := wantThroughProxy(c, who.name)
			var body io.Reader
			if c.body != "" {
				body = strings.NewReader(c.body)
			}
			req, err := http.NewRequest(c.method, "http://"+proxyAddr+c.path, body)
			if err != nil {
				t.Fatal(err)
			}
			if who.token != "" {
				req.Header.Set("Authorization", "Bearer "+who.token)
			}
			req.Header.Set("X-Auth-Request-User", spoofed)
			req.Header.Set("X-Auth-Request-Groups", spoofed)
			req.Header.Set("x-auth-request-scopes", spoofed)
			resp, err := client.Do(req)
			if err != nil {
				t.Fatalf("%s %s as %s: %v", c.method, c.path, who.name, err)
			}
			raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
			resp.Body.Close()
			n++
			where := c.method + " " + c.path + " as " + who.name
			if resp.StatusCode != want {
				t.Errorf("%s: %d; want %d (%s)", where, resp.StatusCode, want, raw)
				continue
			}
			if resp.StatusCode == 401 && !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), `Bearer realm="orders"`) {
				t.Errorf("%s: 401 with WWW-Authenticate %q", where, resp.Header.Get("WWW-Authenticate"))
			}
			if resp.StatusCode != 200 {
				continue
			}
			var seen map[string][]string
			if err := json.Unmarshal(raw, &seen); err != nil {
				t.Fatalf("%s: the service answered %q: %v", where, raw, err)
			}
			if strings.Contains(string(raw), spoofed) {
				t.Errorf("%s: the service saw a client-made identity header: %s", where, raw)
			}
			for name, v := range seen {
				if len(v) != 1 || v[0] == "" || strings.ContainsAny(v[0], "{}") {
					t.Errorf("%s: the service saw %s %q", where, name, v)
				}
			}
			user := seen["X-Auth-Request-User"]
			switch {
			case c.path == "/healthz" && len(user) != 0:
				t.Errorf("%s: public route, yet the service saw X-Auth-Request-User %q", where, user)
			case c.path != "/healthz" && (len(user) != 1 || user[0] != tokenSub(t, who.token)):
				t.Errorf("%s: the service saw X-Auth-Request-User %q; want the token's sub", where, user)
			}
		}
	}
	t.Logf("%d requests through the proxy", n)
}

// proxyFixture starts a local Cognito, `cognitokit serve` with the demo's policy on the
// example configuration's serve address, and the echoing service.
func proxyFixture(t *testing.T) (callers []caller, serveAddr, upstreamAddr string) {
	t.Helper()
	idp, s := serveDemo(t)
	up := echoUpstream(t)
	return demoCallers(t, idp), s.addr, up.Listener.Addr().String()
}

// runProxyForTest starts the proxy with its documented configuration until the test ends.
func runProxyForTest(t *testing.T, kind, serveAddr, upAddr string) string {
	t.Helper()
	requireProxy(t, proxyKinds[kind].binary)
	proxyAddr := freeAddr(t)
	p, err := startProxy(kind, t.TempDir(), proxyAddr, serveAddr, upAddr, 2*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Stop)
	return proxyAddr
}

// TestThroughNginx: the demo through real nginx auth_request with the configuration of
// docs/proxies/nginx.md.
func TestThroughNginx(t *testing.T) {
	requireProxy(t, "nginx")
	callers, serveAddr, upAddr := proxyFixture(t)
	throughProxy(t, runProxyForTest(t, "nginx", serveAddr, upAddr), callers)
}

// TestThroughCaddy: the demo through real Caddy forward_auth with the configuration of
// docs/proxies/caddy.md; its refusals carry cognitokit's problem body.
func TestThroughCaddy(t *testing.T) {
	requireProxy(t, "caddy")
	callers, serveAddr, upAddr := proxyFixture(t)
	proxyAddr := runProxyForTest(t, "caddy", serveAddr, upAddr)
	throughProxy(t, proxyAddr, callers)

	resp, err := http.Get("http://" + proxyAddr + "/nowhere")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var problem struct {
		Code string `json:"code"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&problem); err != nil || resp.StatusCode != 403 || problem.Code != "no_route" {
		t.Errorf("GET /nowhere through Caddy: %d, code %q (%v); want 403 no_route", resp.StatusCode, problem.Code, err)
	}
}

// TestProxyDocsShowTheTestedConfigurations: each proxy's page shows, whole, the
// configuration the tests run.
func TestProxyDocsShowTheTestedConfigurations(t *testing.T) {
	for doc, config := range map[string]string{"nginx.md": "nginx.conf", "caddy.md": "Caddyfile"} {
		page, err := os.ReadFile(filepath.Join("../../docs/proxies", doc))
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join("testdata/proxies", config))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(page), "\n"+string(b)+"```") {
			t.Errorf("docs/proxies/%s does not show testdata/proxies/%s as it is", doc, config)
		}
	}
}

// TestDemoThroughProxies: `cognitokit demo --proxy` gets the demo's whole table through
// each real proxy, the service behind it trusting only the proxy's identity headers.
func TestDemoThroughProxies(t *testing.T) {
	for _, kind := range []string{"nginx", "caddy"} {
		t.Run(kind, func(t *testing.T) {
			requireProxy(t, kind)
			r := cli(t, "", nil, "demo", "--proxy", kind).must(t, 0)
			if !strings.Contains(r.stdout, " 0 did not") || !strings.Contains(r.stderr, "docs/proxies/"+kind+".md") {
				t.Errorf("demo --proxy %s:\n%s\n%s", kind, r.stdout, r.stderr)
			}
		})
	}
	cli(t, "", nil, "demo", "--proxy", "apache").must(t, 2)
}

// TestRevocationThroughNginx: behind real nginx, `cognitokit revoke` of a client turns
// its token, served a moment before, into 401 token_revoked at the proxy.
func TestRevocationThroughNginx(t *testing.T) {
	requireProxy(t, "nginx")
	redisURL := "redis://" + testkit.StartRedis(t)
	idp, s := serveDemo(t, "--redis-url", redisURL)
	up := echoUpstream(t)
	proxyAddr := runProxyForTest(t, "nginx", s.addr, up.Listener.Addr().String())
	reader, _ := idp.Client("orders-reader")
	tok, err := idp.MintAccessToken(cognitotest.TokenOptions{Client: "orders-reader", Scopes: []string{"orders/read"}})
	if err != nil {
		t.Fatal(err)
	}
	get := func() *http.Response {
		req, _ := http.NewRequest("GET", "http://"+proxyAddr+"/orders/1", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := testHTTP.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if resp := get(); resp.StatusCode != 200 {
		t.Fatalf("through nginx before the revocation: %d; want 200", resp.StatusCode)
	}
	cli(t, "", nil, "revoke", "--redis-url", redisURL, "--client-id", reader.ID).must(t, 0)
	deadline := time.Now().Add(30 * time.Second) // a guard: the list applies it within a second
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for ; ; <-tick.C {
		resp := get()
		if resp.StatusCode == 401 {
			if c := resp.Header.Get("WWW-Authenticate"); !strings.Contains(c, `error_description="token_revoked"`) {
				t.Errorf("revoked token through nginx: WWW-Authenticate %q; want token_revoked", c)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the revoked client's token still gets %d through nginx after 30s", resp.StatusCode)
		}
	}
}
