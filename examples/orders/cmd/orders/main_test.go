package main

import (
	"bufio"
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cognitokit/cognitokit/examples/orders"
	"github.com/cognitokit/cognitokit/pkg/cognitotest"
)

// TestRunsAgainstLocalCognito builds the service, runs it configured only through the
// environment against a local Cognito, calls it, reloads its policy on SIGHUP and stops it
// with SIGTERM.
func TestRunsAgainstLocalCognito(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "orders")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	idp := cognitotest.Start(t, cognitotest.DefaultConfig())
	pool := idp.Pools()[0]
	admin, _ := pool.Client("orders-admin")
	policyFile := filepath.Join(dir, "routes.yaml")
	if err := os.WriteFile(policyFile, orders.RoutesYAML, 0o600); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin)
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"),
		"COGNITO_USER_POOL_ID=" + pool.ID,
		"COGNITO_ENDPOINT=" + idp.BaseURL(),
		"COGNITO_CLIENT_ID=" + admin.ID,
		"COGNITO_CLIENT_SECRET=" + admin.Secret,
		"COGNITO_TOKEN_URL=" + idp.TokenURL(),
		"ORDERS_ADDR=127.0.0.1:0",
		"ORDERS_POLICY=" + policyFile,
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	logs := make(chan string, 100)
	var all []string // every log line, read once logs is closed
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			all = append(all, sc.Text())
			logs <- sc.Text()
		}
		close(logs)
	}()
	addr := regexp.MustCompile(`addr=(127\.0\.0\.1:\d+)`)
	var base string
	for base == "" {
		line, ok := <-logs
		if !ok {
			t.Fatal("service exited before listening")
		}
		if m := addr.FindStringSubmatch(line); m != nil {
			base = "http://" + m[1]
		}
	}
	get := func(path, token string) int {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx, "GET", base+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	reader, err := idp.MintAccessToken(cognitotest.TokenOptions{Client: "orders-reader"})
	if err != nil {
		t.Fatal(err)
	}
	if got := get("/healthz", ""); got != 200 {
		t.Errorf("/healthz = %d", got)
	}
	if got := get("/orders/1", ""); got != 401 {
		t.Errorf("/orders/1 without token = %d; want 401", got)
	}
	if got := get("/orders/1/invoice", reader); got != 200 {
		t.Errorf("/orders/1/invoice (outbound call with the service's own token) = %d; want 200", got)
	}

	// A policy change that makes /healthz private, applied on SIGHUP.
	changed := strings.Replace(string(orders.RoutesYAML), "\"GET /healthz\":\n    public: true", "\"GET /healthz\": {}", 1)
	if changed == string(orders.RoutesYAML) {
		t.Fatal("could not edit the policy")
	}
	if err := os.WriteFile(policyFile, []byte(changed), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	for line := range logs {
		if strings.Contains(line, "policy reloaded") {
			break
		}
	}
	if got := get("/healthz", ""); got != 401 {
		t.Errorf("/healthz after reload = %d; want 401", got)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for range logs {
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("service did not shut down cleanly: %v\n%s", err, strings.Join(all, "\n"))
	}
	for _, line := range all {
		if strings.Contains(line, admin.Secret) || strings.Contains(line, reader) {
			t.Errorf("a secret or token reached the logs: %s", line)
		}
	}
}
