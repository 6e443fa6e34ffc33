package cognito

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/cognitokit/cognitokit/gen"
)

// maxLifetime clamps expires_in, so that an absurd value cannot overflow a Duration.
const maxLifetime = math.MaxInt32 * time.Second

// lifetime reads expires_in, which the generated model holds as a json.Number so that
// the string form some servers send decodes too: a number of seconds, clamped to
// [0, maxLifetime]. set is false when the answer has none.
func lifetime(expiresIn json.Number) (d time.Duration, set bool, err error) {
	if expiresIn == "" {
		return 0, false, nil
	}
	f, err := strconv.ParseFloat(string(expiresIn), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false, errExpiresInNotNumber
	}
	switch {
	case f <= 0:
		return 0, true, nil
	case f >= maxLifetime.Seconds():
		return maxLifetime, true, nil
	}
	return time.Duration(f * float64(time.Second)), true, nil
}

var errExpiresInNotNumber = errors.New("expires_in is not a number")

// answerError is why a 200 answer is not a usable token; it names fields, never values
// (except token_type, truncated), so that it can go into an error safely.
type answerError struct{ msg string }

func (e *answerError) Error() string { return e.msg }

// decodeAnswer decodes a 200 answer into the generated models: the token answer, and
// the OAuth error some servers put in a 200 (RFC 6749 §5.2 answers are errors whatever
// their status). gen.ParsePostTokenResponse is not used for it: it decodes only answers
// labelled JSON, and on a body that does not decode it returns no response, status
// included, while a token in a mislabelled answer is still a token and every failure
// must say which it is.
func decodeAnswer(body []byte, contentType string) (*gen.TokenResponse, *gen.OAuthError, error) {
	var ans gen.TokenResponse
	if err := json.Unmarshal(body, &ans); err != nil {
		var syntax *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.As(err, &typ) && typ.Field != "":
			return nil, nil, &answerError{"field " + quoteCut(typ.Field, 32) + " has the wrong JSON type"}
		case !errors.As(err, &syntax) && !errors.As(err, &typ):
			// The only other refusal encoding/json makes here: a string expires_in that
			// is not a number, refused by json.Number.
			return nil, nil, &answerError{errExpiresInNotNumber.Error()}
		}
		return nil, nil, &answerError{fmt.Sprintf("body is not a JSON token answer (Content-Type %s)", quoteCut(contentType, 64))}
	}
	var oe gen.OAuthError
	if json.Unmarshal(body, &oe) == nil && oe.Error != "" {
		return &ans, &oe, nil
	}
	return &ans, nil, nil
}

// tokenFromAnswer turns a 200 answer into a Token, or says why it cannot. sent is when
// the request was sent (the lifetime counts from then), now when the answer arrived.
// A *oauthAnswerError is returned for an answer that carries an OAuth error.
func tokenFromAnswer(body []byte, contentType string, sent, now time.Time, requestedScope string) (*Token, error) {
	ans, oe, err := decodeAnswer(body, contentType)
	if err != nil {
		return nil, err
	}
	if oe != nil {
		return nil, &oauthAnswerError{code: string(oe.Error), description: oe.ErrorDescription}
	}
	if ans.AccessToken == "" {
		return nil, &answerError{"no access_token"}
	}
	if !strings.EqualFold(ans.TokenType, "Bearer") {
		return nil, &answerError{"token_type " + quoteCut(ans.TokenType, 32) + " is not Bearer"}
	}
	expiresIn, expiresInSet, err := lifetime(ans.ExpiresIn)
	if err != nil {
		return nil, &answerError{err.Error()}
	}
	claims, isJWT := jwtPayload(ans.AccessToken)
	t := &Token{Token: ans.AccessToken, TokenType: "Bearer", Scope: ans.Scope, IssuedAt: sent}
	switch {
	case expiresIn > 0:
		t.ExpiresAt = sent.Add(expiresIn)
	case isJWT && claims.Exp > 0:
		// No usable expires_in: the token's own exp is the only lifetime we can trust;
		// without one the token would be cached forever, which is never right.
		t.ExpiresAt = time.Unix(int64(min(claims.Exp, 1<<40)), 0)
		if !t.ExpiresAt.After(now) {
			return nil, &answerError{"no positive expires_in, and the token's exp claim has passed"}
		}
	case expiresInSet:
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
