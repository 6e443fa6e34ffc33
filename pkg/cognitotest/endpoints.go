package cognitotest

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cognitokit/cognitokit/gen"
)

// The Server implements the strict server interface generated from api/openapi.yaml.
var _ gen.StrictServerInterface = (*Server)(nil)

// PostToken implements the token endpoint for the client_credentials grant, with Cognito's
// error answers for everything else.
func (s *Server) PostToken(ctx context.Context, req gen.PostTokenRequestObject) (gen.PostTokenResponseObject, error) {
	body := req.Body
	p, client, oerr := s.authenticateClient(requestFrom(ctx), body.ClientId, body.ClientSecret)
	if oerr != nil {
		return gen.PostToken400JSONResponse{Error: oerr.code, ErrorDescription: oerr.description}, nil
	}
	switch body.GrantType {
	case gen.ClientCredentials:
	case gen.RefreshToken:
		if body.RefreshToken == "" {
			return gen.PostToken400JSONResponse{Error: gen.InvalidRequest, ErrorDescription: "Missing refresh_token."}, nil
		}
		return s.refresh(p, client, body.RefreshToken)
	case gen.AuthorizationCode:
		// The local Cognito has no hosted UI: no code was ever issued.
		return gen.PostToken400JSONResponse{Error: gen.InvalidGrant, ErrorDescription: "Invalid grant."}, nil
	default:
		return gen.PostToken400JSONResponse{Error: gen.UnsupportedGrantType}, nil
	}
	if client.Secret == "" || len(client.Scopes) == 0 {
		return gen.PostToken400JSONResponse{Error: gen.UnauthorizedClient,
			ErrorDescription: "Client is not enabled for the client_credentials flow."}, nil
	}
	scopes, oerr := grantScopes(client, body.Scope)
	if oerr != nil {
		return gen.PostToken400JSONResponse{Error: oerr.code, ErrorDescription: oerr.description}, nil
	}
	ttl := p.accessTTL(client)
	token, err := s.mint(accessToken, TokenOptions{Pool: p.cfg.ID, Client: client.ID, Scopes: scopes, TTL: ttl})
	if err != nil {
		return nil, err
	}
	return gen.PostToken200JSONResponse{
		Body: gen.TokenResponse{
			AccessToken: token,
			ExpiresIn:   json.Number(strconv.FormatInt(int64(ttl/time.Second), 10)),
			TokenType:   "Bearer",
		},
		Headers: gen.PostToken200ResponseHeaders{CacheControl: "no-store"},
	}, nil
}

// PostRevoke implements the revoke endpoint. Revoking a refresh token SignIn issued to the
// client ends its session: the refresh_token grant answers invalid_grant for it, and
// userInfo refuses the session's access tokens; revoking it again answers 200 too. A
// refresh token of another client is refused with invalid_request. Revoking an access
// token this server issued makes userInfo refuse it; an ID token is unsupported_token_type;
// anything else is accepted silently, as RFC 7009 asks.
func (s *Server) PostRevoke(ctx context.Context, req gen.PostRevokeRequestObject) (gen.PostRevokeResponseObject, error) {
	body := req.Body
	p, client, oerr := s.authenticateClient(requestFrom(ctx), body.ClientId, body.ClientSecret)
	if oerr != nil {
		return gen.PostRevoke400JSONResponse{Error: oerr.code, ErrorDescription: oerr.description}, nil
	}
	if body.Token == "" {
		return gen.PostRevoke400JSONResponse{Error: gen.InvalidRequest, ErrorDescription: "Missing token."}, nil
	}
	if known, other := s.revokeRefresh(client, body.Token); known {
		if other {
			return gen.PostRevoke400JSONResponse{Error: gen.InvalidRequest, ErrorDescription: "The token was not issued to this client."}, nil
		}
		return gen.PostRevoke200Response{}, nil
	}
	claims, ok := parseOwnToken(body.Token, p.currentKeys())
	if !ok {
		return gen.PostRevoke200Response{}, nil
	}
	if claims["token_use"] == "id" {
		return gen.PostRevoke400JSONResponse{Error: gen.UnsupportedTokenType}, nil
	}
	if claims["client_id"] == client.ID {
		if jti, ok := claims["jti"].(string); ok {
			s.mu.Lock()
			s.revoked[jti] = true
			s.mu.Unlock()
		}
	}
	return gen.PostRevoke200Response{}, nil
}

