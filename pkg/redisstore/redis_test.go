package redisstore_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// redisServer is a real redis-server on a free loopback port, in a temporary directory,
// without persistence, stopped when the test ends. The Redis tests skip when redis-server
// is not installed; CI (.ci/run) installs it, so there they run.
type redisServer struct {
	tb     testing.TB
	path   string
	dir    string
	port   int
	config string   // a configuration file, or ""
	args   []string // beyond the port, the bind address and no persistence

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
	output *strings.Builder
}

func startRedis(tb testing.TB) *redisServer {
	tb.Helper()
	return startRedisWith(tb, "redis-server", "")
}

// startRedisWith starts binary (redis-server or redis-sentinel) with a configuration file
// (or "") and args added.
func startRedisWith(tb testing.TB, binary, config string, args ...string) *redisServer {
	tb.Helper()
	path, err := exec.LookPath(binary)
	if err != nil {
		tb.Skip(binary + " is not installed, so this Redis test is skipped " +
			"(apt-get install redis-server redis-sentinel; CI installs them and runs it)")
	}
	r := &redisServer{tb: tb, path: path, dir: tb.TempDir(), config: config, args: args}
	tb.Cleanup(r.Stop)
	// Another process may take the free port between the probe and redis-server's bind.
	for attempt := 0; ; attempt++ {
		r.port = freePort(tb)
		err := r.start()
		if err == nil {
			return r
		}
		if attempt == 4 {
			tb.Fatalf("redis-server did not start: %v", err)
		}
	}
}

func freePort(tb testing.TB) int {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Addr is the server's host:port.
func (r *redisServer) Addr() string { return "127.0.0.1:" + strconv.Itoa(r.port) }

// start runs redis-server on r.port and waits until it accepts connections.
func (r *redisServer) start() error {
	var args []string
	if r.config != "" {
		args = append(args, r.config) // a configuration file comes first
	}
	args = append(args, "--port", strconv.Itoa(r.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", r.dir, "--daemonize", "no", "--logfile", "")
	args = append(args, r.args...)
	cmd := exec.Command(r.path, args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	cmd.Stderr = cmd.Stdout
	killWithParent(cmd)
	if err := cmd.Start(); err != nil {
		return err
	}
	out := &strings.Builder{}
	ready := make(chan struct{})
	exited := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		signalled := false
		for sc.Scan() {
			out.WriteString(sc.Text() + "\n")
			// redis-sentinel never says it is ready; its ID comes once it listens.
			if !signalled && (strings.Contains(sc.Text(), "Ready to accept connections") || strings.Contains(sc.Text(), "Sentinel ID is")) {
				signalled = true
				close(ready)
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
		_ = cmd.Wait()
		close(exited)
	}()
	select {
	case <-ready:
	case <-exited:
		return fmt.Errorf("redis-server exited:\n%s", out)
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		<-exited
		return fmt.Errorf("redis-server not ready after 10s")
	}
	r.mu.Lock()
	r.cmd, r.exited, r.output = cmd, exited, out
	r.mu.Unlock()
	return nil
}

// Stop kills the server, as a crash would, and waits for it to exit.
func (r *redisServer) Stop() {
	r.mu.Lock()
	cmd, exited := r.cmd, r.exited
	r.cmd = nil
	r.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Kill()
	<-exited
}

// Restart starts the server again on the same port, empty.
func (r *redisServer) Restart() {
	r.tb.Helper()
	if err := r.start(); err != nil {
		r.tb.Fatalf("restart redis-server: %v", err)
	}
}

// newClient returns a go-redis client of the server, closed when the test ends.
func newClient(tb testing.TB, addr string, hooks ...redis.Hook) *redis.Client {
	tb.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr, PoolSize: 4})
	for _, h := range hooks {
		c.AddHook(h)
	}
	tb.Cleanup(func() { _ = c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		tb.Fatalf("redis PING: %v", err)
	}
	return c
}
