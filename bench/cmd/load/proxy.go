package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/cognitokit/cognitokit/pkg/cognitotest"
	"github.com/cognitokit/cognitokit/pkg/policy"
)

// runProxy measures `cognitokit serve` under the repeated-token mix in three phases that
// take turns window by window: serve alone (the clients ask /auth/nginx as nginx would),
// nginx alone in front of the service (the documented configuration with auth_request
// off), and nginx with auth_request asking serve. The service answers {"ok":true} on
// every route of the policy. serve is built from this repository and run as a process;
// nginx runs unprivileged with its files in a temporary directory.
func runProxy(ctx context.Context, cfg config) error {
	nginx, err := exec.LookPath("nginx")
	if err != nil {
		return fmt.Errorf("nginx is not installed: %w", err)
	}
	conf, err := os.ReadFile(cfg.nginxConf)
	if err != nil {
		return err
	}
	const authLine = "auth_request /_cognitokit;"
	if !strings.Contains(string(conf), authLine) {
		return fmt.Errorf("%s has no %q line", cfg.nginxConf, authLine)
	}
	pol, err := policy.Load(cfg.routes)
	if err != nil {
		return err
	}
	idpCfg := cognitotest.DefaultConfig()
	idpURL, idp, stopIdp, err := serveCognito(idpCfg)
	if err != nil {
		return err
	}
	defer stopIdp()
	pool := idpCfg.Pools[0]

	dir, err := os.MkdirTemp("", "cognitokit-load-proxy")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "cognitokit")
	if out, err := exec.CommandContext(ctx, "go", "build", "-C", "..", "-o", bin, "./cmd/cognitokit").CombinedOutput(); err != nil {
		return fmt.Errorf("building cognitokit: %v\n%s", err, out)
	}
	args := []string{"serve", "--listen", "127.0.0.1:0", "--policy", cfg.routes, "--user-pool-id", pool.ID, "--endpoint", idpURL}
	for _, c := range pool.Clients {
		args = append(args, "--client-id", c.ID)
	}
	serveAddr, servePID, stopServe, err := startServeProcess(ctx, bin, args, nil)
	if err != nil {
		return err
	}
	defer stopServe()

	mux := http.NewServeMux()
	body := []byte(`{"ok":true}` + "\n")
	for _, pattern := range pol.Routes() {
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(body)
		})
	}
	upstream, stopUp, err := serve(mux)
	if err != nil {
		return err
	}
	defer stopUp()
	upstreamAddr := strings.TrimPrefix(upstream, "http://")

	// The documented configuration, its example addresses replaced.
	addresses := func(conf, listen string) string {
		return strings.NewReplacer("127.0.0.1:8080", listen, "127.0.0.1:9191", serveAddr, "127.0.0.1:8000", upstreamAddr).Replace(conf)
	}
	withAuth, err := startNginxOn(ctx, nginx, filepath.Join(dir, "auth"), func(listen string) string {
		return addresses(string(conf), listen)
	})
	if err != nil {
		return err
	}
	defer withAuth.stop()
	alone, err := startNginxOn(ctx, nginx, filepath.Join(dir, "alone"), func(listen string) string {
		return addresses(strings.Replace(string(conf), authLine, "auth_request off;", 1), listen)
	})
	if err != nil {
		return err
	}
	defer alone.stop()

	mix, err := requestMix(idp, pool, cfg.tokens, cfg.mix)
	if err != nil {
		return err
	}
	asked := make([]request, len(mix))
	for i, r := range mix {
		asked[i] = request{method: "GET", path: "/auth/nginx", authorization: r.authorization,
			headers: []string{"X-Original-Method", r.method, "X-Original-URI", r.path}}
	}
	phases := []*phaseResult{
		{name: "cognitokit serve alone (/auth/nginx)", base: "http://" + serveAddr, mix: asked},
		{name: "nginx alone (auth_request off)", base: "http://" + alone.addr, mix: mix},
		{name: "nginx + auth_request → cognitokit serve", base: "http://" + withAuth.addr, mix: mix},
	}
	lc, err := newLoadClient(cfg.client, cfg.workers)
	if err != nil {
		return err
	}
	client := &http.Client{Timeout: 10 * time.Second}
	for _, ph := range phases {
		if err := checkMix(ctx, client, ph, 500); err != nil {
			return err
		}
	}
	fmt.Printf("load -proxy nginx: GOMAXPROCS %d (load generator and service), nginx worker_processes auto, %d clients (-client %s), %s per phase in alternating %s windows (after %s warm-up each), %d requests over %d tokens (Zipf), routes %s\n",
		runtime.GOMAXPROCS(0), cfg.workers, cfg.client, cfg.duration, cfg.window, cfg.warmup, len(mix), cfg.tokens, cfg.routes)
	if err := alternate(ctx, cfg, lc, phases, nil); err != nil {
		return err
	}
	printTable(os.Stdout, phases)
	a, b := phases[1], phases[2]
	fmt.Printf("nginx + auth_request: %.1f%% of nginx alone's requests/s; p50 %+.0f µs, p99 %+.0f µs\n",
		100*rate(b)/rate(a), float64(b.p50-a.p50)/1e3, float64(b.p99-a.p99)/1e3)
	if rss, peak := pidRSS(servePID); rss > 0 {
		fmt.Printf("cognitokit serve process at the end: RSS %s, peak RSS %s\n", mib(rss), mib(peak))
	}
	return nil
}

