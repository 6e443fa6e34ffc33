package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cognitokit/cognitokit/pkg/cognitotest"
)

// binary is the cognitokit command built once for the tests, which run it as a user would.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "cognitokit-cli")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "cognitokit")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		panic("building cognitokit: " + err.Error() + "\n" + string(out))
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type result struct {
	code           int
	stdout, stderr string
}

// cli runs the binary with args and stdin, in a clean environment (no COGNITO_* leaking
// in from the machine) plus env.
func cli(t *testing.T, stdin string, env []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}, env...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("running cognitokit %v: %v", args, err)
	}
	return result{code: code, stdout: out.String(), stderr: errb.String()}
}

func (r result) must(t *testing.T, code int) result {
	t.Helper()
	if r.code != code {
		t.Fatalf("exit code %d; want %d\nstdout:\n%s\nstderr:\n%s", r.code, code, r.stdout, r.stderr)
	}
	return r
}

func TestHelpOfEveryCommand(t *testing.T) {
	for _, args := range [][]string{
		{"--help"}, {"token", "--help"}, {"verify", "--help"}, {"policy", "--help"},
		{"policy", "check", "--help"}, {"policy", "explain", "--help"}, {"local", "--help"}, {"demo", "--help"},
		{"serve", "--help"}, {"revoke", "--help"},
	} {
		r := cli(t, "", nil, args...).must(t, 0)
		if !strings.Contains(r.stdout, "Usage") {
			t.Errorf("%v: no usage text:\n%s", args, r.stdout)
		}
	}
	if r := cli(t, "", nil); r.code != 2 || !strings.Contains(r.stderr, "Usage") {
		t.Errorf("no command: exit %d, stderr %q", r.code, r.stderr)
	}
	if r := cli(t, "", nil, "frobnicate"); r.code != 2 {
		t.Errorf("unknown command: exit %d; want 2", r.code)
	}
	if r := cli(t, "", nil, "verify", "--no-such-flag"); r.code != 2 {
		t.Errorf("unknown flag: exit %d; want 2", r.code)
	}
}

