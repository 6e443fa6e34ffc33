package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"fmt"
	rand2 "math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"text/template"
	"time"

	"github.com/cognitokit/cognitokit/pkg/cognitotest"
)

// A gateway is an authorization service nginx asks with auth_request.
type gateway struct {
	Name       string // nginx upstream name
	Addr       string // where the gateway listens
	Listen     string // where nginx listens for the phase that asks this gateway
	AuthPath   string // the auth subrequest's path on the gateway
	UserHeader string // the answer's identity header, as an nginx variable suffix

	title string
	pid   int // 0 when the gateway runs in this process
	stop  func()
}

// runGateways measures `cognitokit serve` beside the authorization services people run in
// front of services today, each asked by the same nginx with auth_request, under the same
// load generator and ID-token mix, window by window in turns: nginx alone (the floor);
// nginx asking a Go server that answers 200 without looking (the cost of auth_request
// itself); `cognitokit serve`; oauth2-proxy in bearer-token mode; Ory Oathkeeper's
// decisions API. The peers are built from their Go modules at the versions pinned under
// -gateways (bench/gateways/*/go.mod).
//
// The comparison runs on ID tokens: oauth2-proxy checks a bearer token's aud claim, and
// Cognito access tokens have none. Every phase's answer is checked before the load: the
// service must see the caller's identity, and a request without a token or with a forged
// one must be refused with 401.
func runGateways(ctx context.Context, cfg config) error {
	nginx, err := exec.LookPath("nginx")
	if err != nil {
		return fmt.Errorf("nginx is not installed: %w", err)
	}
	idpCfg := cognitotest.DefaultConfig()
	idpURL, idp, stopIdp, err := serveCognito(idpCfg)
	if err != nil {
		return err
	}
	defer stopIdp()
	pool := idpCfg.Pools[0]
	client := pool.Clients[0]
	issuer := idp.Issuer(pool.ID)

	dir, err := os.MkdirTemp("", "cognitokit-load-gateways")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	// The service: {"ok":true} on every path, and the identity nginx passed on.
	upstream, stopUp, err := serve(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Seen-User", r.Header.Get("X-User"))
		_, _ = w.Write([]byte(`{"ok":true}` + "\n"))
	}))
	if err != nil {
		return err
	}
	defer stopUp()

	// The floor of asking anybody: a Go net/http server, in its own process as the
	// gateways are, that allows every request unseen.
	null, err := startNull(ctx)
	if err != nil {
		return fmt.Errorf("null server: %w", err)
	}
	gateways := []*gateway{null}
	defer func() {
		for _, g := range gateways {
			g.stop()
		}
	}()

	fmt.Fprintln(os.Stderr, "load: building cognitokit, oauth2-proxy and Oathkeeper (the first build of a peer takes minutes)")
	ck, err := startCognitokit(ctx, dir, cfg, pool.ID, idpURL, client.ID)
	if err != nil {
		return fmt.Errorf("cognitokit serve: %w", err)
	}
	gateways = append(gateways, ck)
	o2p, err := startOAuth2Proxy(ctx, dir, cfg, issuer, client)
	if err != nil {
		return fmt.Errorf("oauth2-proxy: %w", err)
	}
	gateways = append(gateways, o2p)
	okp, err := startOathkeeper(ctx, dir, cfg, issuer, idp.JWKSURL(pool.ID), client.ID)
	if err != nil {
		return fmt.Errorf("oathkeeper: %w", err)
	}
	gateways = append(gateways, okp)

	alone, err := freeAddr()
	if err != nil {
		return err
	}
	for _, g := range gateways {
		if g.Listen, err = freeAddr(); err != nil {
			return err
		}
	}
	tmpl, err := template.ParseFiles(filepath.Join(cfg.gateways, "nginx.conf.tmpl"))
	if err != nil {
		return err
	}
	var conf bytes.Buffer
	if err := tmpl.Execute(&conf, map[string]any{
		"Service": strings.TrimPrefix(upstream, "http://"), "Alone": alone, "Gateways": gateways,
	}); err != nil {
		return err
	}
	ngx, err := startNginx(ctx, nginx, filepath.Join(dir, "nginx"), conf.String())
	if err != nil {
		return err
	}
	defer ngx.stop()

	mix, forged, err := idTokenMix(idp, pool, client.ID, cfg.tokens, cfg.mix)
	if err != nil {
		return err
	}
	lc, err := newLoadClient(cfg.client, cfg.workers)
	if err != nil {
		return err
	}
	httpClient := &http.Client{Timeout: 10 * time.Second}

	type gatewayPhase struct {
		*phaseResult
		gw         *gateway // nil for nginx alone
		gwTicks    uint64
		nginxTicks uint64
	}
	phases := []*gatewayPhase{{phaseResult: &phaseResult{name: "nginx alone (no auth_request)", base: "http://" + alone, mix: mix}}}
	for _, g := range gateways {
		phases = append(phases, &gatewayPhase{phaseResult: &phaseResult{name: g.title, base: "http://" + g.Listen, mix: mix}, gw: g})
	}
	for _, ph := range phases {
		if err := checkGateway(ctx, httpClient, ph.base, mix, forged, ph.gw != nil && ph.gw.Name != "null"); err != nil {
			return fmt.Errorf("%s: %w", ph.name, err)
		}
	}

	fmt.Printf("load -gateways: GOMAXPROCS %d (load generator, service, local Cognito), %d CPUs, nginx worker_processes auto, %d clients (-client %s), %s per phase in alternating %s windows (after %s warm-up each), %d requests over %d ID tokens (Zipf)\n",
		runtime.GOMAXPROCS(0), runtime.NumCPU(), cfg.workers, cfg.client, cfg.duration, cfg.window, cfg.warmup, len(mix), cfg.tokens)
	results := make([]*phaseResult, len(phases))
	for i, ph := range phases {
		results[i] = ph.phaseResult
	}
	// CPU used by the phase's gateway and by nginx during each of its windows.
	err = alternate(ctx, cfg, lc, results, func(i int) func() {
		ph, nginxPID := phases[i], ngx.cmd.Process.Pid
		gw0, ngx0 := ph.gw.cpuTicks(), processTreeTicks(nginxPID)
		return func() {
			ph.gwTicks += ph.gw.cpuTicks() - gw0
			ph.nginxTicks += processTreeTicks(nginxPID) - ngx0
		}
	})
	if err != nil {
		return err
	}

	fmt.Println()
	fmt.Println("| phase | requests | requests/s | p50 | p99 | p99.9 | failed | gateway CPU per 1,000 requests | nginx CPU per 1,000 requests | gateway RSS (end / peak) |")
	fmt.Println("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, ph := range phases {
		ph.percentiles()
		gwCPU, rss := "—", "—"
		if ph.gw != nil && ph.gw.pid != 0 {
			gwCPU = perThousand(ph.gwTicks, ph.requests)
			if r, peak := pidRSS(ph.gw.pid); r > 0 {
				rss = mib(r) + " / " + mib(peak)
			}
		}
		fmt.Printf("| %s | %d | %.0f | %s | %s | %s | %d | %s | %s | %s |\n", ph.name, ph.requests, rate(ph.phaseResult),
			us(ph.p50), us(ph.p99), us(ph.p999), ph.errors, gwCPU, perThousand(ph.nginxTicks, ph.requests), rss)
	}
	fmt.Println()
	floor := phases[0].phaseResult
	byName := map[string]*phaseResult{}
	for _, ph := range phases[1:] {
		byName[ph.gw.Name] = ph.phaseResult
		fmt.Printf("%s: nginx alone is %.2f× its requests/s; p99 %+.0f µs over nginx alone\n",
			ph.name, rate(floor)/rate(ph.phaseResult), float64(ph.p99-floor.p99)/1e3)
	}
	if c, o := byName["cognitokit"], byName["oauth2proxy"]; c != nil && o != nil {
		fmt.Printf("cognitokit serve vs oauth2-proxy: %.2f× the requests/s; p99 %s vs %s\n", rate(c)/rate(o), us(c.p99), us(o.p99))
	}
	if c, o := byName["cognitokit"], byName["oathkeeper"]; c != nil && o != nil {
		fmt.Printf("cognitokit serve vs Oathkeeper: %.2f× the requests/s; p99 %s vs %s\n", rate(c)/rate(o), us(c.p99), us(o.p99))
	}
	return nil
}

