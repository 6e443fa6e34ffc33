package cognito

import (
	"fmt"
	"log/slog"
	"strconv"
	"time"
)

// Token is an access token obtained from the token endpoint. Its String, GoString,
// Format and LogValue never show the token itself, so fmt and slog print it safely;
// encoding/json does include it, since that is how a [TokenStore] may keep it.
//
// A Token returned by a [ClientCredentialsAuthenticator] is shared by every caller that
// gets it; do not modify it.
type Token struct {
	// Token is the access token itself, a JWT.
	Token string
	// TokenType is the token type; "Bearer" for Cognito.
	TokenType string
	// Scope is the space-separated list of scopes granted.
	Scope string
	// ExpiresAt is when the token expires.
	ExpiresAt time.Time
	// IssuedAt is when the token was requested. With ExpiresAt it gives the lifetime that
	// the expiry margin and the refresh-ahead window are taken from. Zero means unknown:
	// the lifetime then counts from when the token is loaded (from a [TokenStore]).
	IssuedAt time.Time

	// margin is the expiry margin of the authenticator that obtained the token, when
	// hasMargin is set; see FreshWindow.
	margin    time.Duration
	hasMargin bool
}

// ExpiresAtISO returns ExpiresAt in RFC 3339 form, UTC.
func (t Token) ExpiresAtISO() string { return t.ExpiresAt.UTC().Format(time.RFC3339) }

// String describes the token without the token itself.
func (t Token) String() string {
	return "Token{TokenType: " + t.TokenType + ", Scope: " + t.Scope +
		", ExpiresAt: " + t.ExpiresAt.UTC().Format(time.RFC3339) + ", Token: " + redacted(t.Token) + "}"
}

// GoString keeps the token out of %#v.
func (t Token) GoString() string { return "cognito." + t.String() }

// Format keeps the token out of every fmt verb, not only %v and %s.
func (t Token) Format(f fmt.State, verb rune) { formatRedacted(f, verb, t.String(), t.GoString()) }

// LogValue keeps the token out of slog output.
func (t Token) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("token_type", t.TokenType),
		slog.String("scope", t.Scope),
		slog.Time("expires_at", t.ExpiresAt),
		slog.String("token", redacted(t.Token)),
	)
}

// formatRedacted prints a value that holds a secret through its redacted String and
// GoString whatever the verb, because fmt would print the raw fields for verbs such as
// %d or %x on a struct.
func formatRedacted(f fmt.State, verb rune, s, gos string) {
	switch {
	case verb == 'v' && f.Flag('#'):
		_, _ = f.Write([]byte(gos))
	case verb == 'q':
		_, _ = f.Write([]byte(strconv.Quote(s)))
	default:
		_, _ = f.Write([]byte(s))
	}
}

// secretString holds a credential (the Basic authorization value) so that printing the
// struct that holds it, by any means fmt offers, shows REDACTED.
type secretString string

func (s secretString) String() string   { return redacted(string(s)) }
func (s secretString) GoString() string { return redacted(string(s)) }
func (s secretString) Format(f fmt.State, verb rune) {
	formatRedacted(f, verb, s.String(), s.GoString())
}
