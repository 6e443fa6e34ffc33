package main

import (
	"bufio"
	"embed"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// proxyConfigs are the nginx and Caddy configurations docs/proxies shows, which the
// tests and `cognitokit demo --proxy` run as they are, with the example addresses
// replaced.
//
//go:embed testdata/proxies/nginx.conf testdata/proxies/Caddyfile
var proxyConfigs embed.FS

// The addresses the example configurations use.
const (
	exampleProxyAddr    = "127.0.0.1:8080"
	exampleServeAddr    = "127.0.0.1:9191"
	exampleUpstreamAddr = "127.0.0.1:8000"
)

// proxyKind is how to run one reverse proxy in the foreground, unprivileged, with
// everything it writes inside one directory.
type proxyKind struct {
	binary, config string
	ready          string // a line of its stderr saying it is listening
	args           []string
}

var proxyKinds = map[string]proxyKind{
	// -p: every relative path of the configuration (pid, temp files) is under the
	// directory; -e: nginx opens no default error log before reading the configuration.
	"nginx": {binary: "nginx", config: "nginx.conf", ready: "start worker process",
		args: []string{"-p", ".", "-c", "nginx.conf", "-e", "stderr", "-g", "error_log stderr notice;"}},
	"caddy": {binary: "caddy", config: "Caddyfile", ready: "serving initial configuration",
		args: []string{"run", "--config", "Caddyfile", "--adapter", "caddyfile"}},
}

// proxyConfig is the named example configuration with the example addresses replaced.
func proxyConfig(name, proxyAddr, serveAddr, upstreamAddr string) (string, error) {
	b, err := proxyConfigs.ReadFile("testdata/proxies/" + name)
	if err != nil {
		return "", err
	}
	return strings.NewReplacer(exampleProxyAddr, proxyAddr, exampleServeAddr, serveAddr, exampleUpstreamAddr, upstreamAddr).Replace(string(b)), nil
}

// runningProxy is a proxy process started by startProxy.
type runningProxy struct {
	cmd    *exec.Cmd
	exited chan struct{}
	mu     sync.Mutex
	log    strings.Builder
}

// Log returns what the proxy wrote to stderr.
func (p *runningProxy) Log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.log.String()
}

// Stop asks the proxy to stop and waits for it (killing it after 30 s).
func (p *runningProxy) Stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

// startProxy runs the proxy of kind with its example configuration in dir, between
// clients on proxyAddr, cognitokit serve on serveAddr and the service on upstreamAddr,
// and returns once it listens. Its HOME and XDG directories are dir too: it writes
// nothing elsewhere.
func startProxy(kind, dir, proxyAddr, serveAddr, upstreamAddr string, readyWithin time.Duration) (*runningProxy, error) {
	k, ok := proxyKinds[kind]
	if !ok {
		return nil, fmt.Errorf("unknown proxy %q (nginx or caddy)", kind)
	}
	path, err := exec.LookPath(k.binary)
	if err != nil {
		return nil, fmt.Errorf("%s is not installed: %w", k.binary, err)
	}
	config, err := proxyConfig(k.config, proxyAddr, serveAddr, upstreamAddr)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, k.config), []byte(config), 0o600); err != nil {
		return nil, err
	}
	cmd := exec.Command(path, k.args...)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "XDG_CONFIG_HOME=" + dir, "XDG_DATA_HOME=" + dir}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &runningProxy{cmd: cmd, exited: make(chan struct{})}
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		signalled := false
		for sc.Scan() {
			p.mu.Lock()
			p.log.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
			if !signalled && strings.Contains(sc.Text(), k.ready) {
				signalled = true
				ready <- true
			}
		}
		if !signalled {
			ready <- false
		}
		_ = cmd.Wait()
		close(p.exited)
	}()
	select {
	case ok := <-ready:
		if ok {
			return p, nil
		}
		<-p.exited
		return nil, fmt.Errorf("%s exited at start-up: %s", k.binary, lastLines(p.Log(), 5))
	case <-time.After(readyWithin):
		p.Stop()
		return nil, errors.New(k.binary + " did not start listening: " + lastLines(p.Log(), 5))
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "; ")
}
