package cognito

// One test per authorizer bug of the predecessor (midil-kit's Cognito module), each of which would
// have caught it.

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/cognitokit/cognitokit/pkg/cognitotest"
)

// The predecessor never checked iss: a token of another pool (signed by that pool, whose
// key the attacker controls) was accepted if its kid happened to be in the JWKS.
func TestPredecessorIssuerChecked(t *testing.T) {
	clk := newFakeClock()
	srv := localCognito(t, clk)
	z := newAuthorizer(t, srv, clk, JWTAuthorizerConfig{})
	tok := mintAccess(t, srv, cognitotest.TokenOptions{Client: readerClient,
		Claims: map[string]any{"iss": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Attacker"}})
	_, err := z.Verify(t.Context(), tok)
	wantReason(t, err, ErrInvalidIssuer)
}

// The predecessor required aud, which Cognito access tokens never carry, so every access
// token was refused even with the right client.
func TestPredecessorAccessTokenWithoutAud(t *testing.T) {
	clk := newFakeClock()
	srv := localCognito(t, clk)
	z := newAuthorizer(t, srv, clk, JWTAuthorizerConfig{Audience: readerClient})
	tok := mintAccess(t, srv, cognitotest.TokenOptions{Client: readerClient})
	if _, hasAud := mustClaims(t, tok)["aud"]; hasAud {
		t.Fatal("fixture: access token has aud")
	}
	c, err := z.Verify(t.Context(), tok)
	if err != nil {
		t.Fatalf("access token refused: %v", err)
	}
	if c.ClientID != readerClient {
		t.Fatalf("ClientID = %q", c.ClientID)
	}
}

// The predecessor checked neither token_use, client_id, scopes nor groups.
func TestPredecessorTokenUseClientScopesGroupsChecked(t *testing.T) {
	clk := newFakeClock()
	srv := localCognito(t, clk)
	access := newAuthorizer(t, srv, clk, JWTAuthorizerConfig{Audience: readerClient})
	scoped := newAuthorizer(t, srv, clk, JWTAuthorizerConfig{ClientIDs: []string{readerClient, writerClient},
		RequiredScopes: []string{"orders/write"}})
	grouped := newAuthorizer(t, srv, clk, JWTAuthorizerConfig{Audience: readerClient, TokenUse: TokenUseID,
		RequiredGroups: []string{"admin"}})
	cases := []struct {
		z     *JWTAuthorizer
		token string
		want  error
	}{
		{access, mintID(t, srv, cognitotest.TokenOptions{Client: readerClient}), ErrInvalidTokenUse},
		{access, mintAccess(t, srv, cognitotest.TokenOptions{Client: writerClient}), ErrInvalidClient},
		{scoped, mintAccess(t, srv, cognitotest.TokenOptions{Client: readerClient}), ErrInsufficientScope},
		{grouped, mintID(t, srv, cognitotest.TokenOptions{Client: readerClient, Username: "bob"}), ErrNotInGroup},
	}
	for _, tc := range cases {
		_, err := tc.z.Verify(t.Context(), tc.token)
		wantReason(t, err, tc.want)
	}
}

// The predecessor allowed no clock skew: a token that expired a second ago on a server
// whose clock is a few seconds behind was refused.
func TestPredecessorLeeway(t *testing.T) {
	clk := newFakeClock()
	srv := localCognito(t, clk)
	z := newAuthorizer(t, srv, clk, JWTAuthorizerConfig{})
	for _, claims := range []map[string]any{
		{"exp": t0.Add(-5 * time.Second).Unix()},
		{"nbf": t0.Add(5 * time.Second).Unix()},
		{"iat": t0.Add(5 * time.Second).Unix()},
	} {
		if _, err := z.Verify(t.Context(), mintAccess(t, srv, cognitotest.TokenOptions{Client: readerClient, Claims: claims})); err != nil {
			t.Errorf("%v: %v", claims, err)
		}
	}
}

// The predecessor downloaded the JWKS 3 to 4 times for each token with an unknown kid and
// had no cooldown.
func TestPredecessorOneDownloadPerUnknownKid(t *testing.T) {
	clk := newFakeClock()
	srv := localCognito(t, clk)
	z := newAuthorizer(t, srv, clk, JWTAuthorizerConfig{})
	valid := mintAccess(t, srv, cognitotest.TokenOptions{Client: readerClient})
	if _, err := z.Verify(t.Context(), valid); err != nil {
		t.Fatal(err)
	}
	base := jwksRequests(srv)
	for i := range 5 {
		_, err := z.Verify(t.Context(), withKid(t, valid, "unknown-"+string(rune('a'+i))))
		wantReason(t, err, ErrUnknownKey)
	}
	if n := jwksRequests(srv) - base; n != 1 {
		t.Fatalf("%d JWKS downloads for 5 unknown kids within the cooldown, want 1", n)
	}
}

// The predecessor trusted a key forever once downloaded, even after Cognito removed it.
func TestPredecessorRemovedKeysRetired(t *testing.T) {
	clk := newFakeClock()
	srv := localCognito(t, clk)
	z := newAuthorizer(t, srv, clk, JWTAuthorizerConfig{})
	old := mintAccess(t, srv, cognitotest.TokenOptions{Client: readerClient, TTL: 24 * time.Hour})
	if _, err := z.Verify(t.Context(), old); err != nil {
		t.Fatal(err)
	}
	if err := srv.RotateKeys(poolID); err != nil {
		t.Fatal(err)
	}
	clk.Advance(DefaultJWKSRefresh)
	_, _ = z.Verify(t.Context(), old) // starts the refresh
	awaitFetch(z.issuers[0])
	_, err := z.Verify(t.Context(), old)
	wantReason(t, err, ErrUnknownKey)
}

// The predecessor let raw library errors (JSON, base64, RSA) escape; every refusal must be
// an *AuthorizationError with a reason, whatever the input.
func TestPredecessorNoRawLibraryErrors(t *testing.T) {
	clk := newFakeClock()
	srv := localCognito(t, clk)
	z := newAuthorizer(t, srv, clk, JWTAuthorizerConfig{}, WithHTTPClient(nil))
	valid := mintAccess(t, srv, cognitotest.TokenOptions{Client: readerClient})
	inputs := []string{"", "x", "a.b.c", "ey.ey.ey", valid + "x", strings.Repeat("a", 17<<10),
		withKid(t, valid, "unknown"), b64s("{}") + "." + b64s("{}") + "."}
	for _, in := range inputs {
		_, err := z.Verify(t.Context(), in)
		var ae *AuthorizationError
		if !errors.As(err, &ae) || ReasonCode(err) == "" {
			t.Errorf("Verify(%.20q) = %T %v", in, err, err)
		}
	}
}

func mustClaims(t *testing.T, token string) map[string]any {
	_, c, _ := tokenParts(t, token)
	return c
}
