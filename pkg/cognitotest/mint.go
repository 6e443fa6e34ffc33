package cognitotest

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// TokenOptions shape a token minted by [Server.MintAccessToken] or [Server.MintIDToken].
// The zero value mints a valid machine-to-machine access token for the first client of the
// first pool, exactly like the token endpoint would.
type TokenOptions struct {
	// Pool is the user pool ID. Empty means the first pool.
	Pool string
	// Client is the app client's name or ID. Empty means the pool's first client.
	Client string
	// Username makes a user token for this pool user. Empty makes a machine token
	// (client_credentials: sub is the client ID, no username or groups). ID tokens need a
	// user.
	Username string
	// Scopes of an access token. Nil means the client's allowed scopes for a machine token
	// and "openid email profile" for a user token.
	Scopes []string
	// TTL is the lifetime. Zero means the client's or pool's lifetime.
	TTL time.Duration
	// IssuedAt sets iat and auth_time. Zero means now, by the server's clock.
	IssuedAt time.Time
	// Claims adds or overrides payload claims; a nil value removes the claim. Use it for
	// expired, wrong-issuer or future-nbf tokens.
	Claims map[string]any
	// Header adds or overrides JOSE header parameters (alg, kid, crit, jku...); a nil value
	// removes the parameter. The signature is RS256 with the pool's key whatever the header
	// says, so a changed alg makes a token a verifier must refuse.
	Header map[string]any
	// SigningKey, when set, signs with this key instead of the pool's (a forged token that
	// still names the pool's kid unless Header overrides it).
	SigningKey *rsa.PrivateKey
}

type tokenKind int

const (
	accessToken tokenKind = iota
	idToken
)

// MintAccessToken returns a signed access token shaped as Cognito issues it. It fails only
// when the options name an unknown pool, client or user.
func (s *Server) MintAccessToken(o TokenOptions) (string, error) {
	return s.mint(accessToken, o)
}

// MintIDToken returns a signed ID token for o.Username shaped as Cognito issues it.
func (s *Server) MintIDToken(o TokenOptions) (string, error) {
	if o.Username == "" {
		return "", fmt.Errorf("cognitotest: an ID token needs a Username")
	}
	return s.mint(idToken, o)
}

func (s *Server) mint(kind tokenKind, o TokenOptions) (string, error) {
	p, err := s.pool(o.Pool)
	if err != nil {
		return "", err
	}
	var client AppClient
	if o.Client == "" {
		if len(p.cfg.Clients) == 0 {
			return "", fmt.Errorf("cognitotest: pool %s has no app clients", p.cfg.ID)
		}
		client = p.cfg.Clients[0]
	} else if client, err = p.client(o.Client); err != nil {
		return "", err
	}
	var user *User
	if o.Username != "" {
		u, ok := p.cfg.User(o.Username)
		if !ok {
			return "", fmt.Errorf("cognitotest: pool %s has no user %q", p.cfg.ID, o.Username)
		}
		user = &u
	}
	iat := o.IssuedAt
	if iat.IsZero() {
		iat = s.now()
	}
	ttl := o.TTL
	if ttl == 0 {
		ttl = p.accessTTL(client)
		if kind == idToken {
			ttl = p.cfg.IDTokenTTL
		}
	}
	claims := s.claims(kind, p, client, user, o.Scopes, iat, ttl)
	for k, v := range o.Claims {
		if v == nil {
			delete(claims, k)
		} else {
			claims[k] = v
		}
	}
	keys := p.currentKeys()
	key := keys.access
	if kind == idToken {
		key = keys.id
	}
	header := map[string]any{"kid": key.KeyID, "alg": "RS256"}
	for k, v := range o.Header {
		if v == nil {
			delete(header, k)
		} else {
			header[k] = v
		}
	}
	signer := key.Private
	if o.SigningKey != nil {
		signer = o.SigningKey
	}
	return sign(header, claims, signer)
}

func (s *Server) claims(kind tokenKind, p *pool, client AppClient, user *User, scopes []string, iat time.Time, ttl time.Duration) map[string]any {
	c := map[string]any{
		"iss":       s.Issuer(p.cfg.ID),
		"auth_time": iat.Unix(),
		"iat":       iat.Unix(),
		"exp":       iat.Add(ttl).Unix(),
		"jti":       randomUUID(),
	}
	if kind == accessToken {
		c["token_use"] = "access"
		c["client_id"] = client.ID
		c["version"] = 2
		if user == nil {
			c["sub"] = client.ID
			if scopes == nil {
				scopes = client.Scopes
			}
		} else {
			c["sub"] = user.Sub
			c["username"] = user.Username
			c["origin_jti"] = randomUUID()
			c["event_id"] = randomUUID()
			if len(user.Groups) > 0 {
				c["cognito:groups"] = user.Groups
			}
			if scopes == nil {
				scopes = []string{"openid", "email", "profile"}
			}
		}
		if len(scopes) > 0 {
			c["scope"] = strings.Join(scopes, " ")
		}
		return c
	}
	c["token_use"] = "id"
	c["aud"] = client.ID
	c["sub"] = user.Sub
	c["cognito:username"] = user.Username
	c["origin_jti"] = randomUUID()
	c["event_id"] = randomUUID()
	if user.Email != "" {
		c["email"] = user.Email
		c["email_verified"] = user.EmailVerified
	}
	if user.Name != "" {
		c["name"] = user.Name
	}
	if len(user.Groups) > 0 {
		c["cognito:groups"] = user.Groups
	}
	for k, v := range user.Attributes {
		c["custom:"+k] = v
	}
	return c
}

// sign builds a compact JWS over the JSON of header and claims with RS256.
func sign(header, claims map[string]any, key *rsa.PrivateKey) (string, error) {
	h, err := json.Marshal(header)
	if err != nil {
		return "", fmt.Errorf("cognitotest: encode header: %w", err)
	}
	c, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("cognitotest: encode claims: %w", err)
	}
	signingInput := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c)
	digest := sha256.Sum256([]byte(signingInput))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, digest[:])
	if err != nil {
		return "", fmt.Errorf("cognitotest: sign: %w", err)
	}
	return signingInput + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}

// parseOwnToken checks a token the server itself signed: RS256 signature by one of the
// pool keys currently published. It returns the claims, or false.
func parseOwnToken(token string, keys poolKeys) (map[string]any, bool) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, false
	}
	hb, err1 := base64.RawURLEncoding.DecodeString(parts[0])
	cb, err2 := base64.RawURLEncoding.DecodeString(parts[1])
	sig, err3 := base64.RawURLEncoding.DecodeString(parts[2])
	if err1 != nil || err2 != nil || err3 != nil {
		return nil, false
	}
	var header struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
	}
	if json.Unmarshal(hb, &header) != nil || header.Alg != "RS256" {
		return nil, false
	}
	pub, ok := keys.byID(header.Kid)
	if !ok {
		return nil, false
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig) != nil {
		return nil, false
	}
	claims := map[string]any{}
	if json.Unmarshal(cb, &claims) != nil {
		return nil, false
	}
	return claims, true
}
