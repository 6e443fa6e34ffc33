package cognitotest_test

import (
	"context"
	"testing"

	"github.com/cognitokit/cognitokit/pkg/cognitotest"
)

// TestMultiPoolConfigPoolsAreDistinct: the two pools have their own issuers and keys, and
// faults and counts can aim at one pool's JWKS.
func TestMultiPoolConfigPoolsAreDistinct(t *testing.T) {
	srv := cognitotest.Start(t, cognitotest.MultiPoolConfig())
	pools := srv.Pools()
	if len(pools) != 2 {
		t.Fatalf("%d pools, want 2", len(pools))
	}
	a, b := pools[0].ID, pools[1].ID
	if srv.Issuer(a) == srv.Issuer(b) {
		t.Fatal("pools share an issuer")
	}
	ja, err := srv.JWKS(a)
	if err != nil {
		t.Fatal(err)
	}
	jb, err := srv.JWKS(b)
	if err != nil {
		t.Fatal(err)
	}
	if string(ja) == string(jb) {
		t.Fatal("pools share their keys")
	}
	if _, err := srv.MintAccessToken(cognitotest.TokenOptions{Pool: b, Client: "partner-sync"}); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.MintIDToken(cognitotest.TokenOptions{Pool: b, Username: "carol"}); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.MintAccessToken(cognitotest.TokenOptions{Pool: b, Client: "orders-reader"}); err == nil {
		t.Fatal("minted a pool-B token for a pool-A client")
	}

	srv.FailNextForPool(a, cognitotest.EndpointJWKS, 1, cognitotest.Fault{Status: 503})
	client := newClient(t, srv)
	ctx := context.Background()
	resp, err := client.GetJWKSWithResponse(ctx, b)
	if err != nil || resp.StatusCode() != 200 {
		t.Fatalf("pool B JWKS: %v, %v; want 200 while pool A is failing", resp, err)
	}
	if resp, err = client.GetJWKSWithResponse(ctx, a); err != nil || resp.StatusCode() != 503 {
		t.Fatalf("pool A JWKS: %v; want the injected 503", err)
	}
	if resp, err = client.GetJWKSWithResponse(ctx, a); err != nil || resp.StatusCode() != 200 {
		t.Fatalf("pool A JWKS after its fault: %v", err)
	}
	if got := srv.PoolRequests(a, cognitotest.EndpointJWKS); got != 2 {
		t.Errorf("pool A JWKS requests = %d, want 2", got)
	}
	if got := srv.PoolRequests(b, cognitotest.EndpointJWKS); got != 1 {
		t.Errorf("pool B JWKS requests = %d, want 1", got)
	}
	if got := srv.Requests(cognitotest.EndpointJWKS); got != 3 {
		t.Errorf("JWKS requests = %d, want 3", got)
	}
}
