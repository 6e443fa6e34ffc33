package cognito

import "time"

// Token is an access token obtained from the token endpoint.
type Token struct {
	// Token is the access token itself, a JWT.
	Token string
	// TokenType is the token type; "Bearer" for Cognito.
	TokenType string
	// Scope is the space-separated list of scopes granted.
	Scope string
	// ExpiresAt is when the token expires.
	ExpiresAt time.Time
}

// ExpiresAtISO returns ExpiresAt in RFC 3339 form, UTC.
func (t *Token) ExpiresAtISO() string { return t.ExpiresAt.UTC().Format(time.RFC3339) }