// gatewayEnv is what the gateway processes (all Go programs) get added to their
// environment.
func (cfg config) gatewayEnv() []string {
	if cfg.gatewayProcs > 0 {
		return []string{"GOMAXPROCS=" + strconv.Itoa(cfg.gatewayProcs)}
	}
	return nil
}

func rate(p *phaseResult) float64 { return float64(p.requests) / p.elapsed.Seconds() }

// perThousand formats CPU clock ticks (USER_HZ, 100 per second on Linux) spent on n
// requests as milliseconds per 1,000 requests.
func perThousand(ticks uint64, n int) string {
	if n == 0 {
		return "n/a"
	}
	return strconv.FormatFloat(float64(ticks)*10*1000/float64(n), 'f', 1, 64) + " ms"
}

// idTokenMix mints tokens ID tokens of the client for the pool's users (distinct by their
// issue time) and draws n requests over the service's routes, the token with a Zipf
// distribution. forged is an ID token of the same shape signed by another key.
func idTokenMix(idp *cognitotest.Server, pool cognitotest.PoolConfig, clientID string, tokens, n int) (mix []request, forged string, err error) {
	now := time.Now()
	auths := make([]string, tokens)
	for i := range auths {
		tok, err := idp.MintIDToken(cognitotest.TokenOptions{
			Client: clientID, Username: pool.Users[i%len(pool.Users)].Username,
			IssuedAt: now.Add(-time.Duration(i) * time.Second), TTL: 24 * time.Hour,
		})
		if err != nil {
			return nil, "", err
		}
		auths[i] = "Bearer " + tok
	}
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, "", err
	}
	if forged, err = idp.MintIDToken(cognitotest.TokenOptions{Client: clientID, Username: pool.Users[0].Username, SigningKey: other}); err != nil {
		return nil, "", err
	}
	rng := rand2.New(rand2.NewPCG(1, 2))
	zipf := rand2.NewZipf(rand2.New(rand2.NewPCG(3, 4)), 1.1, 1, uint64(tokens-1))
	mix = make([]request, n)
	for i := range mix {
		id := strconv.Itoa(1000 + rng.IntN(9000))
		r := request{method: "GET", path: "/orders/" + id, authorization: auths[zipf.Uint64()]}
		switch p := rng.IntN(100); {
		case p < 20:
			r.path = "/me"
		case p < 35:
			r.path = "/orders/" + id + "/invoice"
		case p < 45:
			r.method, r.path = "POST", "/orders"
		}
		mix[i] = r
	}
	return mix, "Bearer " + forged, nil
}

