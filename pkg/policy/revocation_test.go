package policy_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/cognitokit/cognitokit/pkg/cognito"
	"github.com/cognitokit/cognitokit/pkg/cognitotest"
	"github.com/cognitokit/cognitokit/pkg/policy"
)

type unavailableList struct{}

func (unavailableList) Revoked(*cognito.Claims) (bool, error) {
	return false, errors.New("out of touch")
}

// TestMiddlewareRevocation: a revoked token is a 401 whose token error is token_revoked;
// a list failing closed is a 503, as unreachable keys are.
func TestMiddlewareRevocation(t *testing.T) {
	idp := cognitotest.Start(t, cognitotest.DefaultConfig())
	pool := idp.Pools()[0].ID
	p, err := policy.Parse([]byte("version: 1\nroutes:\n  \"GET /x\": {}\n"), "inline.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tok, _ := idp.MintAccessToken(cognitotest.TokenOptions{})
	revoked := cognito.NewRevocationList()
	if _, err := revoked.Add(cognito.Revocation{Kind: cognito.RevokeClient, ID: idp.Pools()[0].Clients[0].ID}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		list   cognito.RevocationList
		status int
		code   policy.Reason
		token  string
	}{
		{revoked, http.StatusUnauthorized, policy.ReasonInvalidToken, "token_revoked"},
		{unavailableList{}, http.StatusServiceUnavailable, policy.ReasonRevocationUnavailable, ""},
	} {
		authz, err := cognito.NewJWTAuthorizer(cognito.JWTAuthorizerConfig{UserPoolID: pool, AllowAnyClient: true},
			cognito.WithEndpoint(idp.BaseURL()), cognito.WithRevocationList(tc.list))
		if err != nil {
			t.Fatal(err)
		}
		var got policy.Denial
		api := httptest.NewServer(policy.Middleware(p, authz, policy.WithErrorWriter(func(w http.ResponseWriter, r *http.Request, d policy.Denial) {
			got = d
			policy.WriteProblem(w, r, d)
		}))(http.NotFoundHandler()))
		req, _ := http.NewRequest("GET", api.URL+"/x", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := api.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		api.Close()
		if resp.StatusCode != tc.status || got.Code != tc.code || got.TokenError != tc.token {
			t.Errorf("status %d, code %q, token error %q; want %d %q %q", resp.StatusCode, got.Code, got.TokenError, tc.status, tc.code, tc.token)
		}
	}
}
