package cognito

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/cognitokit/cognitokit/pkg/cognitotest"
)

func newRevoker(t testing.TB, srv *cognitotest.Server, client string, opts ...RevokerOption) (*Revoker, cognitotest.AppClient) {
	t.Helper()
	c, ok := srv.Client(client)
	if !ok {
		t.Fatalf("no client %s", client)
	}
	r, err := NewRevoker(RevokerConfig{RevokeURL: srv.BaseURL() + "/oauth2/revoke", ClientID: c.ID, ClientSecret: c.Secret}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return r, c
}

// refreshGrant uses a refresh token at the token endpoint and returns the answer's status
// and OAuth error code.
func refreshGrant(t testing.TB, srv *cognitotest.Server, c cognitotest.AppClient, refresh string) (int, string, string) {
	t.Helper()
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}}
	req, _ := http.NewRequest("POST", srv.TokenURL(), strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(c.ID), url.QueryEscape(c.Secret))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Error       string `json:"error"`
		AccessToken string `json:"access_token"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, body.Error, body.AccessToken
}

// TestRevokerLogout: a logout with the session's access token ends the session at once on
// the verifiers enforcing the list (the tokens refreshed before the logout too) and at
// Cognito (the refresh token is refused); a parallel session lives on; revoking again is
// fine.
func TestRevokerLogout(t *testing.T) {
	clk := newFakeClock()
	srv := localCognito(t, clk)
	list := NewRevocationList(WithRevocationClock(clk.Now))
	z := newAuthorizer(t, srv, clk, JWTAuthorizerConfig{TokenUse: TokenUseAny}, WithRevocationList(list))
	sess, err := srv.SignIn(cognitotest.TokenOptions{Username: "alice", Client: "orders-reader"})
	if err != nil {
		t.Fatal(err)
	}
	other, _ := srv.SignIn(cognitotest.TokenOptions{Username: "alice", Client: "orders-reader"})
	r, c := newRevoker(t, srv, "orders-reader", WithRevocationWriter(list), WithHTTPClient(&http.Client{}))

	status, code, refreshed := refreshGrant(t, srv, c, sess.RefreshToken)
	if status != 200 || refreshed == "" {
		t.Fatalf("refresh grant before the logout: %d %s", status, code)
	}
	claims := verifyOK(t, z, sess.AccessToken, "the session's access token")
	rc := verifyOK(t, z, refreshed, "a refreshed token")
	if claims.OriginJTI != sess.OriginJTI || rc.OriginJTI != sess.OriginJTI || rc.JTI == claims.JTI {
		t.Fatalf("origin_jti %q / refreshed %q (jti %q %q); want the session's %q", claims.OriginJTI, rc.OriginJTI, rc.JTI, claims.JTI, sess.OriginJTI)
	}
	verifyOK(t, z, sess.IDToken, "the session's ID token")

	if err := r.Revoke(context.Background(), sess.RefreshToken, claims); err != nil {
		t.Fatal(err)
	}
	for _, tok := range []string{sess.AccessToken, sess.IDToken, refreshed} {
		_, err := z.Verify(context.Background(), tok)
		revokedFor(t, err, claims.Sub)
	}
	if status, code, _ := refreshGrant(t, srv, c, sess.RefreshToken); status != 400 || code != "invalid_grant" {
		t.Errorf("refresh grant after the logout: %d %q; want 400 invalid_grant", status, code)
	}
	if !srv.RefreshTokenRevoked(sess.RefreshToken) {
		t.Error("the local Cognito does not hold the refresh token as revoked")
	}
	verifyOK(t, z, other.AccessToken, "the parallel session")
	if status, _, _ := refreshGrant(t, srv, c, other.RefreshToken); status != 200 {
		t.Errorf("the parallel session's refresh: %d", status)
	}
	// RFC 7009: revoking again, or a token Cognito never issued, is a success.
	for _, tok := range []string{sess.RefreshToken, "not-a-refresh-token"} {
		if err := r.Revoke(context.Background(), tok, nil); err != nil {
			t.Errorf("Revoke again: %v", err)
		}
	}
}

// TestRevokerErrors: Cognito's refusals as typed errors holding neither token nor secret;
// 503s retried.
func TestRevokerErrors(t *testing.T) {
	clk := newFakeClock()
	srv := localCognito(t, clk)
	sess, err := srv.SignIn(cognitotest.TokenOptions{Username: "alice", Client: "orders-reader"})
	if err != nil {
		t.Fatal(err)
	}
	r, c := newRevoker(t, srv, "orders-reader")
	writer, _ := newRevoker(t, srv, "orders-writer")
	wrong, err := NewRevoker(RevokerConfig{RevokeURL: srv.BaseURL() + "/oauth2/revoke", ClientID: c.ID, ClientSecret: "not-the-secret"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		r      *Revoker
		token  string
		reason error
	}{
		{"wrong secret", wrong, sess.RefreshToken, ErrRevokeInvalidClient},
		{"an ID token", r, sess.IDToken, ErrRevokeUnsupportedTokenType},
		{"another client's refresh token", writer, sess.RefreshToken, ErrRevokeInvalidRequest},
		{"no token", r, "", ErrRevokeInvalidRequest},
	} {
		err := tc.r.Revoke(ctx, tc.token, nil)
		var re *RevokeError
		if !errors.Is(err, tc.reason) || !errors.As(err, &re) {
			t.Errorf("%s: err = %v; want %v", tc.name, err, tc.reason)
			continue
		}
		for _, leak := range []string{sess.RefreshToken, c.Secret, "not-the-secret"} {
			if strings.Contains(err.Error(), leak) {
				t.Errorf("%s: error %q holds a secret", tc.name, err)
			}
		}
	}
	if srv.RefreshTokenRevoked(sess.RefreshToken) {
		t.Fatal("a refused request revoked the token")
	}

	srv.FailNext(cognitotest.EndpointRevoke, 2, cognitotest.Fault{Status: 503})
	if err := r.Revoke(ctx, sess.RefreshToken, nil); err != nil {
		t.Fatalf("after two 503s: %v", err)
	}
	srv.FailNext(cognitotest.EndpointRevoke, 3, cognitotest.Fault{Status: 503})
	if err := r.Revoke(ctx, sess.RefreshToken, nil); !errors.Is(err, ErrRevokeEndpointUnavailable) {
		t.Fatalf("after three 503s: %v; want ErrRevokeEndpointUnavailable", err)
	}

	if _, err := NewRevoker(RevokerConfig{RevokeURL: "http://cognito.example/oauth2/revoke", ClientID: "x"}); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("plain http on a public host: %v", err)
	}
}

type failingWriter struct{}

func (failingWriter) Revoke(context.Context, ...Revocation) ([]Revocation, error) {
	return nil, errors.New("redis down")
}

// TestRevokerListFails: the list failing does not keep Cognito from revoking, and the
// error says so.
func TestRevokerListFails(t *testing.T) {
	clk := newFakeClock()
	srv := localCognito(t, clk)
	sess, _ := srv.SignIn(cognitotest.TokenOptions{Username: "alice", Client: "orders-reader"})
	r, _ := newRevoker(t, srv, "orders-reader", WithRevocationWriter(failingWriter{}))
	err := r.Revoke(context.Background(), sess.RefreshToken, &Claims{OriginJTI: sess.OriginJTI})
	if err == nil || !strings.Contains(err.Error(), "redis down") {
		t.Errorf("err = %v; want the list's error", err)
	}
	if !srv.RefreshTokenRevoked(sess.RefreshToken) {
		t.Error("the refresh token was not revoked at Cognito")
	}
}