// checkGateway makes sure a phase measures what it says: the mix's requests pass with the
// caller's identity at the service and, when the phase asks a verifying gateway, a request
// without a token or with a forged one is refused with 401.
func checkGateway(ctx context.Context, client *http.Client, base string, mix []request, forged string, verifies bool) error {
	for i, r := range mix[:min(len(mix), 200)] {
		status, h, err := exchange(ctx, client, base, r)
		if err != nil || status != http.StatusOK {
			return fmt.Errorf("%s %s (mix request %d): status %d, %v", r.method, r.path, i, status, err)
		}
		if verifies && h.Get("X-Seen-User") == "" {
			return fmt.Errorf("%s %s: the service saw no caller identity", r.method, r.path)
		}
	}
	if !verifies {
		return nil
	}
	for _, auth := range []string{"", forged} {
		r := mix[0]
		r.authorization = auth
		status, err := send(ctx, client, base, r)
		if err != nil {
			return err
		}
		if status != http.StatusUnauthorized {
			return fmt.Errorf("a request with a forged or no token: status %d, want 401", status)
		}
	}
	return nil
}

// startNull runs this program as the null gateway (-null-server).
func startNull(ctx context.Context) (*gateway, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	pid, stop, err := startGatewayProcess(ctx, self, []string{"-null-server", addr}, nil, "http://"+addr+"/")
	if err != nil {
		return nil, err
	}
	return &gateway{Name: "null", title: "nginx + auth_request → Go server answering 200 unseen", Addr: addr, AuthPath: "/",
		UserHeader: "x_auth_request_user", pid: pid, stop: stop}, nil
}

