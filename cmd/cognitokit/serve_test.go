package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/cognitokit/cognitokit/internal/testkit"
	"github.com/cognitokit/cognitokit/pkg/cognitotest"
)

// served is a running `cognitokit serve`.
type served struct {
	cmd      *exec.Cmd
	addr     string // host:port it answers on
	grpcAddr string // host:port of its gRPC service, with --grpc-listen
	lines    chan string
	mu       sync.Mutex
	stderr   strings.Builder
	exited   chan struct{}
	err      error // of Wait, once exited is closed
}

// startServe runs `cognitokit serve --listen 127.0.0.1:0 args...` and waits until it
// says where it serves. The process is stopped at the end of the test.
func startServe(t *testing.T, args ...string) *served {
	t.Helper()
	s := launchServe(t, args...)
	for line := range s.lines {
		if _, after, ok := strings.Cut(line, "msg=serving addr=http://"); ok {
			s.addr, _, _ = strings.Cut(after, " ")
			if _, after, ok := strings.Cut(line, " grpc="); ok {
				s.grpcAddr, _, _ = strings.Cut(after, " ")
			}
			return s
		}
	}
	<-s.exited
	t.Fatalf("serve exited before serving: %v\n%s", s.err, s.output())
	return nil
}

// launchServe starts the process and collects its stderr, one line at a time on lines.
func launchServe(t *testing.T, args ...string) *served {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"serve", "--listen", "127.0.0.1:0"}, args...)...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &served{cmd: cmd, lines: make(chan string, 1024), exited: make(chan struct{})}
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			s.mu.Lock()
			s.stderr.WriteString(sc.Text() + "\n")
			s.mu.Unlock()
			select {
			case s.lines <- sc.Text():
			default: // nobody is reading: the line stays in stderr
			}
		}
		s.err = cmd.Wait()
		close(s.lines)
		close(s.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-s.exited:
		default:
			_ = cmd.Process.Kill()
			<-s.exited
		}
	})
	// A guard, not a timing assertion: a start-up that hangs fails the test instead of
	// the whole run.
	guard := time.AfterFunc(2*time.Minute, func() { _ = cmd.Process.Kill() })
	t.Cleanup(func() { guard.Stop() })
	return s
}

func (s *served) output() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stderr.String()
}

// waitLog waits for a stderr line containing want.
func (s *served) waitLog(t *testing.T, want string) {
	t.Helper()
	for line := range s.lines {
		if strings.Contains(line, want) {
			return
		}
	}
	t.Fatalf("serve exited without logging %q:\n%s", want, s.output())
}

// stop sends SIGTERM and returns the exit error.
func (s *served) stop(t *testing.T) error {
	t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	<-s.exited
	return s.err
}

// demoCallers are the demo's callers, with tokens minted by idp: three app clients, two
// users' ID tokens, an expired token, and nobody.
func demoCallers(t *testing.T, idp *cognitotest.Server) []caller {
	t.Helper()
	callers := []caller{{name: "(no token)"}}
	add := func(name, tok string, err error) {
		if err != nil {
			t.Fatal(err)
		}
		callers = append(callers, caller{name: name, token: tok})
	}
	for _, c := range []string{"orders-reader", "orders-writer", "orders-admin"} {
		tok, err := idp.MintAccessToken(cognitotest.TokenOptions{Client: c})
		add(c, tok, err)
	}
	for _, u := range []string{"alice", "bob"} {
		tok, err := idp.MintIDToken(cognitotest.TokenOptions{Username: u, Client: "orders-reader"})
		add(u+" (ID token)", tok, err)
	}
	tok, err := idp.MintAccessToken(cognitotest.TokenOptions{Client: "orders-admin", IssuedAt: time.Now().Add(-2 * time.Hour)})
	add("expired", tok, err)
	return callers
}

// wantThroughProxy is the status a demo call must get from an auth endpoint: the
// demo's, but 200 where the service itself answers a success of its own (201, 204).
func wantThroughProxy(c call, who string) int {
	want, ok := c.want[who]
	if !ok {
		want = c.wantOthers
	}
	if want < 300 {
		return http.StatusOK
	}
	return want
}

