package cognitotest

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"strconv"
	"time"

	"github.com/cognitokit/cognitokit/gen"
)

// Session is what a user's sign-in gets from Cognito: an access token, an ID token and a
// refresh token, tied together by the origin_jti of both JWTs.
type Session struct {
	AccessToken  string
	IDToken      string
	RefreshToken string
	// OriginJTI is the origin_jti of every token of the session, refreshed ones included.
	OriginJTI string
}

// session is the server's record of a refresh token.
type session struct {
	pool      string
	client    string // app client ID
	username  string
	scopes    []string
	originJTI string
	revoked   bool
}

// SignIn returns the tokens of a new sign-in of o.Username (required) to o.Client of o.Pool,
// as the hosted UI or InitiateAuth would issue them, with a refresh token that the token
// endpoint's refresh_token grant accepts until it is revoked at the revoke endpoint. The
// other options shape both JWTs as they shape minted ones; refreshed tokens keep Scopes.
func (s *Server) SignIn(o TokenOptions) (*Session, error) {
	if o.Username == "" {
		return nil, fmt.Errorf("cognitotest: a sign-in needs a Username")
	}
	p, err := s.pool(o.Pool)
	if err != nil {
		return nil, err
	}
	client := p.cfg.Clients
	if len(client) == 0 {
		return nil, fmt.Errorf("cognitotest: pool %s has no app clients", p.cfg.ID)
	}
	c := client[0]
	if o.Client != "" {
		if c, err = p.client(o.Client); err != nil {
			return nil, err
		}
	}
	sess := &session{pool: p.cfg.ID, client: c.ID, username: o.Username, scopes: o.Scopes, originJTI: randomUUID()}
	out, err := s.sessionTokens(sess, o)
	if err != nil {
		return nil, err
	}
	b := make([]byte, 48)
	_, _ = rand.Read(b)
	out.RefreshToken = base64.RawURLEncoding.EncodeToString(b)
	s.mu.Lock()
	s.sessions[out.RefreshToken] = sess
	s.mu.Unlock()
	return out, nil
}

// sessionTokens mints the access and ID tokens of sess.
func (s *Server) sessionTokens(sess *session, o TokenOptions) (*Session, error) {
	o.Pool, o.Client, o.Username, o.Scopes = sess.pool, sess.client, sess.username, sess.scopes
	claims := maps.Clone(o.Claims)
	if claims == nil {
		claims = map[string]any{}
	}
	claims["origin_jti"] = sess.originJTI
	o.Claims = claims
	access, err := s.mint(accessToken, o)
	if err != nil {
		return nil, err
	}
	o.Scopes = nil
	id, err := s.mint(idToken, o)
	if err != nil {
		return nil, err
	}
	return &Session{AccessToken: access, IDToken: id, OriginJTI: sess.originJTI}, nil
}

// refresh answers the refresh_token grant as Cognito does: new access and ID tokens of the
// same session (same origin_jti, new jti), no new refresh token; invalid_grant for a
// refresh token that is unknown, revoked or another client's.
func (s *Server) refresh(p *pool, client AppClient, refreshToken string) (gen.PostTokenResponseObject, error) {
	s.mu.Lock()
	sess, ok := s.sessions[refreshToken]
	revoked := ok && sess.revoked
	s.mu.Unlock()
	switch {
	case !ok || sess.client != client.ID:
		return gen.PostToken400JSONResponse{Error: gen.InvalidGrant, ErrorDescription: "Invalid Refresh Token"}, nil
	case revoked:
		return gen.PostToken400JSONResponse{Error: gen.InvalidGrant, ErrorDescription: "Refresh Token has been revoked"}, nil
	}
	out, err := s.sessionTokens(sess, TokenOptions{})
	if err != nil {
		return nil, err
	}
	ttl := p.accessTTL(client)
	return gen.PostToken200JSONResponse{
		Body: gen.TokenResponse{
			AccessToken: out.AccessToken,
			IdToken:     out.IDToken,
			ExpiresIn:   jsonSeconds(ttl),
			TokenType:   "Bearer",
		},
		Headers: gen.PostToken200ResponseHeaders{CacheControl: "no-store"},
	}, nil
}

// revokeRefresh revokes a refresh token of client and, with it, every token of its
// session at userInfo. It reports whether refreshToken is a refresh token this server
// issued, and whether to another client.
func (s *Server) revokeRefresh(client AppClient, refreshToken string) (known, otherClient bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, ok := s.sessions[refreshToken]
	if !ok {
		return false, false
	}
	if sess.client != client.ID {
		return true, true
	}
	sess.revoked = true
	s.revokedSessions[sess.originJTI] = true
	return true, false
}

// RefreshTokenRevoked reports whether refreshToken was revoked at the revoke endpoint.
func (s *Server) RefreshTokenRevoked(refreshToken string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, ok := s.sessions[refreshToken]
	return ok && sess.revoked
}

func jsonSeconds(d time.Duration) json.Number {
	return json.Number(strconv.FormatInt(int64(d/time.Second), 10))
}