// serveNull answers every request 200 with an identity header, without looking at it: the
// least a Go auth service can do.
func serveNull(addr string) error {
	srv := &http.Server{Addr: addr, ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Auth-Request-User", "anyone")
	})}
	return srv.ListenAndServe()
}

// startCognitokit builds `cognitokit serve` from this repository and runs it with the
// comparison's policy.
func startCognitokit(ctx context.Context, dir string, cfg config, poolID, endpoint, clientID string) (*gateway, error) {
	bin := filepath.Join(dir, "cognitokit")
	if out, err := exec.CommandContext(ctx, "go", "build", "-C", "..", "-o", bin, "./cmd/cognitokit").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("building: %v\n%s", err, out)
	}
	addr, pid, stop, err := startServeProcess(ctx, bin, []string{"serve", "--listen", "127.0.0.1:0",
		"--policy", filepath.Join(cfg.gateways, "routes.yaml"), "--user-pool-id", poolID, "--endpoint", endpoint, "--client-id", clientID}, cfg.gatewayEnv())
	if err != nil {
		return nil, err
	}
	return &gateway{Name: "cognitokit", title: "nginx + auth_request → cognitokit serve", Addr: addr, AuthPath: "/auth/nginx",
		UserHeader: "x_auth_request_user", pid: pid, stop: stop}, nil
}

// startOAuth2Proxy builds oauth2-proxy at the version bench/gateways/oauth2-proxy pins and
// runs it in bearer-token mode with the pool as its OIDC provider.
func startOAuth2Proxy(ctx context.Context, dir string, cfg config, issuer string, client cognitotest.AppClient) (*gateway, error) {
	gateways := cfg.gateways
	bin := filepath.Join(dir, "oauth2-proxy")
	if err := buildTool(ctx, filepath.Join(gateways, "oauth2-proxy"), "github.com/oauth2-proxy/oauth2-proxy/v7", bin); err != nil {
		return nil, err
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	cfgFile := filepath.Join(dir, "oauth2-proxy.cfg")
	if err := executeTemplate(filepath.Join(gateways, "oauth2-proxy", "oauth2-proxy.cfg.tmpl"), cfgFile, map[string]string{
		"Listen": addr, "Issuer": issuer, "ClientID": client.ID, "ClientSecret": "unused-in-bearer-mode",
		"CookieSecret": base64.RawURLEncoding.EncodeToString(secret),
	}); err != nil {
		return nil, err
	}
	pid, stop, err := startGatewayProcess(ctx, bin, []string{"--config", cfgFile}, cfg.gatewayEnv(), "http://"+addr+"/ping")
	if err != nil {
		return nil, err
	}
	return &gateway{Name: "oauth2proxy", title: "nginx + auth_request → oauth2-proxy", Addr: addr, AuthPath: "/oauth2/auth",
		UserHeader: "x_auth_request_user", pid: pid, stop: stop}, nil
}

// startOathkeeper builds Ory Oathkeeper at the version bench/gateways/oathkeeper pins and
// runs its decisions API with the JWT authenticator.
func startOathkeeper(ctx context.Context, dir string, cfg config, issuer, jwks, clientID string) (*gateway, error) {
	gateways := cfg.gateways
	bin := filepath.Join(dir, "oathkeeper")
	if err := buildTool(ctx, filepath.Join(gateways, "oathkeeper"), "github.com/ory/oathkeeper", bin); err != nil {
		return nil, err
	}
	api, err := freeAddr()
	if err != nil {
		return nil, err
	}
	proxy, err := freeAddr()
	if err != nil {
		return nil, err
	}
	host, port, _ := net.SplitHostPort(api)
	_, proxyPort, _ := net.SplitHostPort(proxy)
	rules, err := filepath.Abs(filepath.Join(gateways, "oathkeeper", "rules.yaml"))
	if err != nil {
		return nil, err
	}
	cfgFile := filepath.Join(dir, "oathkeeper.yaml")
	if err := executeTemplate(filepath.Join(gateways, "oathkeeper", "oathkeeper.yaml.tmpl"), cfgFile, map[string]string{
		"Host": host, "Port": port, "ProxyPort": proxyPort, "Rules": rules, "JWKS": jwks, "Issuer": issuer, "ClientID": clientID,
	}); err != nil {
		return nil, err
	}
	pid, stop, err := startGatewayProcess(ctx, bin, []string{"serve", "--config", cfgFile}, cfg.gatewayEnv(), "http://"+api+"/health/ready")
	if err != nil {
		return nil, err
	}
	return &gateway{Name: "oathkeeper", title: "nginx + auth_request → Ory Oathkeeper (decisions API)", Addr: api,
		AuthPath: "/decisions$request_uri", UserHeader: "x_user", pid: pid, stop: stop}, nil
}

// buildTool builds the tool a bench/gateways module pins.
func buildTool(ctx context.Context, module, pkg, bin string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-C", module, "-o", bin, pkg)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("building %s in %s: %v\n%s", pkg, module, err, out)
	}
	return nil
}