// GetUserInfo implements the userInfo endpoint: a user access token with the openid scope
// gets the user's attributes.
func (s *Server) GetUserInfo(ctx context.Context, _ gen.GetUserInfoRequestObject) (gen.GetUserInfoResponseObject, error) {
	refuse := func(description string) (gen.GetUserInfoResponseObject, error) {
		challenge := `Bearer error="invalid_token", error_description="` + description + `"`
		return gen.GetUserInfo401JSONResponse{
			Body:    gen.OAuthError{Error: gen.InvalidToken, ErrorDescription: description},
			Headers: gen.GetUserInfo401ResponseHeaders{WWWAuthenticate: challenge},
		}, nil
	}
	scheme, token, _ := strings.Cut(requestFrom(ctx).Header.Get("Authorization"), " ")
	if !strings.EqualFold(scheme, "Bearer") || token == "" {
		return refuse("Access token is missing")
	}
	var (
		claims map[string]any
		p      *pool
	)
	for _, candidate := range s.pools {
		if c, ok := parseOwnToken(token, candidate.currentKeys()); ok && c["iss"] == s.Issuer(candidate.cfg.ID) {
			claims, p = c, candidate
			break
		}
	}
	if claims == nil || claims["token_use"] != "access" {
		return refuse("Invalid access token")
	}
	if exp, ok := claims["exp"].(float64); !ok || s.now().Unix() >= int64(exp) {
		return refuse("Access token has expired")
	}
	jti, _ := claims["jti"].(string)
	origin, _ := claims["origin_jti"].(string)
	s.mu.Lock()
	revoked := s.revoked[jti] || origin != "" && s.revokedSessions[origin]
	s.mu.Unlock()
	if revoked {
		return refuse("Access token has been revoked")
	}
	username, _ := claims["username"].(string)
	scope, _ := claims["scope"].(string)
	if username == "" || !slices.Contains(strings.Fields(scope), "openid") {
		return refuse("Access token does not have the openid scope")
	}
	info := gen.UserInfo{Username: username}
	info.Sub, _ = claims["sub"].(string)
	if u, ok := p.cfg.User(username); ok {
		info.Email, info.Name = u.Email, u.Name
		if u.Email != "" {
			info.EmailVerified = "false"
			if u.EmailVerified {
				info.EmailVerified = "true"
			}
		}
		for k, v := range u.Attributes {
			info.Set("custom:"+k, v)
		}
	}
	return userInfoResponse(info), nil
}

// userInfoResponse writes a gen.UserInfo with its custom attributes. The generated
// GetUserInfo200JSONResponse is a defined type over gen.UserInfo, so it loses the
// MarshalJSON method that writes additional properties such as custom:tenant.
type userInfoResponse gen.UserInfo

func (u userInfoResponse) VisitGetUserInfoResponse(w http.ResponseWriter) error {
	body, err := json.Marshal(gen.UserInfo(u))
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, err = w.Write(body)
	return err
}

// GetJWKS serves a pool's JSON Web Key Set.
func (s *Server) GetJWKS(_ context.Context, req gen.GetJWKSRequestObject) (gen.GetJWKSResponseObject, error) {
	p, ok := s.byID[req.UserPoolId]
	if !ok {
		return gen.GetJWKS404JSONResponse{Message: "User pool " + req.UserPoolId + " does not exist."}, nil
	}
	return gen.GetJWKS200JSONResponse(p.currentKeys().jwks()), nil
}

// GetOpenIDConfiguration serves a pool's OpenID Connect discovery document.
func (s *Server) GetOpenIDConfiguration(_ context.Context, req gen.GetOpenIDConfigurationRequestObject) (gen.GetOpenIDConfigurationResponseObject, error) {
	p, ok := s.byID[req.UserPoolId]
	if !ok {
		return gen.GetOpenIDConfiguration404JSONResponse{Message: "User pool " + req.UserPoolId + " does not exist."}, nil
	}
	return gen.GetOpenIDConfiguration200JSONResponse{
		Issuer:                            s.Issuer(p.cfg.ID),
		AuthorizationEndpoint:             s.baseURL + "/oauth2/authorize",
		TokenEndpoint:                     s.TokenURL(),
		UserinfoEndpoint:                  s.baseURL + "/oauth2/userInfo",
		RevocationEndpoint:                s.baseURL + "/oauth2/revoke",
		EndSessionEndpoint:                s.baseURL + "/logout",
		JwksUri:                           s.JWKSURL(p.cfg.ID),
		ResponseTypesSupported:            []string{"code", "token"},
		SubjectTypesSupported:             []string{"public"},
		IdTokenSigningAlgValuesSupported:  []string{"RS256"},
		ScopesSupported:                   []string{"openid", "email", "phone", "profile"},
		TokenEndpointAuthMethodsSupported: []string{"client_secret_basic", "client_secret_post"},
		GrantTypesSupported:               []string{"authorization_code", "client_credentials", "refresh_token"},
	}, nil
}

var _ http.Handler = (*Server)(nil)