func TestToken(t *testing.T) {
	srv := cognitotest.Start(t, cognitotest.DefaultConfig())
	reader, _ := srv.Client("orders-reader")
	secretFile := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secretFile, []byte(reader.Secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := cli(t, "", nil, "token", "--token-url", srv.TokenURL(), "--client-id", reader.ID, "--client-secret-file", secretFile).must(t, 0)
	var resp struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		ExpiresIn   int    `json:"expires_in"`
		Scope       string `json:"scope"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &resp); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, r.stdout)
	}
	if resp.AccessToken == "" || resp.TokenType != "Bearer" || resp.ExpiresIn < 3590 || resp.Scope != "orders/read" {
		t.Errorf("token response = %+v", resp)
	}
	if !strings.Contains(r.stderr, "requesting a token") {
		t.Errorf("no progress on stderr: %q", r.stderr)
	}

	// From the environment, raw.
	env := []string{"COGNITO_TOKEN_URL=" + srv.TokenURL(), "COGNITO_CLIENT_ID=" + reader.ID, "COGNITO_CLIENT_SECRET=" + reader.Secret}
	r = cli(t, "", env, "token", "--raw").must(t, 0)
	if strings.Count(strings.TrimSpace(r.stdout), ".") != 2 || strings.Contains(strings.TrimSpace(r.stdout), "\n") {
		t.Errorf("--raw printed %q; want one JWT", r.stdout)
	}

	// A wrong secret: one clear line, exit 1, no secret.
	r = cli(t, "", nil, "token", "--token-url", srv.TokenURL(), "--client-id", reader.ID, "--client-secret", "wrong-secret-value").must(t, 1)
	if !strings.Contains(r.stderr, `"invalid_client"`) || strings.Contains(r.stderr, "wrong-secret-value") || strings.Count(r.stderr, "\n") != 2 {
		t.Errorf("stderr = %q; want the progress line and one error line naming invalid_client, without the secret", r.stderr)
	}
	// Configuration errors: exit 2.
	cli(t, "", nil, "token", "--client-id", "x", "--client-secret", "y").must(t, 2)
	cli(t, "", nil, "token", "--token-url", "ftp://x/oauth2/token", "--client-id", "x", "--client-secret", "y").must(t, 2)
}

// verifyFixture is a local Cognito with tokens of every kind and its JWKS on disk.
type verifyFixture struct {
	srv                           *cognitotest.Server
	pool, jwksFile                string
	valid, expired, forged, idTok string
	flags                         []string
}

func newVerifyFixture(t *testing.T) verifyFixture {
	srv := cognitotest.Start(t, cognitotest.DefaultConfig())
	f := verifyFixture{srv: srv, pool: srv.Pools()[0].ID}
	jwks, err := srv.JWKS(f.pool)
	if err != nil {
		t.Fatal(err)
	}
	f.jwksFile = filepath.Join(t.TempDir(), "jwks.json")
	if err := os.WriteFile(f.jwksFile, jwks, 0o600); err != nil {
		t.Fatal(err)
	}
	mint := func(o cognitotest.TokenOptions) string {
		tok, err := srv.MintAccessToken(o)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	f.valid = mint(cognitotest.TokenOptions{Client: "orders-reader"})
	f.expired = mint(cognitotest.TokenOptions{Client: "orders-reader", IssuedAt: time.Now().Add(-3 * time.Hour)})
	f.forged = f.valid[:strings.LastIndexByte(f.valid, '.')+1] + strings.Repeat("A", 342)
	if f.idTok, err = srv.MintIDToken(cognitotest.TokenOptions{Username: "alice", Client: "orders-reader"}); err != nil {
		t.Fatal(err)
	}
	reader, _ := srv.Client("orders-reader")
	f.flags = []string{"--user-pool-id", f.pool, "--endpoint", srv.BaseURL(), "--client-id", reader.ID}
	return f
}

func TestVerifySingleToken(t *testing.T) {
	f := newVerifyFixture(t)
	r := cli(t, "", nil, append([]string{"verify"}, append(f.flags, f.valid)...)...).must(t, 0)
	var claims map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &claims); err != nil || claims["token_use"] != "access" {
		t.Fatalf("claims output %q: %v", r.stdout, err)
	}
	r = cli(t, "", nil, append([]string{"verify"}, append(f.flags, f.expired)...)...).must(t, 1)
	if !strings.HasPrefix(r.stderr, "invalid: expired: ") || strings.Contains(r.stderr, f.expired) {
		t.Errorf("stderr = %q", r.stderr)
	}
	// Offline, with the JWKS file: no JWKS request is made.
	offline := []string{"verify", "--user-pool-id", f.pool, "--endpoint", f.srv.BaseURL(), "--jwks-file", f.jwksFile, "--any-client"}
	cli(t, "", nil, append(offline, f.valid)...).must(t, 0)
	cli(t, "", nil, append(offline, "--token-use", "id", f.valid)...).must(t, 1)
	cli(t, "", nil, append(offline, "--token-use", "id", f.idTok)...).must(t, 0)
	cli(t, "", nil, append(offline, "--scope", "orders/write", f.valid)...).must(t, 1)
	cli(t, "", nil, append(offline, "--scope", "orders/write", "--scope", "orders/read", f.valid)...).must(t, 0)
	if n := f.srv.Requests(cognitotest.EndpointJWKS); n != 2 {
		t.Errorf("JWKS requests = %d; want 2 (only the two online runs)", n)
	}
	// Usage and configuration errors.
	cli(t, "", nil, "verify", f.valid).must(t, 2)                                                          // no pool
	cli(t, "", nil, "verify", "--user-pool-id", f.pool, "--endpoint", f.srv.BaseURL(), f.valid).must(t, 2) // no client decision
	cli(t, "", nil, append(offline, "--token-use", "refresh", f.valid)...).must(t, 2)
	cli(t, "", nil, "verify", "--user-pool-id", "nonsense", "--any-client", f.valid).must(t, 2)
}

func TestVerifyBatchFromStdin(t *testing.T) {
	f := newVerifyFixture(t)
	lines := []string{f.valid, f.expired, f.forged, "garbage", "", f.idTok, strings.Repeat("x", 2<<20), f.valid}
	want := []struct {
		valid bool
		code  string
	}{{true, ""}, {false, "expired"}, {false, "invalid_signature"}, {false, "malformed_token"},
		{false, "malformed_token"}, {false, "invalid_token_use"}, {false, "token_too_large"}, {true, ""}}
	r := cli(t, strings.Join(lines, "\n")+"\n", nil, append(append([]string{"verify"}, f.flags...), "-")...).must(t, 1)
	out := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	if len(out) != len(lines) {
		t.Fatalf("%d output lines for %d input lines:\n%s", len(out), len(lines), r.stdout)
	}
	for i, line := range out {
		var res struct {
			Line    int            `json:"line"`
			Valid   bool           `json:"valid"`
			Claims  map[string]any `json:"claims"`
			Error   string         `json:"error"`
			Message string         `json:"message"`
		}
		if err := json.Unmarshal([]byte(line), &res); err != nil {
			t.Fatalf("line %d is not JSON: %q", i+1, line)
		}
		if res.Line != i+1 || res.Valid != want[i].valid || res.Error != want[i].code {
			t.Errorf("line %d = %+v; want valid %v, error %q", i+1, res, want[i].valid, want[i].code)
		}
		if res.Valid && res.Claims["token_use"] != "access" {
			t.Errorf("line %d: claims %v", i+1, res.Claims)
		}
		for _, tok := range []string{f.valid, f.expired, f.forged} {
			if strings.Contains(res.Message, tok) {
				t.Errorf("line %d: message echoes a token", i+1)
			}
		}
	}
	// All valid (no trailing newline): exit 0. No argument at all means stdin too.
	cli(t, f.valid+"\n"+f.valid, nil, append([]string{"verify"}, f.flags...)...).must(t, 0)
}

func TestPolicyCheck(t *testing.T) {
	r := cli(t, "", nil, "policy", "check", "../../examples/orders/routes.yaml").must(t, 0)
	if strings.TrimSpace(r.stdout) != "ok: 10 routes" {
		t.Errorf("stdout = %q", r.stdout)
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("version: 1\nroutes:\n  \"GET /x\":\n    scope: {any: [a]}\n  \"GET /y\":\n    public: yes\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r = cli(t, "", nil, "policy", "check", bad).must(t, 1)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], bad+":4:5: ") || !strings.HasPrefix(lines[1], bad+":6:13: ") {
		t.Errorf("errors:\n%s", r.stdout)
	}
	r = cli(t, "", nil, "policy", "check", "--json", bad).must(t, 1)
	if !strings.Contains(r.stdout, `"ok":false`) || !strings.Contains(r.stdout, `"line":4`) {
		t.Errorf("--json: %s", r.stdout)
	}
	cli(t, "", nil, "policy", "check").must(t, 2)
	cli(t, "", nil, "policy", "frob").must(t, 2)

	// A host-scoped route is explained; a public one is warned about, at its line.
	hosts := filepath.Join(t.TempDir(), "hosts.yaml")
	if err := os.WriteFile(hosts, []byte("version: 1\nroutes:\n  \"GET /x\": {}\n  \"api.example.com/\":\n    public: true\n  \"GET admin.example.com/y\": {}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r = cli(t, "", nil, "policy", "check", hosts).must(t, 0)
	lines = strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 3 || lines[0] != "ok: 3 routes" ||
		!strings.HasPrefix(lines[1], "note: 2 host-scoped routes (api.example.com/, GET admin.example.com/y) match only requests whose Host header") ||
		!strings.HasPrefix(lines[2], "warning: "+hosts+":4:3: public route \"api.example.com/\" is host-scoped") {
		t.Errorf("host-scoped routes:\n%s", r.stdout)
	}
	r = cli(t, "", nil, "policy", "check", "--json", hosts).must(t, 0)
	if !strings.Contains(r.stdout, `"host_scoped_routes":["api.example.com/","GET admin.example.com/y"]`) || !strings.Contains(r.stdout, `"warnings":["`+hosts+`:4:3: public route`) {
		t.Errorf("--json: %s", r.stdout)
	}
}

func TestPolicyExplain(t *testing.T) {
	routes := "../../examples/orders/routes.yaml"
	r := cli(t, "", nil, "policy", "explain", routes, "--request", "GET /orders/7").must(t, 0)
	for _, want := range []string{"route:     GET /orders/{id}", "decision:  deny (authentication_required)", "answer:    401 Unauthorized",
		`WWW-Authenticate: Bearer realm="api"`} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("anonymous explain lacks %q:\n%s", want, r.stdout)
		}
	}
	claims := filepath.Join(t.TempDir(), "claims.json")
	if err := os.WriteFile(claims, []byte(`{"sub":"c","client_id":"c","token_use":"access","scope":"orders/write"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	r = cli(t, "", nil, "policy", "explain", routes, "--request", "GET /orders/7", "--claims", claims).must(t, 0)
	for _, want := range []string{"decision:  deny (insufficient_scope)", "answer:    403 Forbidden",
		`error="insufficient_scope", scope="orders/read orders/admin"`} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("claims explain lacks %q:\n%s", want, r.stdout)
		}
	}
	r = cli(t, "", nil, "policy", "explain", routes, "--request", "POST /orders", "--claims", claims, "--json").must(t, 0)
	var ex struct {
		Route   string `json:"route"`
		Allowed bool   `json:"allowed"`
		Status  int    `json:"status"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &ex); err != nil || !ex.Allowed || ex.Status != 200 || ex.Route != "POST /orders" {
		t.Errorf("--json explain = %s (%v)", r.stdout, err)
	}

	f := newVerifyFixture(t)
	tokenArgs := append([]string{"policy", "explain", routes, "--request", "GET /orders/7", "--token"}, f.expired)
	r = cli(t, "", nil, append(tokenArgs, f.flags...)...).must(t, 0)
	if !strings.Contains(r.stdout, "answer:    401") || !strings.Contains(r.stdout, "token:     expired") {
		t.Errorf("expired token explain:\n%s", r.stdout)
	}
	tokenArgs[len(tokenArgs)-1] = f.valid
	r = cli(t, "", nil, append(tokenArgs, f.flags...)...).must(t, 0)
	if !strings.Contains(r.stdout, "decision:  allow (allowed)") {
		t.Errorf("valid token explain:\n%s", r.stdout)
	}
	cli(t, "", nil, "policy", "explain", routes, "--request", "nonsense").must(t, 2)
}