func executeTemplate(tmplFile, out string, data any) error {
	t, err := template.ParseFiles(tmplFile)
	if err != nil {
		return err
	}
	var b bytes.Buffer
	if err := t.Execute(&b, data); err != nil {
		return err
	}
	return os.WriteFile(out, b.Bytes(), 0o600)
}

// startGatewayProcess runs a gateway and returns once ready answers 200, or with the end of
// what it printed when it exits or does not get ready within a minute.
func startGatewayProcess(ctx context.Context, bin string, args, env []string, ready string) (pid int, stop func(), err error) {
	var out tailBuffer
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return 0, nil, err
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	stop = func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, ready, nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return cmd.Process.Pid, stop, nil
			}
		}
		select {
		case <-exited:
			return 0, nil, fmt.Errorf("%s exited at start-up:\n%s", filepath.Base(bin), out.String())
		case <-ctx.Done():
			stop()
			return 0, nil, fmt.Errorf("%s not ready: %w\n%s", filepath.Base(bin), ctx.Err(), out.String())
		case <-tick.C:
		}
	}
}

// tailBuffer keeps the last 8 KiB written to it.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - 8<<10; over > 0 {
		t.buf = slices.Delete(t.buf, 0, over)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}

// cpuTicks is the CPU time the gateway's process used so far, 0 in this process.
func (g *gateway) cpuTicks() uint64 {
	if g == nil || g.pid == 0 {
		return 0
	}
	return pidTicks(g.pid)
}

// processTreeTicks is the CPU time of a process and its children (nginx's master and
// workers).
func processTreeTicks(pid int) uint64 {
	total := pidTicks(pid)
	children, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/task/" + strconv.Itoa(pid) + "/children")
	if err != nil {
		return total
	}
	for _, f := range strings.Fields(string(children)) {
		if c, err := strconv.Atoi(f); err == nil {
			total += pidTicks(c)
		}
	}
	return total
}

// pidTicks reads utime + stime of a process from /proc/<pid>/stat, in clock ticks; 0 when
// unreadable.
func pidTicks(pid int) uint64 {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// The command name (field 2) may hold spaces; the fields after it are fixed.
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0
	}
	fields := strings.Fields(string(data[i+1:]))
	if len(fields) < 13 {
		return 0
	}
	utime, err1 := strconv.ParseUint(fields[11], 10, 64)
	stime, err2 := strconv.ParseUint(fields[12], 10, 64)
	if errors.Join(err1, err2) != nil {
		return 0
	}
	return utime + stime
}
