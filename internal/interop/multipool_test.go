//go:build interop

package interop_test

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cognitokit/cognitokit/pkg/cognito"
	"github.com/cognitokit/cognitokit/pkg/cognitotest"
)

// TestAwsJwtVerifyAgreesOnTwoPools runs two-pool cases through aws-jwt-verify's
// multi-pool CognitoJwtVerifier and cognitokit's NewMultiPoolAuthorizer, configured
// alike: pool A takes access tokens of one client, pool B ID tokens of another. Both must
// decide every case the same way, including the cross-pool ones.
func TestAwsJwtVerifyAgreesOnTwoPools(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	cfg := cognitotest.MultiPoolConfig()
	cfg.Clock = func() time.Time { return now }
	// Not served: only its keys and tokens are used, with AWS issuers put in the tokens.
	srv, err := cognitotest.New("http://127.0.0.1:9", cfg)
	if err != nil {
		t.Fatal(err)
	}
	const (
		poolA, clientA = "us-east-1_LocalPool1", "1reader0orders0client00001"
		poolB, clientB = "eu-west-1_LocalPool2", "5web00000inventory0client5"
	)
	issuer := func(pool string) string {
		region, _, _ := strings.Cut(pool, "_")
		return "https://cognito-idp." + region + ".amazonaws.com/" + pool
	}
	foreign, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	type tokenCase struct {
		Name  string `json:"name"`
		Token string `json:"token"`
		valid bool
	}
	var cases []tokenCase
	add := func(name string, valid, id bool, o cognitotest.TokenOptions) {
		t.Helper()
		pool := o.Pool
		if pool == "" {
			pool = poolA
		}
		if o.Claims == nil {
			o.Claims = map[string]any{}
		}
		if _, set := o.Claims["iss"]; !set {
			o.Claims["iss"] = issuer(pool)
		}
		mint := srv.MintAccessToken
		if id {
			mint = srv.MintIDToken
		}
		tok, err := mint(o)
		if err != nil {
			t.Fatal(err)
		}
		cases = append(cases, tokenCase{Name: name, Token: tok, valid: valid})
	}
	add("pool A access token", true, false, cognitotest.TokenOptions{Client: "orders-reader"})
	add("pool A user access token", true, false, cognitotest.TokenOptions{Client: "orders-reader", Username: "alice"})
	add("pool B ID token", true, true, cognitotest.TokenOptions{Pool: poolB, Client: "inventory-web", Username: "carol"})
	add("pool A ID token, pool A takes access tokens", false, true, cognitotest.TokenOptions{Client: "orders-reader", Username: "alice"})
	add("pool B access token, pool B takes ID tokens", false, false, cognitotest.TokenOptions{Pool: poolB, Client: "inventory-web"})
	add("pool A's client in a pool B token", false, true, cognitotest.TokenOptions{Pool: poolB, Client: "inventory-web", Username: "carol",
		Claims: map[string]any{"aud": clientA}})
	add("pool B's client in a pool A token", false, false, cognitotest.TokenOptions{Client: "orders-reader",
		Claims: map[string]any{"client_id": clientB}})
	add("pool B's iss, signed with pool A's key", false, true, cognitotest.TokenOptions{Client: "orders-reader", Username: "alice",
		Claims: map[string]any{"iss": issuer(poolB), "aud": clientB}})
	add("pool A's iss, signed with pool B's key", false, false, cognitotest.TokenOptions{Pool: poolB, Client: "inventory-web",
		Claims: map[string]any{"iss": issuer(poolA), "client_id": clientA}})
	add("unknown pool's iss", false, false, cognitotest.TokenOptions{Client: "orders-reader",
		Claims: map[string]any{"iss": issuer("us-east-1_Unknown9")}})
	add("a foreign key with pool A's kid", false, false, cognitotest.TokenOptions{Client: "orders-reader", SigningKey: foreign})
	add("expired pool B token", false, true, cognitotest.TokenOptions{Pool: poolB, Client: "inventory-web", Username: "carol",
		IssuedAt: now.Add(-3 * time.Hour)})

	jwksA, err := srv.JWKS(poolA)
	if err != nil {
		t.Fatal(err)
	}
	jwksB, err := srv.JWKS(poolB)
	if err != nil {
		t.Fatal(err)
	}
	authz, err := cognito.NewMultiPoolAuthorizer([]cognito.JWTAuthorizerConfig{
		{UserPoolID: poolA, ClientIDs: []string{clientA}, TokenUse: cognito.TokenUseAccess},
		{UserPoolID: poolB, ClientIDs: []string{clientB}, TokenUse: cognito.TokenUseID},
	}, cognito.WithPoolJWKS(poolA, jwksA), cognito.WithPoolJWKS(poolB, jwksB),
		cognito.WithClock(func() time.Time { return now }))
	if err != nil {
		t.Fatal(err)
	}

	input, err := json.Marshal(map[string]any{
		"now": now.Unix(),
		"pools": []map[string]any{
			{"user_pool_id": poolA, "token_use": "access", "client_ids": []string{clientA}, "jwks": json.RawMessage(jwksA)},
			{"user_pool_id": poolB, "token_use": "id", "client_ids": []string{clientB}, "jwks": json.RawMessage(jwksB)},
		},
		"cases": cases,
	})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "multipool.json")
	if err := os.WriteFile(path, input, 0o600); err != nil {
		t.Fatal(err)
	}
	var results []awsResult
	if err := json.Unmarshal(runNode(t, "aws-jwt-verify-multipool.mjs", path), &results); err != nil {
		t.Fatalf("aws-jwt-verify output: %v", err)
	}
	if len(results) != len(cases) {
		t.Fatalf("aws-jwt-verify decided %d cases of %d", len(results), len(cases))
	}
	for i, c := range cases {
		r := results[i]
		_, err := authz.Verify(t.Context(), c.Token)
		ck := err == nil
		if !r.Decided {
			t.Errorf("%s: aws-jwt-verify did not decide: %s: %s", c.Name, r.Error, r.Message)
			continue
		}
		if ck != c.valid || r.Valid != c.valid {
			t.Errorf("%s: want valid=%v; cognitokit %v (%s), aws-jwt-verify %v (%s: %s)",
				c.Name, c.valid, ck, cognito.ReasonCode(err), r.Valid, r.Error, r.Message)
		}
	}
	t.Logf("aws-jwt-verify 5.2.1 and cognitokit on %d two-pool cases: every one decided alike", len(cases))
}