var testHTTP = &http.Client{Timeout: 30 * time.Second}

// ask asks serve at addr about method path as a proxy of protocol proto would.
func ask(t *testing.T, addr, proto, method, path, token string, extra ...string) *http.Response {
	t.Helper()
	var req *http.Request
	var err error
	switch proto {
	case "nginx":
		req, err = http.NewRequest("GET", "http://"+addr+"/auth/nginx", nil)
		if err == nil {
			req.Header.Set("X-Original-Method", method)
			req.Header.Set("X-Original-URI", path)
		}
	case "forward":
		req, err = http.NewRequest("GET", "http://"+addr+"/auth/forward", nil)
		if err == nil {
			req.Header.Set("X-Forwarded-Method", method)
			req.Header.Set("X-Forwarded-Uri", path)
			req.Header.Set("X-Forwarded-Host", "orders.example.com")
		}
	case "envoy":
		req, err = http.NewRequest(method, "http://"+addr+"/auth/envoy"+path, nil)
	}
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(extra); i += 2 {
		req.Header.Set(extra[i], extra[i+1])
	}
	resp, err := testHTTP.Do(req)
	if err != nil {
		t.Fatalf("%s %s through %s: %v", method, path, proto, err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

// serveDemo is a local Cognito and `cognitokit serve` with the demo's policy.
func serveDemo(t *testing.T, extra ...string) (*cognitotest.Server, *served) {
	t.Helper()
	idp := cognitotest.Start(t, cognitotest.DefaultConfig())
	args := append([]string{"--policy", "../../examples/orders/routes.yaml", "--realm", "orders",
		"--user-pool-id", idp.Pools()[0].ID, "--endpoint", idp.BaseURL(), "--any-client"}, extra...)
	return idp, startServe(t, args...)
}

// TestServeAnswersTheDemo: every caller of the demo on every route of the demo gets,
// through each HTTP endpoint, the status the demo expects of the Go service (200 for
// the service's own successes); 401s carry the Bearer challenge; allowed token requests
// carry the caller's identity.
func TestServeAnswersTheDemo(t *testing.T) {
	idp, s := serveDemo(t)
	callers := demoCallers(t, idp)
	for _, c := range demoCalls() {
		for _, who := range callers {
			want := wantThroughProxy(c, who.name)
			for _, proto := range []string{"nginx", "forward", "envoy"} {
				resp := ask(t, s.addr, proto, c.method, c.path, who.token)
				if resp.StatusCode != want {
					t.Errorf("%s %s as %s through %s: %d; want %d", c.method, c.path, who.name, proto, resp.StatusCode, want)
				}
				if resp.StatusCode == 401 && !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), `Bearer realm="orders"`) {
					t.Errorf("%s %s as %s through %s: 401 with WWW-Authenticate %q", c.method, c.path, who.name, proto, resp.Header.Get("WWW-Authenticate"))
				}
				if resp.StatusCode == 200 && who.token != "" && c.path != "/healthz" && resp.Header.Get("X-Auth-Request-User") == "" {
					t.Errorf("%s %s as %s through %s: allowed without X-Auth-Request-User", c.method, c.path, who.name, proto)
				}
			}
		}
	}
	for _, path := range []string{"/healthz", "/readyz"} {
		resp, err := testHTTP.Get("http://" + s.addr + path)
		if err != nil || resp.StatusCode != 200 {
			t.Errorf("GET %s: %v %v", path, resp, err)
		} else {
			resp.Body.Close()
		}
	}
	// /metrics: the decisions and verifications of the requests above, in Prometheus
	// text, with bounded attribute values only.
	resp, err := testHTTP.Get("http://" + s.addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	for _, want := range []string{`cognitokit_policy_decisions_total{`, `outcome="allow"`, `outcome="insufficient_scope"`,
		`cognitokit_verifications_total{`, `cognitokit_jwks_fetches_total{`} {
		if resp.StatusCode != 200 || !strings.Contains(string(body), want) {
			t.Errorf("GET /metrics: %d, no %s in:\n%.2000s", resp.StatusCode, want, body)
		}
	}
	if err := s.stop(t); err != nil {
		t.Errorf("serve did not stop cleanly on SIGTERM: %v\n%s", err, s.output())
	}
}

// TestServeIdentityHeaderFlags: --header adds a header from any claim and removes a
// default one; --trusted-proxy replaces loopback, so a loopback peer is judged on its
// own request.
func TestServeIdentityHeaderFlags(t *testing.T) {
	idp, s := serveDemo(t, "--header", "X-Auth-Request-Tenant=custom:tenant", "--header", "X-Auth-Request-Email=")
	tok, err := idp.MintIDToken(cognitotest.TokenOptions{Username: "alice", Client: "orders-reader"})
	if err != nil {
		t.Fatal(err)
	}
	resp := ask(t, s.addr, "forward", "GET", "/tenants/acme/orders", tok)
	if resp.StatusCode != 200 || resp.Header.Get("X-Auth-Request-Tenant") != "acme" ||
		resp.Header.Get("X-Auth-Request-Email") != "" || resp.Header.Get("X-Auth-Request-Username") != "alice" {
		t.Errorf("status %d, headers %v", resp.StatusCode, resp.Header)
	}

	_, s = serveDemo(t, "--trusted-proxy", "192.0.2.0/24")
	resp = ask(t, s.addr, "forward", "GET", "/healthz", "")
	if resp.StatusCode != 403 {
		t.Errorf("GET /healthz claimed by an untrusted loopback peer: %d; want 403 (judged as GET /auth/forward: no route)", resp.StatusCode)
	}
}

// TestServeStartupFailures: serve starts only with a policy that loads and keys it can
// load, and otherwise says why and exits 2.
func TestServeStartupFailures(t *testing.T) {
	idp := cognitotest.Start(t, cognitotest.DefaultConfig())
	pool := []string{"--user-pool-id", idp.Pools()[0].ID, "--endpoint", idp.BaseURL(), "--any-client"}
	dir := t.TempDir()
	badPolicy := filepath.Join(dir, "bad.yaml")
	write(t, badPolicy, "version: 1\nroutes:\n  \"GET /x\":\n    scopez: [a]\n")
	closed := closedAddr(t)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no policy", pool, "--policy"},
		{"missing policy", append([]string{"--policy", filepath.Join(dir, "nope.yaml")}, pool...), "nope.yaml"},
		{"bad policy", append([]string{"--policy", badPolicy}, pool...), "bad.yaml:4:5"},
		{"keys unreachable", []string{"--policy", "../../examples/orders/routes.yaml", "--user-pool-id", "us-east-1_X",
			"--endpoint", "http://" + closed, "--any-client", "--warm-timeout", "20s"}, "keys cannot be loaded"},
		{"no pool", []string{"--policy", "../../examples/orders/routes.yaml"}, "--user-pool-id"},
		{"bad trusted proxy", append([]string{"--policy", "../../examples/orders/routes.yaml", "--trusted-proxy", "nonsense"}, pool...), "nonsense"},
		{"bad header", append([]string{"--policy", "../../examples/orders/routes.yaml", "--header", "Bad Name=sub"}, pool...), "header"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := cli(t, "", nil, append([]string{"serve", "--listen", "127.0.0.1:0"}, tc.args...)...)
			if r.code != 2 || !strings.Contains(r.stderr, tc.want) {
				t.Errorf("exit %d, stderr %q; want 2 and %q", r.code, r.stderr, tc.want)
			}
		})
	}
	// An address in use.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	r := cli(t, "", nil, append([]string{"serve", "--listen", ln.Addr().String(), "--policy", "../../examples/orders/routes.yaml"}, pool...)...)
	if r.code != 2 || !strings.Contains(r.stderr, "address already in use") {
		t.Errorf("address in use: exit %d, stderr %q", r.code, r.stderr)
	}
}

