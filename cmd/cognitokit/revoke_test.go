package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cognitokit/cognitokit/internal/testkit"
	"github.com/cognitokit/cognitokit/pkg/cognito"
	"github.com/cognitokit/cognitokit/pkg/redisstore"
)

// TestRevokeCommand: the CLI puts entries on the list a running service enforces, and
// lists them (IDs only); usage mistakes exit 2.
func TestRevokeCommand(t *testing.T) {
	addr := testkit.StartRedis(t)
	url := "redis://" + addr + "/0"
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { _ = rdb.Close() })
	applied := make(chan cognito.Revocation, 10)
	service, err := redisstore.NewRevocationList(rdb, redisstore.WithOnApply(func(r cognito.Revocation) { applied <- r }))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = service.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := service.Wait(ctx); err != nil {
		t.Fatal(err)
	}

	r := cli(t, "", nil, "revoke", "--redis-url", url, "--sub", "a11ce000-0000-4000-8000-000000000001",
		"--issued-before", "2026-05-01T12:00:00Z", "--ttl", "2h").must(t, 0)
	if !strings.Contains(r.stdout, "revoked: sub a11ce000-0000-4000-8000-000000000001 issued_before=2026-05-01T12:00:00Z") {
		t.Errorf("stdout = %q", r.stdout)
	}
	got := testkit.Within(t, applied, 30*time.Second, "the service applying the CLI's revocation")
	if got.Kind != cognito.RevokeSubject || !got.IssuedBefore.Equal(time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)) {
		t.Errorf("applied %+v", got)
	}
	cli(t, "", []string{"COGNITOKIT_REDIS_URL=" + url}, "revoke", "--origin-jti", "11111111-1111-4111-8111-111111111111").must(t, 0)
	testkit.Within(t, applied, 30*time.Second, "the second revocation")

	r = cli(t, "", nil, "revoke", "--redis-url", url, "--list").must(t, 0)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "origin_jti 11111111-1111-4111-8111-111111111111 expires=") ||
		!strings.HasPrefix(lines[1], "sub a11ce000") {
		t.Errorf("--list:\n%s", r.stdout)
	}

	for _, args := range [][]string{
		{"revoke", "--jti", "x"},                                   // no Redis
		{"revoke", "--redis-url", url},                             // nothing to revoke
		{"revoke", "--redis-url", url, "--jti", "x", "--sub", "y"}, // two kinds
		{"revoke", "--redis-url", url, "--jti", "x", "--issued-before", "2026-05-01T12:00:00Z"},
		{"revoke", "--redis-url", url, "--sub", "x", "--issued-before", "yesterday"},
		{"revoke", "--redis-url", url, "--list", "--jti", "x"},
		{"revoke", "--redis-url", "http://" + addr, "--jti", "x"},
	} {
		if r := cli(t, "", nil, args...); r.code != 2 {
			t.Errorf("%v: exit %d; want 2\n%s", args, r.code, r.stderr)
		}
	}
	r = cli(t, "", nil, "revoke", "--redis-url", "redis://user:hunter2@127.0.0.1:1/0", "--jti", "x", "--timeout", "500ms")
	if r.code != 1 || strings.Contains(r.stderr, "hunter2") {
		t.Errorf("unreachable Redis: exit %d, stderr %q", r.code, r.stderr)
	}
}
