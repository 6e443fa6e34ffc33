package cognitotest_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/lestrrat-go/jwx/v2/jwt"

	"github.com/cognitokit/cognitokit/gen"
	"github.com/cognitokit/cognitokit/pkg/cognitotest"
)

const poolID = "us-east-1_LocalPool1"

func TestSpecLoadsAndValidates(t *testing.T) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromFile("../../api/openapi.yaml")
	if err != nil {
		t.Fatalf("load api/openapi.yaml: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("validate api/openapi.yaml: %v", err)
	}
	if len(doc.Servers) != 2 {
		t.Errorf("servers = %d; want 2 (hosted-UI domain and cognito-idp)", len(doc.Servers))
	}
	for _, p := range []string{"/oauth2/token", "/oauth2/revoke", "/oauth2/userInfo",
		"/{userPoolId}/.well-known/jwks.json", "/{userPoolId}/.well-known/openid-configuration"} {
		if doc.Paths.Find(p) == nil {
			t.Errorf("path %s missing", p)
		}
	}
	embedded, err := gen.GetSpec()
	if err != nil {
		t.Fatalf("embedded spec: %v", err)
	}
	if len(embedded.Paths.Map()) != len(doc.Paths.Map()) {
		t.Errorf("embedded spec has %d paths, api/openapi.yaml %d: regenerate gen/", len(embedded.Paths.Map()), len(doc.Paths.Map()))
	}
}

// fetchToken gets a client_credentials token through the generated client.
func fetchToken(t *testing.T, srv *cognitotest.Server, c cognitotest.AppClient, scope string) *gen.TokenResponse {
	t.Helper()
	resp, err := newClient(t, srv).PostTokenWithFormdataBodyWithResponse(context.Background(),
		gen.PostTokenFormdataRequestBody{GrantType: gen.ClientCredentials, Scope: scope}, basicAuth(c.ID, c.Secret))
	if err != nil {
		t.Fatalf("PostToken: %v", err)
	}
	if resp.JSON200 == nil {
		t.Fatalf("PostToken: status %d, body %s", resp.StatusCode(), resp.Body)
	}
	if got := resp.HTTPResponse.Header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control = %q; want no-store", got)
	}
	return resp.JSON200
}

func fetchKeySet(t *testing.T, srv *cognitotest.Server) jwk.Set {
	t.Helper()
	resp, err := newClient(t, srv).GetJWKSWithResponse(context.Background(), poolID)
	if err != nil || resp.JSON200 == nil {
		t.Fatalf("GetJWKS: %v (status %d)", err, resp.StatusCode())
	}
	set, err := jwk.Parse(resp.Body)
	if err != nil {
		t.Fatalf("parse served JWKS: %v", err)
	}
	return set
}

func TestClientCredentialsTokenVerifiesAgainstServedJWKS(t *testing.T) {
	srv := cognitotest.Start(t, cognitotest.DefaultConfig())
	writer := mustClient(t, srv, "orders-writer")
	tr := fetchToken(t, srv, writer, "orders/write")
	if tr.TokenType != "Bearer" || tr.ExpiresIn != "3600" || tr.RefreshToken != "" || tr.IdToken != "" {
		t.Errorf("token response = %+v; want Bearer, 3600 s, no refresh or ID token", tr)
	}
	set := fetchKeySet(t, srv)
	if set.Len() != 2 {
		t.Fatalf("JWKS has %d keys; want 2 (access and ID)", set.Len())
	}
	tok, err := jwt.Parse([]byte(tr.AccessToken), jwt.WithKeySet(set), jwt.WithIssuer(srv.Issuer(poolID)),
		jwt.WithClaimValue("token_use", "access"), jwt.WithClaimValue("client_id", writer.ID),
		jwt.WithClaimValue("scope", "orders/write"), jwt.WithSubject(writer.ID))
	if err != nil {
		t.Fatalf("jwx rejects the token: %v", err)
	}
	if len(tok.Audience()) != 0 {
		t.Errorf("access token has aud %v; Cognito access tokens have none", tok.Audience())
	}
	for _, claim := range []string{"auth_time", "jti", "version"} {
		if _, ok := tok.Get(claim); !ok {
			t.Errorf("claim %s missing", claim)
		}
	}
	for _, claim := range []string{"username", "cognito:groups"} {
		if _, ok := tok.Get(claim); ok {
			t.Errorf("machine token has %s", claim)
		}
	}
	if d := tok.Expiration().Sub(tok.IssuedAt()); d != time.Hour {
		t.Errorf("exp - iat = %v; want 1h", d)
	}
	msg, err := jws.Parse([]byte(tr.AccessToken))
	if err != nil {
		t.Fatal(err)
	}
	if alg := msg.Signatures()[0].ProtectedHeaders().Algorithm(); alg.String() != "RS256" {
		t.Errorf("alg = %s; want RS256", alg)
	}
}