// closedAddr is a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestServeConfigFile: every flag can come from --config, paths relative to the file;
// the command line wins; every mistake is reported at its file:line:col.
func TestServeConfigFile(t *testing.T) {
	idp := cognitotest.Start(t, cognitotest.DefaultConfig())
	dir := t.TempDir()
	routes, err := os.ReadFile("../../examples/orders/routes.yaml")
	if err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, "routes.yaml"), string(routes))
	cfg := filepath.Join(dir, "serve.yaml")
	write(t, cfg, fmt.Sprintf(`# serve's flags
policy: routes.yaml
user-pool-id: %s
endpoint: %s
any-client: true
realm: from-file
header: [X-Auth-Request-Tenant=custom:tenant]
trusted-proxy: [127.0.0.1, "::1"]
`, idp.Pools()[0].ID, idp.BaseURL()))
	s := startServe(t, "--config", cfg, "--realm", "from-flag")
	resp := ask(t, s.addr, "nginx", "GET", "/me", "")
	if resp.StatusCode != 401 || !strings.Contains(resp.Header.Get("WWW-Authenticate"), `realm="from-flag"`) {
		t.Errorf("status %d, challenge %q; want 401 in realm from-flag", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
	tok, _ := idp.MintIDToken(cognitotest.TokenOptions{Username: "bob", Client: "orders-reader"})
	if resp := ask(t, s.addr, "nginx", "GET", "/tenants/globex/orders", tok); resp.StatusCode != 200 || resp.Header.Get("X-Auth-Request-Tenant") != "globex" {
		t.Errorf("status %d, headers %v", resp.StatusCode, resp.Header)
	}

	bad := filepath.Join(dir, "bad.yaml")
	write(t, bad, "policy: routes.yaml\nlisten-on: x\nleeway: 5 parsecs\nrealm: [a, b]\nconfig: other.yaml\n")
	r := cli(t, "", nil, "serve", "--config", bad)
	for _, want := range []string{"bad.yaml:2:1", "listen-on", "bad.yaml:3:9", "parsecs", "bad.yaml:4:8", "bad.yaml:5:1"} {
		if r.code != 2 || !strings.Contains(r.stderr, want) {
			t.Errorf("bad config: exit %d, stderr %q; want 2 and %q", r.code, r.stderr, want)
		}
	}
}

// TestServeReload: a changed policy is in force after SIGHUP; a broken one is refused
// and the last good one stays in force.
func TestServeReload(t *testing.T) {
	idp := cognitotest.Start(t, cognitotest.DefaultConfig())
	routes := filepath.Join(t.TempDir(), "routes.yaml")
	write(t, routes, "version: 1\nroutes:\n  \"GET /a\": {public: true}\n")
	s := startServe(t, "--policy", routes, "--user-pool-id", idp.Pools()[0].ID, "--endpoint", idp.BaseURL(), "--any-client")
	status := func(path string) int { return ask(t, s.addr, "forward", "GET", path, "").StatusCode }
	if a, b := status("/a"), status("/b"); a != 200 || b != 403 {
		t.Fatalf("before: /a %d, /b %d", a, b)
	}
	write(t, routes, "version: 1\nroutes:\n  \"GET /b\": {public: true}\n")
	if err := s.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	s.waitLog(t, "policy reloaded")
	if a, b := status("/a"), status("/b"); a != 403 || b != 200 {
		t.Errorf("after the change: /a %d, /b %d", a, b)
	}
	write(t, routes, "version: 1\nroutes:\n  \"GET /c\": {public: maybe}\n")
	if err := s.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	s.waitLog(t, "policy reload failed")
	if b, c := status("/b"), status("/c"); b != 200 || c != 403 {
		t.Errorf("after a broken change: /b %d, /c %d; want the last good policy", b, c)
	}
	if err := s.stop(t); err != nil {
		t.Errorf("stop: %v", err)
	}
}

// TestServeGracefulShutdown: requests in flight when SIGTERM arrives are answered, not
// dropped, and serve exits 0.
func TestServeGracefulShutdown(t *testing.T) {
	// The local Cognito sits behind a gate that holds JWKS requests: a token signed with
	// a key serve has not seen makes it refetch, and every request with that token waits
	// for the fetch.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	idp, err := cognitotest.New("http://"+ln.Addr().String(), cognitotest.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	var gate struct {
		sync.Mutex
		armed   bool
		arrived chan struct{}
		release chan struct{}
	}
	gate.arrived, gate.release = make(chan struct{}), make(chan struct{})
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gate.Lock()
		hold := gate.armed && strings.HasSuffix(r.URL.Path, "/jwks.json")
		gate.armed = gate.armed && !hold
		gate.Unlock()
		if hold {
			close(gate.arrived)
			<-gate.release
		}
		idp.ServeHTTP(w, r)
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })

	pool := idp.Pools()[0].ID
	s := startServe(t, "--policy", "../../examples/orders/routes.yaml", "--user-pool-id", pool, "--endpoint", idp.BaseURL(), "--any-client")
	if err := idp.RotateKeys(pool); err != nil {
		t.Fatal(err)
	}
	tok, err := idp.MintAccessToken(cognitotest.TokenOptions{Client: "orders-reader"})
	if err != nil {
		t.Fatal(err)
	}
	gate.Lock()
	gate.armed = true
	gate.Unlock()

	// Each request on its own connection, so that "written" means "on a connection serve
	// has accepted or will accept next".
	fresh := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 2 * time.Minute}
	const n = 8
	statuses := make(chan int, n)
	var wrote sync.WaitGroup
	wrote.Add(n)
	for range n {
		go func() {
			trace := &httptrace.ClientTrace{WroteRequest: func(httptrace.WroteRequestInfo) { wrote.Done() }}
			req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace),
				"GET", "http://"+s.addr+"/auth/forward", nil)
			req.Header.Set("X-Forwarded-Method", "GET")
			req.Header.Set("X-Forwarded-Uri", "/orders/1")
			req.Header.Set("Authorization", "Bearer "+tok)
			resp, err := fresh.Do(req)
			if err != nil {
				t.Errorf("request in flight dropped: %v", err)
				statuses <- 0
				return
			}
			resp.Body.Close()
			statuses <- resp.StatusCode
		}()
	}
	select {
	case <-gate.arrived:
	case <-time.After(time.Minute): // a guard
		t.Fatal("serve never fetched the rotated keys")
	}
	// Every request is written. In flight means read by serve: net/http drops a request it
	// accepted but had not read when shutdown began (its connection is closed unanswered),
	// so wait until serve's side of every connection has nothing left to read.
	wrote.Wait()
	_, port, _ := net.SplitHostPort(s.addr)
	for tick := time.NewTicker(5 * time.Millisecond); ; {
		read, err := requestsRead(port)
		if err != nil {
			t.Skipf("cannot tell which requests serve has read: %v", err)
		}
		if read >= n {
			tick.Stop()
			break
		}
		select {
		case <-tick.C:
		case <-time.After(time.Minute): // a guard
			t.Fatalf("serve read %d of the %d requests", read, n)
		}
	}
	// The fetch is held: the requests are in flight. Stop serve, and let the fetch go
	// only once serve says it is shutting down.
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	s.waitLog(t, "shutting down")
	if len(statuses) != 0 {
		t.Fatal("a request was answered before the keys were released: the test proves nothing")
	}
	close(gate.release)
	for range n {
		if st := <-statuses; st != 200 {
			t.Errorf("request in flight: status %d; want 200", st)
		}
	}
	<-s.exited
	if s.err != nil {
		var ee *exec.ExitError
		if !errors.As(s.err, &ee) || ee.ExitCode() != 0 {
			t.Errorf("serve exit: %v\n%s", s.err, s.output())
		}
	}
}

