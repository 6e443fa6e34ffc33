package cognito

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/cognitokit/cognitokit/pkg/cognitotest"
)

const (
	poolB        = "eu-west-1_LocalPool2"
	inventoryWeb = "5web00000inventory0client5"
	partnerSync  = "4partner0sync00client00004"
)

// twoPools starts cognitotest.MultiPoolConfig on clk: pool A (poolID) and pool B (poolB),
// with their own issuers and keys.
func twoPools(t testing.TB, clk *fakeClock) *cognitotest.Server {
	t.Helper()
	cfg := cognitotest.MultiPoolConfig()
	cfg.Clock = clk.Now
	return cognitotest.Start(t, cfg)
}

// multiPoolConfigs: pool A accepts access tokens of the orders reader; pool B accepts ID
// tokens of its inventory web client.
func multiPoolConfigs() []JWTAuthorizerConfig {
	return []JWTAuthorizerConfig{
		{UserPoolID: poolID, Audience: readerClient},
		{UserPoolID: poolB, Audience: inventoryWeb, TokenUse: TokenUseID},
	}
}

func newMultiAuthorizer(t testing.TB, srv *cognitotest.Server, clk *fakeClock, opts ...AuthorizerOption) *JWTAuthorizer {
	t.Helper()
	base := []AuthorizerOption{WithEndpoint(srv.BaseURL()), WithClock(clk.Now)}
	z, err := NewMultiPoolAuthorizer(multiPoolConfigs(), append(base, opts...)...)
	if err != nil {
		t.Fatalf("NewMultiPoolAuthorizer: %v", err)
	}
	return z
}

// refusedFor fails unless err is an *AuthorizationError for reason, and returns it.
func refusedFor(t testing.TB, err, reason error) *AuthorizationError {
	t.Helper()
	var ae *AuthorizationError
	if !errors.Is(err, reason) || !errors.As(err, &ae) {
		t.Fatalf("err = %v, want %v", err, reason)
	}
	return ae
}

func TestMultiPoolEachPoolByItsOwnRules(t *testing.T) {
	clk := newFakeClock()
	srv := twoPools(t, clk)
	z := newMultiAuthorizer(t, srv, clk)
	ctx := context.Background()

	a := mintAccess(t, srv, cognitotest.TokenOptions{Client: "orders-reader"})
	b := mintID(t, srv, cognitotest.TokenOptions{Pool: poolB, Client: "inventory-web", Username: "carol"})
	for range 2 { // the second round is served by the verified-token cache
		c, err := z.Verify(ctx, a)
		if err != nil || c.UserPoolID != poolID || c.ClientID != readerClient {
			t.Fatalf("pool A access token: %+v, %v", c, err)
		}
		if c, err = z.Verify(ctx, b); err != nil || c.UserPoolID != poolB || c.Email != "carol@example.net" {
			t.Fatalf("pool B ID token: %+v, %v", c, err)
		}
	}
	if got := z.UserPoolIDs(); strings.Join(got, " ") != poolID+" "+poolB {
		t.Fatalf("UserPoolIDs = %v", got)
	}

	// Pool A takes access tokens only, pool B ID tokens only.
	_, err := z.Verify(ctx, mintID(t, srv, cognitotest.TokenOptions{Client: "orders-reader"}))
	if ae := refusedFor(t, err, ErrInvalidTokenUse); ae.Claims == nil || ae.Claims.UserPoolID != poolID {
		t.Fatalf("claims on the refusal: %+v", ae.Claims)
	}
	_, err = z.Verify(ctx, mintAccess(t, srv, cognitotest.TokenOptions{Pool: poolB, Client: "inventory-web"}))
	refusedFor(t, err, ErrInvalidTokenUse)
	// Pool B's other client is not one pool B accepts, even though pool B issued it.
	_, err = z.Verify(ctx, mintID(t, srv, cognitotest.TokenOptions{Pool: poolB, Client: "partner-sync", Username: "carol"}))
	refusedFor(t, err, ErrInvalidClient)
}

