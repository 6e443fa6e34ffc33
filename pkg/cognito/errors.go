package cognito

import (
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"
)

// reason is a sentinel error naming why something failed, with a stable snake_case code
// for logs, metrics and the CLI.
type reason struct{ code, text string }

func (r *reason) Error() string { return r.text }

// ReasonCode returns the reason's stable snake_case code, such as "expired".
func (r *reason) ReasonCode() string { return r.code }

func newReason(code, text string) error { return &reason{code: code, text: text} }

// Reasons a token is refused by [JWTAuthorizer.Verify]. Every [*AuthorizationError]
// matches exactly one of them with [errors.Is]; [ReasonCode] gives its code.
var (
	ErrMalformedToken      = newReason("malformed_token", "token is malformed")
	ErrTokenTooLarge       = newReason("token_too_large", "token is too large")
	ErrAlgorithmNotAllowed = newReason("algorithm_not_allowed", "token algorithm is not allowed")
	ErrMissingKeyID        = newReason("missing_key_id", "token header has no key ID")
	ErrUnsupportedHeader   = newReason("unsupported_header", "token header has an unsupported critical parameter")
	ErrUnknownKey          = newReason("unknown_key", "token key ID is not in the user pool's JWKS")
	ErrInvalidSignature    = newReason("invalid_signature", "token signature is invalid")
	ErrInvalidIssuer       = newReason("invalid_issuer", "token issuer is not the user pool")
	ErrInvalidTokenUse     = newReason("invalid_token_use", "token_use is not the one required")
	ErrInvalidClient       = newReason("invalid_client", "token was issued to a client that is not allowed")
	ErrTokenExpired        = newReason("expired", "token is expired")
	ErrTokenNotYetValid    = newReason("not_yet_valid", "token is not valid yet")
	ErrIssuedInFuture      = newReason("issued_in_future", "token is issued in the future")
	ErrMissingClaim        = newReason("missing_claim", "token lacks a required claim")
	ErrInsufficientScope   = newReason("insufficient_scope", "token lacks a required scope")
	ErrNotInGroup          = newReason("not_in_group", "token user is not in a required group")
	ErrJWKSUnavailable     = newReason("jwks_unavailable", "user pool keys are unavailable")
	// ErrCustomCheck: a check given with WithCustomCheck refused the token (the
	// AuthorizationError also unwraps to the check's error), or the context ended before
	// it could run.
	ErrCustomCheck = newReason("custom_check_failed", "a custom check refused the token")
	// ErrTokenRevoked: the revocation list given with WithRevocationList holds the token
	// (its jti or origin_jti), or a cut-off of its subject or app client at or after its
	// iat.
	ErrTokenRevoked = newReason("token_revoked", "token is revoked")
	// ErrRevocationUnavailable: the revocation list cannot tell whether the token is
	// revoked (it is failing closed, such as a fleet's list out of touch with Redis for
	// too long). Like ErrJWKSUnavailable, the token may be fine: a service answers 503.
	ErrRevocationUnavailable = newReason("revocation_unavailable", "revocation list is unavailable")
)

// Reasons a token request fails in a [ClientCredentialsAuthenticator]. Every
// [*AuthenticationError] matches one of them with [errors.Is].
var (
	// ErrTokenRequestRejected: the token endpoint refused the request with an OAuth error
	// (4xx); retrying will not help.
	ErrTokenRequestRejected = newReason("token_request_rejected", "token request was rejected")
	// ErrTokenEndpointUnavailable: network errors, 429 or 5xx outlasted the retries or the
	// caller's context.
	ErrTokenEndpointUnavailable = newReason("token_endpoint_unavailable", "token endpoint is unavailable")
	// ErrInvalidTokenResponse: the endpoint answered 200 with something that is not a
	// usable token (not JSON, no access_token, not Bearer, no lifetime, too large).
	ErrInvalidTokenResponse = newReason("invalid_token_response", "token endpoint answered with an unusable token")
)

// ErrInvalidConfig is matched by every error a constructor or a FromEnv function returns
// for a bad configuration.
var ErrInvalidConfig = newReason("invalid_config", "invalid configuration")

// ReasonCode returns the snake_case code of the reason err carries ("expired",
// "invalid_client", ...), or "" if it carries none.
func ReasonCode(err error) string {
	var r *reason
	if errors.As(err, &r) {
		return r.code
	}
	return ""
}