// TestServeGRPC: Envoy's gRPC ext_authz on --grpc-listen gives the demo's callers the
// demo's statuses, with the challenge on 401s, identity headers on allowed requests and,
// with --grpc-remove-authorization, the token removed.
func TestServeGRPC(t *testing.T) {
	idp, s := serveDemo(t, "--grpc-listen", "127.0.0.1:0", "--grpc-remove-authorization")
	if s.grpcAddr == "" {
		t.Fatalf("no gRPC address logged:\n%s", s.output())
	}
	conn, err := grpc.NewClient(s.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := authv3.NewAuthorizationClient(conn)
	for _, c := range demoCalls() {
		for _, who := range demoCallers(t, idp) {
			headers := map[string]string{}
			if who.token != "" {
				headers["authorization"] = "Bearer " + who.token
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			resp, err := client.Check(ctx, &authv3.CheckRequest{Attributes: &authv3.AttributeContext{Request: &authv3.AttributeContext_Request{
				Http: &authv3.AttributeContext_HttpRequest{Method: c.method, Path: c.path, Host: "orders.example.com", Headers: headers},
			}}})
			cancel()
			if err != nil {
				t.Fatalf("%s %s as %s: %v", c.method, c.path, who.name, err)
			}
			got := 200
			if d := resp.GetDeniedResponse(); d != nil {
				got = int(d.GetStatus().GetCode())
			}
			where := c.method + " " + c.path + " as " + who.name
			if want := wantThroughProxy(c, who.name); got != want {
				t.Errorf("%s: %d; want %d", where, got, want)
			}
			if got == 401 && !slices.ContainsFunc(resp.GetDeniedResponse().GetHeaders(), func(h *corev3.HeaderValueOption) bool {
				return h.GetHeader().GetKey() == "Www-Authenticate" && strings.HasPrefix(h.GetHeader().GetValue(), `Bearer realm="orders"`)
			}) {
				t.Errorf("%s: 401 without the challenge: %v", where, resp)
			}
			if ok := resp.GetOkResponse(); ok != nil && who.token != "" && c.path != "/healthz" &&
				(!slices.Contains(ok.GetHeadersToRemove(), "authorization") || len(ok.GetHeaders()) == 0) {
				t.Errorf("%s: allowed answer %v", where, ok)
			}
		}
	}
	if err := s.stop(t); err != nil {
		t.Errorf("serve did not stop cleanly: %v\n%s", err, s.output())
	}
}

// TestServeEnforcesRevocations: serve --redis-url enforces the fleet's revocation list: a
// client cut-off written with `cognitokit revoke` turns the client's token, allowed a
// moment before, into 401 token_revoked, without a restart.
func TestServeEnforcesRevocations(t *testing.T) {
	redisURL := "redis://" + testkit.StartRedis(t)
	idp, s := serveDemo(t, "--redis-url", redisURL)
	reader, _ := idp.Client("orders-reader")
	tok, err := idp.MintAccessToken(cognitotest.TokenOptions{Client: "orders-reader", Scopes: []string{"orders/read"}})
	if err != nil {
		t.Fatal(err)
	}
	if resp := ask(t, s.addr, "nginx", "GET", "/orders/1", tok); resp.StatusCode != 200 {
		t.Fatalf("before the revocation: %d; want 200", resp.StatusCode)
	}
	cli(t, "", nil, "revoke", "--redis-url", redisURL, "--client-id", reader.ID).must(t, 0)
	deadline := time.Now().Add(30 * time.Second) // a guard: the list applies it within a second
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for ; ; <-tick.C {
		resp := ask(t, s.addr, "nginx", "GET", "/orders/1", tok)
		if resp.StatusCode == 401 {
			if c := resp.Header.Get("WWW-Authenticate"); !strings.Contains(c, `error_description="token_revoked"`) {
				t.Errorf("revoked token: WWW-Authenticate %q; want token_revoked", c)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the revoked client's token still gets %d after 30s", resp.StatusCode)
		}
	}
}

// requestsRead counts the established connections whose server side listens on port
// (hexadecimal in the kernel's table) with nothing waiting to be read: on loopback, once
// the client has written its request, those whose request the server has read. Linux only
// (/proc/net/tcp); an error elsewhere.
func requestsRead(port string) (int, error) {
	p, err := strconv.Atoi(port)
	if err != nil {
		return 0, err
	}
	table, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		return 0, err
	}
	local := fmt.Sprintf(":%04X", p)
	n := 0
	for _, line := range strings.Split(string(table), "\n")[1:] {
		// sl local_address rem_address st tx_queue:rx_queue ...
		f := strings.Fields(line)
		if len(f) < 5 || !strings.HasSuffix(f[1], local) || f[3] != "01" {
			continue
		}
		if _, rx, ok := strings.Cut(f[4], ":"); ok && strings.Trim(rx, "0") == "" {
			n++
		}
	}
	return n, nil
}