func TestMultiPoolCrossPoolTokensAreRefused(t *testing.T) {
	clk := newFakeClock()
	srv := twoPools(t, clk)
	ctx := context.Background()

	t.Run("unknown issuer, without a JWKS request", func(t *testing.T) {
		z := newMultiAuthorizer(t, srv, clk)
		before := srv.Requests(cognitotest.EndpointJWKS)
		tok := mintAccess(t, srv, cognitotest.TokenOptions{Client: "orders-reader",
			Claims: map[string]any{"iss": srv.Issuer("us-east-1_Unknown9")}})
		_, err := z.Verify(ctx, tok)
		if ae := refusedFor(t, err, ErrInvalidIssuer); ae.Claims != nil {
			t.Fatal("claims on an unverified token")
		}
		if got := srv.Requests(cognitotest.EndpointJWKS) - before; got != 0 {
			t.Fatalf("%d JWKS requests for an unknown issuer", got)
		}
	})
	t.Run("pool B's iss signed with pool A's key", func(t *testing.T) {
		z := newMultiAuthorizer(t, srv, clk)
		tok := mintID(t, srv, cognitotest.TokenOptions{Client: "orders-reader",
			Claims: map[string]any{"iss": srv.Issuer(poolB), "aud": inventoryWeb}})
		_, err := z.Verify(ctx, tok)
		refusedFor(t, err, ErrUnknownKey)
		// The same, naming pool B's kid.
		bTok := mintID(t, srv, cognitotest.TokenOptions{Pool: poolB, Client: "inventory-web", Username: "carol"})
		tok = mintID(t, srv, cognitotest.TokenOptions{Client: "orders-reader",
			Header: map[string]any{"kid": kidOf(t, bTok)},
			Claims: map[string]any{"iss": srv.Issuer(poolB), "aud": inventoryWeb}})
		_, err = z.Verify(ctx, tok)
		refusedFor(t, err, ErrInvalidSignature)
	})
	t.Run("a foreign key naming pool A's kid", func(t *testing.T) {
		z := newMultiAuthorizer(t, srv, clk)
		tok := mintAccess(t, srv, cognitotest.TokenOptions{Client: "orders-reader", SigningKey: spareKey()})
		_, err := z.Verify(ctx, tok)
		refusedFor(t, err, ErrInvalidSignature)
	})
	t.Run("pool A's client inside a pool B token", func(t *testing.T) {
		z := newMultiAuthorizer(t, srv, clk)
		tok := mintID(t, srv, cognitotest.TokenOptions{Pool: poolB, Client: "inventory-web", Username: "carol",
			Claims: map[string]any{"aud": readerClient}})
		_, err := z.Verify(ctx, tok)
		if ae := refusedFor(t, err, ErrInvalidClient); ae.Claims == nil || ae.Claims.UserPoolID != poolB {
			t.Fatalf("claims on the refusal: %+v", ae.Claims)
		}
	})
}

func TestMultiPoolConfigErrors(t *testing.T) {
	good := multiPoolConfigs()
	for _, tc := range []struct {
		name  string
		pools []JWTAuthorizerConfig
		opts  []AuthorizerOption
		want  string
	}{
		{"no pool", nil, nil, "no user pool"},
		{"same pool twice", []JWTAuthorizerConfig{good[0], good[1], good[0]}, nil,
			`pools 0 ("us-east-1_LocalPool1") and 2 ("us-east-1_LocalPool1") both accept issuer`},
		{"replica issuer of another pool", []JWTAuthorizerConfig{good[0],
			{UserPoolID: "us-east-1_Other1", Audience: "c", Issuers: []string{"http://127.0.0.1:9/us-east-1_LocalPool1"}}}, nil,
			`pools 0 ("us-east-1_LocalPool1") and 1 ("us-east-1_Other1") both accept issuer http://127.0.0.1:9/us-east-1_LocalPool1`},
		{"bad pool", []JWTAuthorizerConfig{good[0], {UserPoolID: poolB}}, nil, `pool 1 ("eu-west-1_LocalPool2"): no app client`},
		{"bad token use", []JWTAuthorizerConfig{good[0], {UserPoolID: poolB, Audience: "c", TokenUse: "refresh"}}, nil,
			`pool 1 ("eu-west-1_LocalPool2"): TokenUse "refresh"`},
		{"WithJWKS", good, []AuthorizerOption{WithJWKS([]byte(`{"keys":[]}`))}, "use WithPoolJWKS"},
		{"WithPoolJWKS of no pool", good, []AuthorizerOption{WithPoolJWKS("us-east-1_Nope", []byte(`{}`))}, `no configured pool has ID "us-east-1_Nope"`},
		{"WithPoolJWKS without keys", good, []AuthorizerOption{WithPoolJWKS(poolB, []byte(`{"keys":[]}`))}, `pool 1 ("eu-west-1_LocalPool2"): WithPoolJWKS`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewMultiPoolAuthorizer(tc.pools, append([]AuthorizerOption{WithEndpoint("http://127.0.0.1:9")}, tc.opts...)...)
			if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want ErrInvalidConfig containing %q", err, tc.want)
			}
		})
	}
}