func TestNoScopeRequestedGrantsAllClientScopes(t *testing.T) {
	srv := cognitotest.Start(t, cognitotest.DefaultConfig())
	admin := mustClient(t, srv, "orders-admin")
	tok, err := jwt.Parse([]byte(fetchToken(t, srv, admin, "").AccessToken), jwt.WithKeySet(fetchKeySet(t, srv)))
	if err != nil {
		t.Fatal(err)
	}
	scope, _ := tok.Get("scope")
	if scope != "orders/read orders/write orders/admin" {
		t.Errorf("scope = %q; want every scope of the client", scope)
	}
}

func TestAccessAndIDTokensUseDifferentKeys(t *testing.T) {
	srv := cognitotest.Start(t, cognitotest.DefaultConfig())
	access, err := srv.MintAccessToken(cognitotest.TokenOptions{Username: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	id, err := srv.MintIDToken(cognitotest.TokenOptions{Username: "alice", Client: "orders-reader"})
	if err != nil {
		t.Fatal(err)
	}
	kid := func(tok string) string {
		msg, err := jws.Parse([]byte(tok))
		if err != nil {
			t.Fatal(err)
		}
		return msg.Signatures()[0].ProtectedHeaders().KeyID()
	}
	if kid(access) == kid(id) {
		t.Errorf("access and ID tokens share kid %s", kid(id))
	}
	set := fetchKeySet(t, srv)
	reader := mustClient(t, srv, "orders-reader")
	tok, err := jwt.Parse([]byte(id), jwt.WithKeySet(set), jwt.WithAudience(reader.ID), jwt.WithIssuer(srv.Issuer(poolID)),
		jwt.WithClaimValue("token_use", "id"), jwt.WithClaimValue("cognito:username", "alice"),
		jwt.WithClaimValue("email", "alice@example.com"), jwt.WithClaimValue("email_verified", true),
		jwt.WithClaimValue("custom:tenant", "acme"))
	if err != nil {
		t.Fatalf("ID token: %v", err)
	}
	groups, _ := tok.Get("cognito:groups")
	if g, _ := groups.([]any); len(g) != 2 {
		t.Errorf("cognito:groups = %v; want [admin ops]", groups)
	}
	if _, err := jwt.Parse([]byte(access), jwt.WithKeySet(set), jwt.WithClaimValue("username", "alice"),
		jwt.WithClaimValue("scope", "openid email profile")); err != nil {
		t.Fatalf("user access token: %v", err)
	}
}

func TestMintOverridesMakeTokensAVerifierMustRefuse(t *testing.T) {
	srv := cognitotest.Start(t, cognitotest.DefaultConfig())
	set := fetchKeySet(t, srv)
	expired, err := srv.MintAccessToken(cognitotest.TokenOptions{IssuedAt: time.Now().Add(-2 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := jwt.Parse([]byte(expired), jwt.WithKeySet(set)); err == nil {
		t.Error("expired token accepted")
	}
	wrongIss, _ := srv.MintAccessToken(cognitotest.TokenOptions{Claims: map[string]any{"iss": "https://evil.example"}})
	if _, err := jwt.Parse([]byte(wrongIss), jwt.WithKeySet(set), jwt.WithIssuer(srv.Issuer(poolID))); err == nil {
		t.Error("wrong issuer accepted")
	}
	noExp, _ := srv.MintAccessToken(cognitotest.TokenOptions{Claims: map[string]any{"exp": nil}})
	if _, err := jwt.Parse([]byte(noExp), jwt.WithKeySet(set), jwt.WithRequiredClaim("exp")); err == nil {
		t.Error("token without exp accepted with exp required")
	}
	unknownKid, _ := srv.MintAccessToken(cognitotest.TokenOptions{Header: map[string]any{"kid": "nope"}})
	if _, err := jwt.Parse([]byte(unknownKid), jwt.WithKeySet(set)); err == nil {
		t.Error("unknown kid accepted")
	}
	if _, err := srv.MintIDToken(cognitotest.TokenOptions{}); err == nil {
		t.Error("ID token without a user minted")
	}
	if _, err := srv.MintAccessToken(cognitotest.TokenOptions{Client: "nobody"}); err == nil {
		t.Error("token for an unknown client minted")
	}
}

func TestRotateKeysRetiresOldKeys(t *testing.T) {
	srv := cognitotest.Start(t, cognitotest.DefaultConfig())
	before, _ := srv.MintAccessToken(cognitotest.TokenOptions{})
	oldSet := fetchKeySet(t, srv)
	if err := srv.RotateKeys(poolID); err != nil {
		t.Fatal(err)
	}
	newSet := fetchKeySet(t, srv)
	if _, err := jwt.Parse([]byte(before), jwt.WithKeySet(newSet)); err == nil {
		t.Error("token signed by a retired key verifies against the new JWKS")
	}
	after, _ := srv.MintAccessToken(cognitotest.TokenOptions{})
	if _, err := jwt.Parse([]byte(after), jwt.WithKeySet(newSet)); err != nil {
		t.Errorf("new token: %v", err)
	}
	if _, err := jwt.Parse([]byte(after), jwt.WithKeySet(oldSet)); err == nil {
		t.Error("new token verifies against the old JWKS")
	}
	static, err := srv.JWKS(poolID)
	if err != nil {
		t.Fatal(err)
	}
	staticSet, err := jwk.Parse(static)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := jwt.Parse([]byte(after), jwt.WithKeySet(staticSet)); err != nil {
		t.Errorf("Server.JWKS does not match the served set: %v", err)
	}
}

func TestTokenEndpointErrors(t *testing.T) {
	srv := cognitotest.Start(t, cognitotest.DefaultConfig())
	reader := mustClient(t, srv, "orders-reader")
	form := func(v string) *strings.Reader { return strings.NewReader(v) }
	tests := []struct {
		name        string
		contentType string
		body        string
		auth        gen.RequestEditorFn
		wantStatus  int
		wantError   gen.OAuthErrorCode
	}{
		{"wrong secret", "application/x-www-form-urlencoded", "grant_type=client_credentials",
			basicAuth(reader.ID, "not-the-secret"), 400, gen.InvalidClient},
		{"unknown client", "application/x-www-form-urlencoded", "grant_type=client_credentials",
			basicAuth("0000000000000000000unknown", "x"), 400, gen.InvalidClient},
		{"no credentials", "application/x-www-form-urlencoded", "grant_type=client_credentials",
			nil, 400, gen.InvalidClient},
		{"disallowed scope", "application/x-www-form-urlencoded", "grant_type=client_credentials&scope=orders%2Fwrite",
			basicAuth(reader.ID, reader.Secret), 400, gen.InvalidScope},
		{"undefined scope", "application/x-www-form-urlencoded", "grant_type=client_credentials&scope=nope%2Fnope",
			basicAuth(reader.ID, reader.Secret), 400, gen.InvalidScope},
		{"wrong grant type", "application/x-www-form-urlencoded", "grant_type=password",
			basicAuth(reader.ID, reader.Secret), 400, gen.UnsupportedGrantType},
		{"missing grant type", "application/x-www-form-urlencoded", "scope=orders%2Fread",
			basicAuth(reader.ID, reader.Secret), 400, gen.InvalidRequest},
		{"wrong content type", "application/json", `{"grant_type":"client_credentials"}`,
			basicAuth(reader.ID, reader.Secret), 400, gen.InvalidRequest},
		{"authorization code never issued", "application/x-www-form-urlencoded", "grant_type=authorization_code&code=abc",
			basicAuth(reader.ID, reader.Secret), 400, gen.InvalidGrant},
		{"two authentication methods", "application/x-www-form-urlencoded",
			"grant_type=client_credentials&client_secret=" + reader.Secret,
			basicAuth(reader.ID, reader.Secret), 400, gen.InvalidRequest},
		{"malformed basic credentials", "application/x-www-form-urlencoded", "grant_type=client_credentials",
			func(_ context.Context, r *http.Request) error { r.Header.Set("Authorization", "Basic !!!"); return nil }, 400, gen.InvalidClient},
	}
	client := newClient(t, srv)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var editors []gen.RequestEditorFn
			if tt.auth != nil {
				editors = append(editors, tt.auth)
			}
			resp, err := client.PostTokenWithBodyWithResponse(context.Background(), tt.contentType, form(tt.body), editors...)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode() != tt.wantStatus {
				t.Fatalf("status = %d; want %d (body %s)", resp.StatusCode(), tt.wantStatus, resp.Body)
			}
			if resp.JSON400 == nil || resp.JSON400.Error != tt.wantError {
				t.Fatalf("body = %s; want error %q", resp.Body, tt.wantError)
			}
			if strings.Contains(string(resp.Body), reader.Secret) {
				t.Errorf("error answer echoes the client secret")
			}
		})
	}
}

func TestBodyCredentialsAndReservedCharacters(t *testing.T) {
	cfg := cognitotest.DefaultConfig()
	cfg.Pools[0].Clients = append(cfg.Pools[0].Clients, cognitotest.AppClient{
		ID: "odd0client0id0with0chars1", Secret: "s3cr:et+with/reserved=chars%&", Name: "odd", Scopes: []string{"orders/read"},
	})
	srv := cognitotest.Start(t, cfg)
	odd := mustClient(t, srv, "odd")
	fetchToken(t, srv, odd, "orders/read") // Basic, each part form-urlencoded

	resp, err := newClient(t, srv).PostTokenWithFormdataBodyWithResponse(context.Background(), gen.PostTokenFormdataRequestBody{
		GrantType: gen.ClientCredentials, ClientId: odd.ID, ClientSecret: odd.Secret,
	})
	if err != nil {
		t.Fatal(err)
	}
	if resp.JSON200 == nil {
		t.Fatalf("body credentials: status %d, %s", resp.StatusCode(), resp.Body)
	}
}

func TestTokenLifetimeIsConfigurable(t *testing.T) {
	cfg := cognitotest.DefaultConfig()
	cfg.Pools[0].AccessTokenTTL = 5 * time.Minute
	cfg.Pools[0].Clients[1].AccessTokenTTL = 2 * time.Minute
	srv := cognitotest.Start(t, cfg)
	if got := fetchToken(t, srv, mustClient(t, srv, "orders-reader"), "").ExpiresIn; got != "300" {
		t.Errorf("pool lifetime: expires_in = %s; want 300", got)
	}
	if got := fetchToken(t, srv, mustClient(t, srv, "orders-writer"), "").ExpiresIn; got != "120" {
		t.Errorf("client lifetime: expires_in = %s; want 120", got)
	}
}

func TestFaultsAndCounters(t *testing.T) {
	srv := cognitotest.Start(t, cognitotest.DefaultConfig())
	reader := mustClient(t, srv, "orders-reader")
	srv.FailNext(cognitotest.EndpointToken, 2, cognitotest.Fault{Status: 503, Body: "<html>down</html>",
		Header: http.Header{"Retry-After": {"1"}}})
	client := newClient(t, srv)
	for i := range 2 {
		resp, err := client.PostTokenWithFormdataBodyWithResponse(context.Background(),
			gen.PostTokenFormdataRequestBody{GrantType: gen.ClientCredentials}, basicAuth(reader.ID, reader.Secret))
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode() != 503 || resp.HTTPResponse.Header.Get("Retry-After") != "1" {
			t.Fatalf("request %d: status %d; want injected 503 with Retry-After", i, resp.StatusCode())
		}
	}
	fetchToken(t, srv, reader, "")
	if got := srv.Requests(cognitotest.EndpointToken); got != 3 {
		t.Errorf("token requests = %d; want 3", got)
	}

	srv.StallNext(cognitotest.EndpointJWKS, 1, time.Minute)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := client.GetJWKSWithResponse(ctx, poolID); err == nil {
		t.Error("stalled JWKS answered before the client's deadline")
	}
	fetchKeySet(t, srv) // the stall was used up
	if got := srv.Requests(cognitotest.EndpointJWKS); got != 2 {
		t.Errorf("JWKS requests = %d; want 2", got)
	}
	srv.FailNext(cognitotest.EndpointJWKS, 5, cognitotest.Fault{Status: 500})
	srv.ClearFaults()
	fetchKeySet(t, srv)
}

func TestRequestsTheSpecForbids(t *testing.T) {
	srv := cognitotest.Start(t, cognitotest.DefaultConfig())
	client := newClient(t, srv)
	resp, err := client.GetJWKSWithResponse(context.Background(), "not a pool id")
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode() != 400 || resp.JSON400 == nil {
		t.Errorf("malformed pool id: status %d, body %s; want 400 ServiceError", resp.StatusCode(), resp.Body)
	}
	resp, err = client.GetJWKSWithResponse(context.Background(), "us-east-1_Unknown")
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode() != 404 || resp.JSON404 == nil {
		t.Errorf("unknown pool: status %d; want 404 ServiceError", resp.StatusCode())
	}
	big := "grant_type=client_credentials&scope=" + strings.Repeat("a", 100<<10)
	tr, err := client.PostTokenWithBodyWithResponse(context.Background(), "application/x-www-form-urlencoded", strings.NewReader(big))
	if err != nil {
		t.Fatal(err)
	}
	if tr.StatusCode() != 400 {
		t.Errorf("oversized body: status %d; want 400", tr.StatusCode())
	}
	r, err := http.Get(srv.BaseURL() + "/oauth2/token")
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET /oauth2/token: status %d; want 405", r.StatusCode)
	}
}

func TestDiscoveryDocument(t *testing.T) {
	srv := cognitotest.Start(t, cognitotest.DefaultConfig())
	resp, err := newClient(t, srv).GetOpenIDConfigurationWithResponse(context.Background(), poolID)
	if err != nil || resp.JSON200 == nil {
		t.Fatalf("discovery: %v", err)
	}
	d := resp.JSON200
	if d.Issuer != srv.Issuer(poolID) || d.JwksUri != srv.JWKSURL(poolID) || d.TokenEndpoint != srv.TokenURL() {
		t.Errorf("discovery = %+v", d)
	}
	if !slices.Contains(d.IdTokenSigningAlgValuesSupported, "RS256") {
		t.Errorf("id_token_signing_alg_values_supported = %v", d.IdTokenSigningAlgValuesSupported)
	}
}

func TestUserInfoAndRevoke(t *testing.T) {
	srv := cognitotest.Start(t, cognitotest.DefaultConfig())
	client := newClient(t, srv)
	reader := mustClient(t, srv, "orders-reader")
	user, _ := srv.MintAccessToken(cognitotest.TokenOptions{Username: "alice", Client: reader.ID})
	resp, err := client.GetUserInfoWithResponse(context.Background(), bearer(user))
	if err != nil || resp.JSON200 == nil {
		t.Fatalf("userInfo: %v, status %d %s", err, resp.StatusCode(), resp.Body)
	}
	info := resp.JSON200
	tenant, _ := info.Get("custom:tenant")
	if info.Username != "alice" || info.Email != "alice@example.com" || info.EmailVerified != "true" || tenant != "acme" {
		t.Errorf("userInfo = %+v", info)
	}

	machine := fetchToken(t, srv, reader, "").AccessToken
	if resp, _ := client.GetUserInfoWithResponse(context.Background(), bearer(machine)); resp.StatusCode() != 401 ||
		!strings.Contains(resp.HTTPResponse.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
		t.Errorf("machine token at userInfo: status %d; want 401 invalid_token", resp.StatusCode())
	}
	if resp, _ := client.GetUserInfoWithResponse(context.Background()); resp.StatusCode() != 401 {
		t.Errorf("no token at userInfo: status %d; want 401", resp.StatusCode())
	}

	rv, err := client.PostRevokeWithFormdataBodyWithResponse(context.Background(), gen.PostRevokeFormdataRequestBody{Token: user},
		basicAuth(reader.ID, reader.Secret))
	if err != nil || rv.StatusCode() != 200 {
		t.Fatalf("revoke: %v, status %d", err, rv.StatusCode())
	}
	if resp, _ := client.GetUserInfoWithResponse(context.Background(), bearer(user)); resp.StatusCode() != 401 {
		t.Errorf("revoked token at userInfo: status %d; want 401", resp.StatusCode())
	}
	rv, _ = client.PostRevokeWithFormdataBodyWithResponse(context.Background(), gen.PostRevokeFormdataRequestBody{Token: "garbage"},
		basicAuth(reader.ID, "wrong"))
	if rv.StatusCode() != 400 || rv.JSON400 == nil || rv.JSON400.Error != gen.InvalidClient {
		t.Errorf("revoke with a wrong secret: status %d; want 400 invalid_client", rv.StatusCode())
	}
}

func TestConfigErrors(t *testing.T) {
	bad := []cognitotest.Config{
		{},
		{Pools: []cognitotest.PoolConfig{{ID: "no-underscore"}}},
		{Pools: []cognitotest.PoolConfig{{ID: "us-east-1_A", Clients: []cognitotest.AppClient{{Scopes: []string{"undefined/scope"}}}}}},
		{Pools: []cognitotest.PoolConfig{{ID: "us-east-1_A", Clients: []cognitotest.AppClient{{ID: "x"}}},
			{ID: "us-east-1_B", Clients: []cognitotest.AppClient{{ID: "x"}}}}},
	}
	for i, cfg := range bad {
		if _, err := cognitotest.New("http://127.0.0.1:1", cfg); err == nil {
			t.Errorf("config %d accepted", i)
		}
	}
}

func TestDefaultConfigIsNotModified(t *testing.T) {
	cfg := cognitotest.DefaultConfig()
	srv := cognitotest.Start(t, cfg)
	if cfg.Pools[0].Clients[0].Secret != "" {
		t.Error("New wrote generated secrets into the caller's Config")
	}
	if srv.Pools()[0].Clients[0].Secret == "" {
		t.Error("no secret generated")
	}
	b, _ := json.Marshal(srv.Pools()[0].Clients[0].Scopes)
	if string(b) != `["orders/read"]` {
		t.Errorf("scopes = %s", b)
	}
}

// TestSignInRefreshRevoke: a sign-in's tokens share an origin_jti; the refresh grant
// answers new tokens of the same session until the refresh token is revoked, then
// invalid_grant; revoking twice answers 200 both times; userInfo refuses the revoked
// session's access tokens.
func TestSignInRefreshRevoke(t *testing.T) {
	srv := cognitotest.Start(t, cognitotest.DefaultConfig())
	reader, _ := srv.Client("orders-reader")
	sess, err := srv.SignIn(cognitotest.TokenOptions{Username: "alice", Client: "orders-reader"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.SignIn(cognitotest.TokenOptions{}); err == nil {
		t.Error("a sign-in without a user")
	}
	post := func(path string, form url.Values) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest("POST", srv.BaseURL()+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(reader.ID, reader.Secret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&body)
		return resp.StatusCode, body
	}
	status, body := post("/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {sess.RefreshToken}})
	if status != 200 || body["access_token"] == nil || body["id_token"] == nil || body["refresh_token"] != nil {
		t.Fatalf("refresh grant: %d %v", status, body)
	}
	refreshed := body["access_token"].(string)
	_, claims, _ := decodeUnverified(t, refreshed)
	if claims["origin_jti"] != sess.OriginJTI {
		t.Errorf("refreshed origin_jti %v; want the session's %s", claims["origin_jti"], sess.OriginJTI)
	}
	for range 2 {
		if status, body := post("/oauth2/revoke", url.Values{"token": {sess.RefreshToken}}); status != 200 {
			t.Fatalf("revoke: %d %v", status, body)
		}
	}
	if status, body := post("/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {sess.RefreshToken}}); status != 400 || body["error"] != "invalid_grant" {
		t.Errorf("refresh after revoke: %d %v; want 400 invalid_grant", status, body)
	}
	for _, tok := range []string{sess.AccessToken, refreshed} {
		req, _ := http.NewRequest("GET", srv.BaseURL()+"/oauth2/userInfo", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 401 {
			t.Errorf("userInfo with a revoked session's token: %d; want 401", resp.StatusCode)
		}
	}
}

// decodeUnverified returns a JWT's decoded parts without verifying anything.
func decodeUnverified(t *testing.T, tok string) (header, claims map[string]any, sig string) {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWS: %d parts", len(parts))
	}
	for i, dst := range []*map[string]any{&header, &claims} {
		b, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil || json.Unmarshal(b, dst) != nil {
			t.Fatalf("part %d does not decode", i)
		}
	}
	return header, claims, parts[2]
}
