package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cognitokit/cognitokit/pkg/cognitotest"
)

func writeTemp(t *testing.T, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestVerifyPoolsFile(t *testing.T) {
	srv := cognitotest.Start(t, cognitotest.MultiPoolConfig())
	dir := t.TempDir()
	jwksB, err := srv.JWKS("eu-west-1_LocalPool2")
	if err != nil {
		t.Fatal(err)
	}
	writeTemp(t, dir, "b.json", string(jwksB))
	pools := writeTemp(t, dir, "pools.yaml", `pools:
  - user_pool_id: us-east-1_LocalPool1
    client_ids: [1reader0orders0client00001]
    scopes: [orders/read]
  - user_pool_id: eu-west-1_LocalPool2
    any_client: true
    token_use: id
    leeway: 30s
    jwks_file: b.json
`)
	a, err := srv.MintAccessToken(cognitotest.TokenOptions{Client: "orders-reader"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := srv.MintIDToken(cognitotest.TokenOptions{Pool: "eu-west-1_LocalPool2", Username: "carol"})
	if err != nil {
		t.Fatal(err)
	}
	bAccess, err := srv.MintAccessToken(cognitotest.TokenOptions{Pool: "eu-west-1_LocalPool2"})
	if err != nil {
		t.Fatal(err)
	}
	flags := []string{"verify", "--pools", pools, "--endpoint", srv.BaseURL()}
	r := cli(t, "", nil, append(flags, a)...).must(t, 0)
	if !strings.Contains(r.stderr, "pool: us-east-1_LocalPool1") {
		t.Fatalf("stderr = %q", r.stderr)
	}
	r = cli(t, "", nil, append(flags, b)...).must(t, 0)
	if !strings.Contains(r.stderr, "pool: eu-west-1_LocalPool2") {
		t.Fatalf("stderr = %q", r.stderr)
	}
	cli(t, "", nil, append(flags, bAccess)...).must(t, 1) // pool B takes ID tokens only
	if n := srv.PoolRequests("eu-west-1_LocalPool2", cognitotest.EndpointJWKS); n != 0 {
		t.Fatalf("pool B's JWKS fetched %d times despite jwks_file", n)
	}

	r = cli(t, a+"\n"+b+"\n"+bAccess+"\n", nil, append(flags, "-")...).must(t, 1)
	var got []string
	for line := range strings.Lines(r.stdout) {
		var res struct {
			Valid bool
			Pool  string `json:"user_pool_id"`
			Error string
		}
		if err := json.Unmarshal([]byte(line), &res); err != nil {
			t.Fatal(err)
		}
		got = append(got, res.Pool+res.Error)
	}
	if strings.Join(got, " ") != "us-east-1_LocalPool1 eu-west-1_LocalPool2 invalid_token_use" {
		t.Fatalf("batch = %v", got)
	}

	// Per-pool flags beside --pools, and bad files.
	r = cli(t, "", nil, append(flags, "--client-id", "x", a)...).must(t, 2)
	if !strings.Contains(r.stderr, "--client-id") {
		t.Errorf("stderr = %q", r.stderr)
	}
	for _, tc := range []struct{ doc, want string }{
		{"pools:\n  - user_pool_id: us-east-1_A\n    client: x\n", `bad.yaml:3:5: unknown key "client" in a pool`},
		{"pools:\n  - user_pool_id: us-east-1_A\n    any_client: yes please\n", "bad.yaml:3:17: any_client must be true or false"},
		{"pools:\n  - user_pool_id: [x]\n", "bad.yaml:2:19: user_pool_id must be a string"},
		{"pools:\n  - client_ids: [x]\n", "bad.yaml:2:5: a pool needs user_pool_id"},
		{"pool: []\n", `bad.yaml:1:1: unknown key "pool"`},
		{"pools: []\n", "bad.yaml:1:8: pools must be a non-empty list"},
		{"pools:\n  - {user_pool_id: us-east-1_A, any_client: true}\n  - {user_pool_id: us-east-1_A, any_client: true}\n",
			`pools 0 ("us-east-1_A") and 1 ("us-east-1_A") both accept issuer`},
		{"pools:\n  - {user_pool_id: us-east-1_A, any_client: true}\n  - {user_pool_id: us-east-1_B}\n", `pool 1 ("us-east-1_B"): no app client`},
	} {
		bad := writeTemp(t, dir, "bad.yaml", tc.doc)
		r := cli(t, "", nil, "verify", "--pools", bad, "--endpoint", srv.BaseURL(), a).must(t, 2)
		if !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%q: stderr = %q, want %q", tc.doc, r.stderr, tc.want)
		}
	}
}

func TestPolicyCheckListsChecks(t *testing.T) {
	path := writeTemp(t, t.TempDir(), "routes.yaml", `version: 1
routes:
  "GET /orders": {pool: us-east-1_LocalPool1, checks: [active-org]}
  "GET /reports": {checks: [paid-plan, active-org]}
`)
	r := cli(t, "", nil, "policy", "check", path).must(t, 0)
	if !strings.Contains(r.stdout, "checks: active-org, paid-plan") {
		t.Fatalf("stdout = %q", r.stdout)
	}
	r = cli(t, "", nil, "policy", "check", "--json", path).must(t, 0)
	var out struct{ Checks []string }
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || strings.Join(out.Checks, ",") != "active-org,paid-plan" {
		t.Fatalf("json = %q: %v", r.stdout, err)
	}
	r = cli(t, "", nil, "policy", "explain", path, "--request", "GET /reports", "--claims", writeTemp(t, t.TempDir(), "c.json", `{"sub":"x","token_use":"access"}`)).must(t, 0)
	if !strings.Contains(r.stdout, "checks:    paid-plan, active-org") || !strings.Contains(r.stdout, "allow") {
		t.Fatalf("explain = %q", r.stdout)
	}
}