// startServeProcess runs `cognitokit serve` with env added to this process's environment
// and returns the address it serves on.
func startServeProcess(ctx context.Context, bin string, args, env []string) (addr string, pid int, stop func(), err error) {
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return "", 0, nil, err
	}
	if err := cmd.Start(); err != nil {
		return "", 0, nil, err
	}
	stop = func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
	}
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sent := false
		for sc.Scan() {
			if _, after, ok := strings.Cut(sc.Text(), "msg=serving addr=http://"); ok && !sent {
				a, _, _ := strings.Cut(after, " ")
				found <- a
				sent = true
			}
		}
		if !sent {
			close(found)
		}
	}()
	select {
	case a, ok := <-found:
		if !ok {
			stop()
			return "", 0, nil, errors.New("cognitokit serve exited at start-up")
		}
		return a, cmd.Process.Pid, stop, nil
	case <-ctx.Done():
		stop()
		return "", 0, nil, ctx.Err()
	}
}

// nginxProcess is an nginx started by startNginx.
type nginxProcess struct {
	addr string // where it listens, when started by startNginxOn
	cmd  *exec.Cmd
}

func (p *nginxProcess) stop() {
	_ = p.cmd.Process.Signal(os.Interrupt)
	_ = p.cmd.Wait()
}

// startNginxOn runs nginx with the configuration conf returns for a free loopback address
// and returns once it listens there.
func startNginxOn(ctx context.Context, nginx, dir string, conf func(listen string) string) (*nginxProcess, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	p, err := startNginx(ctx, nginx, dir, conf(addr))
	if err != nil {
		return nil, err
	}
	p.addr = addr
	return p, nil
}

// freeAddr returns a loopback address nothing listened on a moment ago, for a process that
// takes its address as a setting.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// startNginx runs nginx with conf in dir and returns once its workers started.
func startNginx(ctx context.Context, nginx, dir, conf string) (*nginxProcess, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "nginx.conf"), []byte(conf), 0o600); err != nil {
		return nil, err
	}
	cmd := exec.Command(nginx, "-p", dir, "-c", "nginx.conf", "-e", "stderr", "-g", "error_log stderr notice;")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &nginxProcess{cmd: cmd}
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sent := false
		for sc.Scan() {
			if !sent && strings.Contains(sc.Text(), "start worker process") {
				ready <- true
				sent = true
			}
		}
		if !sent {
			ready <- false
		}
	}()
	select {
	case ok := <-ready:
		if ok {
			return p, nil
		}
		p.stop()
		return nil, errors.New("nginx exited at start-up")
	case <-ctx.Done():
		p.stop()
		return nil, ctx.Err()
	}
}

// pidRSS reads a process's resident set size and its peak from /proc (Linux).
func pidRSS(pid int) (rss, peak uint64) { return statusRSS("/proc/" + strconv.Itoa(pid) + "/status") }

// statusRSS reads VmRSS and VmHWM from a /proc/<pid>/status file; 0 when unreadable.
func statusRSS(path string) (rss, peak uint64) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		k, v, ok := strings.Cut(line, ":")
		fields := strings.Fields(v)
		if !ok || len(fields) != 2 || fields[1] != "kB" {
			continue
		}
		n, err := strconv.ParseUint(fields[0], 10, 64)
		if err != nil {
			continue
		}
		switch k {
		case "VmRSS":
			rss = n << 10
		case "VmHWM":
			peak = n << 10
		}
	}
	return rss, peak
}