// AuthenticationError reports a failed token request. It never holds the client secret,
// the token or the HTTP response.
//
// Its ReasonCode is this package's code for why the request failed; ErrorCode is what
// the token endpoint said, in the words of OAuth (RFC 6749 section 5.2).
type AuthenticationError struct {
	// Reason is ErrTokenRequestRejected, ErrTokenEndpointUnavailable or
	// ErrInvalidTokenResponse.
	Reason error
	// ErrorCode is the OAuth error code the endpoint answered (the "error" member), such
	// as "invalid_client"; empty when it gave none.
	ErrorCode string
	// ErrorDescription is the endpoint's error_description, if any.
	ErrorDescription string
	// StatusCode is the HTTP status of the last answer; 0 when none was received.
	StatusCode int
	// Attempts is how many requests were made; 0 when HeldOff.
	Attempts int
	// Err is the underlying cause, if any (a network error, a JSON error).
	Err error
	// HeldOff is true when no request was made: the token endpoint's answer that started
	// the current cool-down (given to this authenticator or, through a [CooldownStore],
	// to another one) is repeated instead, until RetryAt. Reason, ErrorCode,
	// ErrorDescription and StatusCode are that answer's.
	HeldOff bool
	// RetryAt, when not zero, is when the cool-down this failure started or repeats ends:
	// until then GetToken fails at once with this error (or serves a cached token that
	// is still valid), without a request.
	RetryAt time.Time

	cooldown *Cooldown // the cool-down this answer started or repeats, for a CooldownStore
}

func (e *AuthenticationError) Error() string {
	var b strings.Builder
	b.WriteString("cognito: ")
	b.WriteString(errText(e.Reason, "token request failed"))
	if e.ErrorCode != "" {
		b.WriteString(": ")
		b.WriteString(strconv.Quote(e.ErrorCode))
	}
	if e.ErrorDescription != "" {
		b.WriteString(" (")
		b.WriteString(strconv.Quote(e.ErrorDescription))
		b.WriteString(")")
	}
	if e.StatusCode != 0 {
		fmt.Fprintf(&b, ", HTTP %d", e.StatusCode)
	}
	if e.Attempts > 1 {
		fmt.Fprintf(&b, " after %d attempts", e.Attempts)
	}
	if e.HeldOff {
		b.WriteString(" (held off: no request made until ")
		b.WriteString(e.RetryAt.UTC().Format(time.RFC3339))
		b.WriteString(")")
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the reason, the cause and the [*Cooldown] the error started or repeats,
// for errors.Is and errors.As.
func (e *AuthenticationError) Unwrap() []error {
	if e.cooldown == nil {
		return nonNil(e.Reason, e.Err)
	}
	return nonNil(e.Reason, e.Err, e.cooldown)
}

// ReasonCode returns the snake_case code of the reason, such as
// "token_request_rejected"; the OAuth error code is ErrorCode.
func (e *AuthenticationError) ReasonCode() string { return ReasonCode(e.Reason) }

// AuthorizationError reports a token that [JWTAuthorizer.Verify] refused. It never holds
// the token or claim values.
type AuthorizationError struct {
	// Reason is one of the Err sentinels above, such as ErrTokenExpired.
	Reason error
	// Detail says more about the refusal (which claim, which scopes were required), in
	// words safe to log.
	Detail string
	// Err is the underlying cause, if any: for ErrCustomCheck, the check's error.
	Err error
	// Claims are the claims of the refused token when, and only when, its signature
	// verified and a claim check refused it: ErrTokenExpired, ErrTokenNotYetValid,
	// ErrIssuedInFuture, ErrInvalidTokenUse, ErrInvalidClient, ErrMissingClaim (exp or
	// sub), ErrInsufficientScope, ErrNotInGroup, ErrTokenRevoked,
	// ErrRevocationUnavailable, ErrCustomCheck. Nil for every structural,
	// key or signature failure, when nothing in the token can be trusted.
	//
	// They let a caller tell whose token was refused, such as to refresh the session of
	// a user whose token expired rather than sign them out. They belong to a token that was
	// refused: never grant anything on them. They may be shared: do not modify them.
	// Error and LogValue never show them.
	Claims *Claims
}

// LogValue is the error's text, so that slog shows the same as Error and never the
// claims.
func (e *AuthorizationError) LogValue() slog.Value { return slog.StringValue(e.Error()) }

func (e *AuthorizationError) Error() string {
	s := "cognito: " + errText(e.Reason, "token refused")
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the reason and the cause, for errors.Is and errors.As.
func (e *AuthorizationError) Unwrap() []error { return nonNil(e.Reason, e.Err) }

// ReasonCode returns the snake_case code of the reason, such as "expired".
func (e *AuthorizationError) ReasonCode() string { return ReasonCode(e.Reason) }

// configError is a constructor's refusal of its configuration.
func configError(format string, args ...any) error {
	return fmt.Errorf("cognito: %w: "+format, append([]any{ErrInvalidConfig}, args...)...)
}

func errText(err error, fallback string) string {
	if err == nil {
		return fallback
	}
	return err.Error()
}

func nonNil(errs ...error) []error {
	out := errs[:0]
	for _, err := range errs {
		if err != nil {
			out = append(out, err)
		}
	}
	return out
}

// withClaims attaches the claims of a token whose signature verified to err, a claim
// check's refusal.
func withClaims(err error, c *Claims) error {
	if e, ok := err.(*AuthorizationError); ok {
		e.Claims = c
	}
	return err
}
