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
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cognitokit/cognitokit/internal/testkit"
	"github.com/cognitokit/cognitokit/pkg/cognito"
	"github.com/cognitokit/cognitokit/pkg/cognitotest"
	"github.com/cognitokit/cognitokit/pkg/redisstore"
)

// TestEnforcesRevocations: given ORDERS_REDIS_URL, the service refuses the tokens put on
// the fleet's list after it started (401, token_revoked), and only those.
func TestEnforcesRevocations(t *testing.T) {
	addr := testkit.StartRedis(t)
	dir := t.TempDir()
	bin := filepath.Join(dir, "orders")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	idp := cognitotest.Start(t, cognitotest.DefaultConfig())
	pool := idp.Pools()[0]
	admin, _ := pool.Client("orders-admin")
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
		"ORDERS_REDIS_URL=redis://" + addr + "/0",
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	sc := bufio.NewScanner(stderr)
	listening := regexp.MustCompile(`addr=(127\.0\.0\.1:\d+)`)
	var base string
	for base == "" && sc.Scan() {
		if m := listening.FindStringSubmatch(sc.Text()); m != nil {
			base = "http://" + m[1]
		}
	}
	if base == "" {
		t.Fatal("service exited before listening")
	}
	go func() {
		for sc.Scan() {
		}
	}()
	get := func(token string) (int, string) {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx, "GET", base+"/orders/1", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode, resp.Header.Get("WWW-Authenticate")
	}
	reader, _ := idp.MintAccessToken(cognitotest.TokenOptions{Client: "orders-reader"})
	writer, _ := idp.MintAccessToken(cognitotest.TokenOptions{Client: "orders-writer"})
	for _, tok := range []string{reader, writer} {
		if code, _ := get(tok); code != 200 {
			t.Fatalf("before the revocation: %d", code)
		}
	}

	rdb := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { _ = rdb.Close() })
	ops, err := redisstore.NewRevocationList(rdb)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ops.Close() })
	reader1, _ := pool.Client("orders-reader")
	if _, err := ops.Revoke(ctx, cognito.Revocation{Kind: cognito.RevokeClient, ID: reader1.ID}); err != nil {
		t.Fatal(err)
	}
	// The service applies it as the message arrives; a guard against a hang, not a timing
	// assertion.
	deadline := time.Now().Add(30 * time.Second)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		code, challenge := get(reader)
		if code == 401 {
			if !strings.Contains(challenge, `error_description="token_revoked"`) {
				t.Errorf("challenge %q; want token_revoked", challenge)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the revoked client's token still accepted after 30s")
		}
		<-tick.C
	}
	if code, _ := get(writer); code != 200 {
		t.Errorf("another client's token: %d", code)
	}
}
