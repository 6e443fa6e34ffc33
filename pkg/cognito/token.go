package cognito

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"strings"
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

// schedule says when a cached token is refreshed ahead (in the background, while it is
// still served) and when it stops being served (callers then wait for a new one).
type schedule struct {
	refreshAt  time.Time
	freshUntil time.Time
}

// scheduleFor computes the schedule of t at now. The token is fresh until ExpiresAt minus
// margin, the margin being at most half the lifetime, so that short-lived tokens (2
// minutes and less) are still cached. The refresh-ahead window is the last fraction ahead
// of the span between IssuedAt and the end of freshness.
func scheduleFor(t *Token, now time.Time, margin time.Duration, ahead float64) schedule {
	issued := t.IssuedAt
	if issued.IsZero() || issued.After(now) {
		issued = now
	}
	lifetime := t.ExpiresAt.Sub(issued)
	if lifetime <= 0 {
		return schedule{refreshAt: t.ExpiresAt, freshUntil: t.ExpiresAt}
	}
	margin = min(margin, lifetime/2)
	freshUntil := t.ExpiresAt.Add(-margin)
	span := freshUntil.Sub(issued)
	return schedule{
		refreshAt:  freshUntil.Add(-time.Duration(ahead * float64(span))),
		freshUntil: freshUntil,
	}
}

// maxLifetime clamps expires_in, so that an absurd value cannot overflow a Duration.
const maxLifetime = math.MaxInt32 * time.Second

// tokenAnswer is a 200 answer of the token endpoint. gen.TokenResponse is not used: it
// has no scope and no error field (a 200 carrying an OAuth error is a failure, RFC 6749
// §5.2 servers do this) and it takes expires_in only as a JSON integer.
type tokenAnswer struct {
	AccessToken      string      `json:"access_token"`
	TokenType        string      `json:"token_type"`
	ExpiresIn        flexSeconds `json:"expires_in"`
	Scope            string      `json:"scope"`
	Error            string      `json:"error"`
	ErrorDescription string      `json:"error_description"`
}

// flexSeconds reads a number of seconds given as a JSON number or a string holding one,
// as some servers send it.
type flexSeconds struct {
	d   time.Duration
	set bool
}

var errExpiresInNotNumber = errors.New("expires_in is not a number")

func (s *flexSeconds) UnmarshalJSON(b []byte) error {
	v := string(b)
	if v == "null" {
		return nil
	}
	if unq, err := strconv.Unquote(v); err == nil {
		v = unq
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return errExpiresInNotNumber
	}
	s.set = true
	switch {
	case f <= 0:
		s.d = 0
	case f >= maxLifetime.Seconds():
		s.d = maxLifetime
	default:
		s.d = time.Duration(f * float64(time.Second))
	}
	return nil
}

// answerError is why a 200 answer is not a usable token; it names fields, never values
// (except token_type, truncated), so that it can go into an error safely.
type answerError struct{ msg string }

func (e *answerError) Error() string { return e.msg }

// tokenFromAnswer turns a 200 answer into a Token, or says why it cannot. sent is when
// the request was sent (the lifetime counts from then), now when the answer arrived.
// A *oauthAnswerError is returned for an answer that carries an OAuth error.
func tokenFromAnswer(body []byte, contentType string, sent, now time.Time, requestedScope string) (*Token, error) {
	var ans tokenAnswer
	if err := json.Unmarshal(body, &ans); err != nil {
		if errors.Is(err, errExpiresInNotNumber) {
			return nil, &answerError{"expires_in is not a number"}
		}
		return nil, &answerError{fmt.Sprintf("body is not a JSON token answer (Content-Type %s)", quoteCut(contentType, 64))}
	}
	if ans.Error != "" {
		return nil, &oauthAnswerError{code: ans.Error, description: ans.ErrorDescription}
	}
	if ans.AccessToken == "" {
		return nil, &answerError{"no access_token"}
	}
	if !strings.EqualFold(ans.TokenType, "Bearer") {
		return nil, &answerError{"token_type " + quoteCut(ans.TokenType, 32) + " is not Bearer"}
	}
	claims, isJWT := jwtPayload(ans.AccessToken)
	t := &Token{Token: ans.AccessToken, TokenType: "Bearer", Scope: ans.Scope, IssuedAt: sent}
	switch {
	case ans.ExpiresIn.d > 0:
		t.ExpiresAt = sent.Add(ans.ExpiresIn.d)
	case isJWT && claims.Exp > 0:
		// No usable expires_in: the token's own exp is the only lifetime we can trust;
		// without one the token would be cached forever, which is never right.
		t.ExpiresAt = time.Unix(int64(min(claims.Exp, 1<<40)), 0)
		if !t.ExpiresAt.After(now) {
			return nil, &answerError{"no positive expires_in, and the token's exp claim has passed"}
		}
	case ans.ExpiresIn.set:
		return nil, &answerError{"expires_in is not positive and the token has no exp claim"}
	default:
		return nil, &answerError{"no expires_in and the token has no exp claim"}
	}
	if t.Scope == "" {
		t.Scope = claims.Scope
	}
	if t.Scope == "" {
		t.Scope = requestedScope
	}
	return t, nil
}

// oauthAnswerError is an OAuth error (RFC 6749 §5.2) found in an answer's body.
type oauthAnswerError struct{ code, description string }

func (e *oauthAnswerError) Error() string { return "OAuth error " + quoteCut(e.code, 64) }

// jwtClaims are the claims of an access token that the authenticator reads. The token is
// only decoded, not verified: it comes straight from the token endpoint over the
// authenticated channel, and exp and scope only tune the cache.
type jwtClaims struct {
	Exp   float64 `json:"exp"`
	Scope string  `json:"scope"`
}

// jwtPayload decodes the payload of a JWT; ok is false if token is not one.
func jwtPayload(token string) (c jwtClaims, ok bool) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return c, false
	}
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return c, false
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return jwtClaims{}, false
	}
	if math.IsNaN(c.Exp) || math.IsInf(c.Exp, 0) {
		c.Exp = 0
	}
	return c, true
}

// quoteCut quotes a server-supplied value for an error message, cut to at most n bytes.
func quoteCut(s string, n int) string {
	if len(s) > n {
		s = strings.ToValidUTF8(s[:n], "") + "…"
	}
	return strconv.Quote(s)
}