func TestLocalServesUntilInterrupted(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	cfg := filepath.Join(t.TempDir(), "local.yaml")
	if err := os.WriteFile(cfg, []byte(`pools:
  - id: eu-west-1_Custom1
    access_token_ttl: 5m
    resource_servers: [{identifier: "https://api.example.com", scopes: [read]}]
    clients: [{name: svc, id: svc0client0id, secret: s3cret, scopes: ["https://api.example.com/read"]}]
`), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, binary, "local", "--addr", "127.0.0.1:0", "--config", cfg)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	var got strings.Builder
	for !strings.Contains(got.String(), "client svc") {
		n, err := stdout.Read(buf)
		got.Write(buf[:n])
		if err != nil {
			t.Fatalf("local exited early: %v\n%s", err, got.String())
		}
	}
	text := got.String()
	var tokenURL string
	for _, line := range strings.Split(text, "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == "token" && f[1] == "URL" {
			tokenURL = f[2]
		}
	}
	if tokenURL == "" || !strings.Contains(text, "pool eu-west-1_Custom1") {
		t.Fatalf("local printed:\n%s", text)
	}
	r := cli(t, "", nil, "token", "--token-url", tokenURL, "--client-id", "svc0client0id", "--client-secret", "s3cret").must(t, 0)
	if !strings.Contains(r.stdout, `"expires_in": 300`) && !strings.Contains(r.stdout, `"expires_in": 299`) {
		t.Errorf("token from the configured pool: %s", r.stdout)
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("local did not stop cleanly on SIGINT: %v", err)
	}

	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("pools:\n  - id: us-east-1_X\n    clientz: []\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := cli(t, "", nil, "local", "--config", bad); r.code != 2 || !strings.Contains(r.stderr, "clientz") {
		t.Errorf("bad config: exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestDemo(t *testing.T) {
	r := cli(t, "", nil, "demo").must(t, 0)
	if !strings.Contains(r.stdout, "0 did not") || !strings.Contains(r.stdout, "ROUTE") {
		t.Errorf("demo output:\n%s", r.stdout)
	}
	// The metrics summary: four token requests (three callers and the service itself), one
	// JWKS fetch (Warm), and the decisions by outcome.
	for _, want := range []string{
		"Metrics of this run", "token requests to Cognito 4 (ok 4)", "JWKS fetches 1 (initial 1)",
		"(cache miss 4, hit ", "verified-token cache hit ", "policy decisions", "allow ", "insufficient_scope ",
	} {
		if !strings.Contains(strings.Join(strings.Fields(r.stdout), " "), want) {
			t.Errorf("demo summary lacks %q:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "METRIC") {
		t.Error("every series printed without --metrics")
	}
	r = cli(t, "", nil, "demo", "--metrics").must(t, 0)
	if !strings.Contains(r.stdout, "METRIC") || !strings.Contains(r.stdout, "cognitokit.policy.decisions") {
		t.Errorf("demo --metrics output:\n%s", r.stdout)
	}
}

// TestMetricsFlag: token and verify print the numbers of their run on stderr, leaving
// stdout as it was; no token or secret among them.
func TestMetricsFlag(t *testing.T) {
	f := newVerifyFixture(t)
	reader, _ := f.srv.Client("orders-reader")
	r := cli(t, "", nil, "token", "--token-url", f.srv.TokenURL(), "--client-id", reader.ID, "--client-secret", reader.Secret, "--raw", "--metrics").must(t, 0)
	tok := strings.TrimSpace(r.stdout)
	for _, want := range []string{"cognitokit.token.requests", "outcome=ok", "cognitokit.token.request.duration", "cognitokit.token.cache", "result=miss"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("token --metrics stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	if strings.Count(tok, ".") != 2 || strings.Contains(r.stderr, tok) || strings.Contains(r.stderr, reader.Secret) {
		t.Errorf("token --metrics: stdout %q, stderr %q", r.stdout, r.stderr)
	}
	r = cli(t, f.valid+"\n"+f.expired+"\n"+f.valid+"\n", nil, append([]string{"verify", "--metrics"}, f.flags...)...).must(t, 1)
	for _, want := range []string{
		"cognitokit.verifications cache=miss,outcome=ok,pool=" + f.pool + ",token_use=access 1",
		"cognitokit.verifications cache=hit,outcome=ok,pool=" + f.pool + ",token_use=access 1",
		"cognitokit.verifications cache=miss,outcome=expired,pool=" + f.pool + ",token_use=access 1",
		"cognitokit.jwks.fetches", "outcome=ok,trigger=initial",
	} {
		if !strings.Contains(strings.Join(strings.Fields(r.stderr), " "), want) {
			t.Errorf("verify --metrics stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	if strings.Count(r.stdout, "\n") != 3 {
		t.Errorf("verify --metrics stdout:\n%s", r.stdout)
	}
}
