package testkit

import (
	"bufio"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// StartRedis runs a redis-server without persistence on a free loopback port until the
// test ends and returns its address; it skips the test when redis-server is not
// installed (CI installs it).
func StartRedis(tb testing.TB) string {
	tb.Helper()
	path, err := exec.LookPath("redis-server")
	if err != nil {
		tb.Skip("redis-server is not installed, so this Redis test is skipped (apt-get install redis-server; CI installs it)")
	}
	for attempt := 0; ; attempt++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			tb.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		cmd := exec.Command(path, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "",
			"--appendonly", "no", "--dir", tb.TempDir(), "--daemonize", "no", "--logfile", "")
		out, err := cmd.StdoutPipe()
		if err != nil {
			tb.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			tb.Fatal(err)
		}
		ready := make(chan bool, 1)
		go func() {
			sc := bufio.NewScanner(out)
			signalled := false
			for sc.Scan() {
				if !signalled && strings.Contains(sc.Text(), "Ready to accept connections") {
					signalled = true
					ready <- true
				}
			}
			if !signalled {
				ready <- false
			}
		}()
		ok := false
		select {
		case ok = <-ready:
		case <-time.After(10 * time.Second):
		}
		if ok {
			tb.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
			return "127.0.0.1:" + strconv.Itoa(port)
		}
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if attempt == 4 {
			tb.Fatal("redis-server did not start")
		}
	}
}