// TestMultiPoolUnknownKidFloodCostsOtherPoolsNothing: a stream of made-up kids against
// pool A causes one refetch of A's JWKS and none of B's, and B's tokens keep verifying.
func TestMultiPoolUnknownKidFloodCostsOtherPoolsNothing(t *testing.T) {
	clk := newFakeClock()
	srv := twoPools(t, clk)
	z := newMultiAuthorizer(t, srv, clk, WithVerifiedCacheSize(0))
	ctx := context.Background()
	if err := z.Warm(ctx); err != nil {
		t.Fatal(err)
	}
	b := mintID(t, srv, cognitotest.TokenOptions{Pool: poolB, Client: "inventory-web", Username: "carol"})
	for i := range 200 {
		tok := mintAccess(t, srv, cognitotest.TokenOptions{Client: "orders-reader",
			Header: map[string]any{"kid": fmt.Sprintf("made-up-%d", i)}})
		if _, err := z.Verify(ctx, tok); !errors.Is(err, ErrUnknownKey) {
			t.Fatalf("made-up kid %d: %v", i, err)
		}
		if _, err := z.Verify(ctx, b); err != nil {
			t.Fatalf("pool B during the flood: %v", err)
		}
	}
	if a, b := srv.PoolRequests(poolID, cognitotest.EndpointJWKS), srv.PoolRequests(poolB, cognitotest.EndpointJWKS); a != 2 || b != 1 {
		t.Fatalf("JWKS requests: pool A %d (want 2: load, one refetch), pool B %d (want 1: load)", a, b)
	}
}

func TestMultiPoolOneJWKSDown(t *testing.T) {
	clk := newFakeClock()
	srv := twoPools(t, clk)
	srv.FailNextForPool(poolID, cognitotest.EndpointJWKS, 1000, cognitotest.Fault{Status: 503})
	z := newMultiAuthorizer(t, srv, clk)
	ctx := context.Background()

	err := z.Warm(ctx)
	if !errors.Is(err, ErrJWKSUnavailable) || !strings.Contains(err.Error(), `pool 0 (`+poolID+`)`) ||
		strings.Contains(err.Error(), poolB) {
		t.Fatalf("Warm = %v, want an error naming pool 0 only", err)
	}
	b := mintID(t, srv, cognitotest.TokenOptions{Pool: poolB, Client: "inventory-web", Username: "carol"})
	if _, err := z.Verify(ctx, b); err != nil {
		t.Fatalf("pool B while A's JWKS is down: %v", err)
	}
	_, err = z.Verify(ctx, mintAccess(t, srv, cognitotest.TokenOptions{Client: "orders-reader"}))
	if ae := refusedFor(t, err, ErrJWKSUnavailable); ae.Claims != nil {
		t.Fatal("claims on a token whose signature was never checked")
	}
}

// TestMultiPoolRotationOnOnePool: pool A's new keys are fetched on their first token and
// its old tokens die, while pool B's cached tokens and keys are untouched.
func TestMultiPoolRotationOnOnePool(t *testing.T) {
	clk := newFakeClock()
	srv := twoPools(t, clk)
	z := newMultiAuthorizer(t, srv, clk)
	ctx := context.Background()
	oldA := mintAccess(t, srv, cognitotest.TokenOptions{Client: "orders-reader"})
	b := mintID(t, srv, cognitotest.TokenOptions{Pool: poolB, Client: "inventory-web", Username: "carol"})
	for _, tok := range []string{oldA, b} {
		if _, err := z.Verify(ctx, tok); err != nil {
			t.Fatal(err)
		}
	}
	if err := srv.RotateKeys(poolID); err != nil {
		t.Fatal(err)
	}
	newA := mintAccess(t, srv, cognitotest.TokenOptions{Client: "orders-reader"})
	if c, err := z.Verify(ctx, newA); err != nil || c.UserPoolID != poolID {
		t.Fatalf("pool A's token under its new key: %v", err)
	}
	if _, err := z.Verify(ctx, oldA); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("pool A's token under its retired key: %v", err)
	}
	if _, err := z.Verify(ctx, b); err != nil {
		t.Fatalf("pool B after pool A rotated: %v", err)
	}
	if e := z.verified.get(b); e == nil {
		t.Fatal("pool A's rotation dropped pool B's cached token")
	}
	if got := srv.PoolRequests(poolB, cognitotest.EndpointJWKS); got != 1 {
		t.Fatalf("pool B JWKS requests = %d, want 1", got)
	}
}

// TestOnePoolIsTheMultiPoolCase: NewJWTAuthorizer(cfg) and NewMultiPoolAuthorizer with
// cfg alone behave alike, UserPoolID included.
func TestOnePoolIsTheMultiPoolCase(t *testing.T) {
	clk := newFakeClock()
	srv := localCognito(t, clk)
	one := newAuthorizer(t, srv, clk, JWTAuthorizerConfig{})
	multi, err := NewMultiPoolAuthorizer([]JWTAuthorizerConfig{{UserPoolID: poolID, Audience: readerClient}},
		WithEndpoint(srv.BaseURL()), WithClock(clk.Now))
	if err != nil {
		t.Fatal(err)
	}
	tok := mintAccess(t, srv, cognitotest.TokenOptions{Client: "orders-reader"})
	for _, z := range []*JWTAuthorizer{one, multi} {
		if c, err := z.Verify(context.Background(), tok); err != nil || c.UserPoolID != poolID {
			t.Fatalf("%+v, %v", c, err)
		}
		if z.Issuer() != srv.Issuer(poolID) {
			t.Fatalf("Issuer = %s", z.Issuer())
		}
	}
}
