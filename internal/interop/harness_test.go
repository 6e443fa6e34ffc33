//go:build interop

package interop_test

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/cognitokit/cognitokit/internal/testkit"
)

// repoRoot is the module root of this source tree.
func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// nodeDir is where `make interop` installed the pinned npm packages (INTEROP_DIR).
func nodeDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("INTEROP_DIR")
	if dir == "" {
		t.Skip("INTEROP_DIR is not set: run `make interop`, which installs the npm packages first")
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules")); err != nil {
		t.Fatalf("INTEROP_DIR %s has no node_modules: %v", dir, err)
	}
	return dir
}

// script copies interop/<name> next to the installed node_modules, so that node resolves
// the pinned packages, and returns its path.
func script(t *testing.T, name string) string {
	t.Helper()
	dir := nodeDir(t)
	src, err := os.ReadFile(filepath.Join(repoRoot(), "interop", name))
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(dir, name)
	if err := os.WriteFile(dst, src, 0o644); err != nil {
		t.Fatal(err)
	}
	return dst
}

// runNode runs a script to completion and returns its standard output.
func runNode(t *testing.T, name string, args ...string) []byte {
	t.Helper()
	path := script(t, name)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", append([]string{path}, args...)...)
	cmd.Dir = filepath.Dir(path)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node %s: %v\n%s", name, err, stderr.String())
	}
	return out
}

var listening = regexp.MustCompile(`listening on port (\d+)`)

// startNode starts a server script with env added to the environment, waits for its
// "listening on port N" line and returns "http://127.0.0.1:N". The process is killed when
// the test ends; its output is shown if the test failed.
func startNode(t *testing.T, name string, env ...string) string {
	t.Helper()
	path := script(t, name)
	cmd := exec.Command("node", path)
	cmd.Dir = filepath.Dir(path)
	cmd.Env = append(os.Environ(), env...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var output testkit.LogBuffer // any goroutine may write
	cmd.Stderr = &output
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ports := make(chan int, 1)
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			output.Write(append(sc.Bytes(), '\n'))
			if m := listening.FindSubmatch(sc.Bytes()); m != nil {
				port, _ := strconv.Atoi(string(m[1]))
				select {
				case ports <- port:
				default:
				}
			}
		}
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-readerDone
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("%s output:\n%s", name, output.String())
		}
	})
	select {
	case port := <-ports:
		return "http://127.0.0.1:" + strconv.Itoa(port)
	case <-readerDone:
		t.Fatalf("%s exited before listening:\n%s", name, output.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("%s did not listen within 30 s:\n%s", name, output.String())
	}
	return ""
}
