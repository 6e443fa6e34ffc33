package cognito

import (
	"log/slog"
	"slices"
	"time"
)

// TokenUse is the kind of Cognito token: the token_use claim.
type TokenUse string

// The token uses a JWTAuthorizer can require.
const (
	TokenUseAccess TokenUse = "access" // access tokens (the default)
	TokenUseID     TokenUse = "id"     // ID tokens
	TokenUseAny    TokenUse = "any"    // either
)

// Claims are the verified claims of a Cognito access or ID token.
//
// Claims returned by [JWTAuthorizer.Verify] may be shared with other callers that
// verified the same token: treat them, their slices and the values of [Claims.Get] as
// read-only.
type Claims struct {
	Sub           string   // sub: the user's (or, for client credentials, the client's) ID
	Username      string   // username (access) or cognito:username (ID)
	Email         string   // email (ID tokens)
	EmailVerified bool     // email_verified (ID tokens)
	Name          string   // name (ID tokens)
	ClientID      string   // client_id (access) or aud (ID): the app client
	TokenUse      string   // token_use: "access" or "id"
	Issuer        string   // iss
	JTI           string   // jti
	Scopes        []string // scope, split on spaces (access tokens)
	Groups        []string // cognito:groups
	Audience      []string // aud (ID tokens)
	IssuedAt      time.Time
	AuthTime      time.Time
	NotBefore     time.Time // zero when the token has no nbf
	Expiry        time.Time

	// raw holds every claim as decoded from JSON (strings, float64 numbers, bools,
	// []any, map[string]any), including custom:* attributes and unknown claims.
	raw map[string]any
	// lazy, when set, decodes raw on first use instead (Verify's fast path, scan.go).
	lazy *lazyClaims
}

// NewClaims returns the Claims of a decoded token payload, with the typed fields filled
// from raw exactly as Verify fills them; a claim of the wrong JSON type (number sub,
// string exp) is an error matching ErrMalformedToken. It verifies nothing: it is for tests
// and for policies evaluated on claims that were verified elsewhere. Claims keeps raw.
func NewClaims(raw map[string]any) (*Claims, error) {
	if raw == nil {
		raw = map[string]any{}
	}
	return newClaimsFromPayload(raw)
}

// ExpiresAt returns when the token expires (the exp claim).
func (c *Claims) ExpiresAt() time.Time { return c.Expiry }

// HasScope reports whether the token was granted scope (compared exactly).
func (c *Claims) HasScope(scope string) bool { return slices.Contains(c.Scopes, scope) }

// InGroup reports whether the token's user is in group.
func (c *Claims) InGroup(group string) bool { return slices.Contains(c.Groups, group) }

// Get returns the claim called name as decoded from JSON: a string, a float64, a bool,
// a []any or a map[string]any. Custom attributes are "custom:<name>".
func (c *Claims) Get(name string) (any, bool) {
	v, ok := c.rawClaims()[name]
	return v, ok
}

// Raw returns every claim, as decoded from JSON. Do not modify it.
func (c *Claims) Raw() map[string]any { return c.rawClaims() }

func (c *Claims) rawClaims() map[string]any {
	if c.lazy != nil {
		return c.lazy.get()
	}
	return c.raw
}

// LogValue keeps claim values out of logs: only the token use and the client ID, which
// identify the caller without personal data, are shown.
func (c *Claims) LogValue() slog.Value {
	return slog.GroupValue(slog.String("token_use", c.TokenUse), slog.String("client_id", c.ClientID))
}
