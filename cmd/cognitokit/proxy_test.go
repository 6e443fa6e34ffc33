package main

import (
	"bufio"
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
)

// The proxy configurations the documentation shows (docs/proxies), as the tests run
// them: only the example addresses are replaced with free loopback ports.
const (
	exampleProxyAddr    = "127.0.0.1:8080"
	exampleServeAddr    = "127.0.0.1:9191"
	exampleUpstreamAddr = "127.0.0.1:8000"
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

// proxyConfig reads a configuration of testdata/proxies with the example addresses
// replaced.
func proxyConfig(t *testing.T, name, proxyAddr, serveAddr, upstreamAddr string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "proxies", name))
	if err != nil {
		t.Fatal(err)
	}
	text := strings.NewReplacer(exampleProxyAddr, proxyAddr, exampleServeAddr, serveAddr, exampleUpstreamAddr, upstreamAddr).Replace(string(b))
	for _, a := range []string{exampleProxyAddr, exampleServeAddr, exampleUpstreamAddr} {
		if !strings.Contains(string(b), a) {
			t.Fatalf("%s does not use the example address %s", name, a)
		}
	}
	return text
}

// startProcess runs a proxy until the test ends and waits for a line of its stderr
// containing ready.
func startProcess(t *testing.T, dir, ready string, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "XDG_CONFIG_HOME=" + dir, "XDG_DATA_HOME=" + dir}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(30 * time.Second): // a guard
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	guard := time.AfterFunc(2*time.Minute, func() { _ = cmd.Process.Kill() })
	var log strings.Builder
	found := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		ok := false
		for sc.Scan() {
			if !ok {
				log.WriteString(sc.Text() + "\n")
				if strings.Contains(sc.Text(), ready) {
					ok = true
					found <- true
				}
			}
		}
		if !ok {
			found <- false
		}
		_ = cmd.Wait()
		close(exited)
	}()
	if !<-found {
		<-exited
		t.Fatalf("%s exited before it was ready:\n%s", name, log.String())
	}
	guard.Stop()
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

// TestThroughNginx: the demo through real nginx auth_request with the configuration of
// docs/proxies/nginx.md.
func TestThroughNginx(t *testing.T) {
	nginx := requireProxy(t, "nginx")
	callers, serveAddr, upAddr := proxyFixture(t)
	dir := t.TempDir()
	proxyAddr := freeAddr(t)
	write(t, filepath.Join(dir, "nginx.conf"), proxyConfig(t, "nginx.conf", proxyAddr, serveAddr, upAddr))
	startProcess(t, dir, "start worker process", nginx, "-p", dir, "-c", "nginx.conf", "-e", "stderr",
		"-g", "error_log stderr notice;")
	throughProxy(t, proxyAddr, callers)
}

// TestThroughCaddy: the demo through real Caddy forward_auth with the configuration of
// docs/proxies/caddy.md; its refusals carry cognitokit's problem body.
func TestThroughCaddy(t *testing.T) {
	caddy := requireProxy(t, "caddy")
	callers, serveAddr, upAddr := proxyFixture(t)
	dir := t.TempDir()
	proxyAddr := freeAddr(t)
	write(t, filepath.Join(dir, "Caddyfile"), proxyConfig(t, "Caddyfile", proxyAddr, serveAddr, upAddr))
	startProcess(t, dir, "serving initial configuration", caddy, "run", "--config", "Caddyfile", "--adapter", "caddyfile")
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
