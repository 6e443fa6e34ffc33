// Package cognito does Amazon Cognito auth for Go services: it obtains OAuth 2.0
// client-credentials tokens for calling other services, and verifies the Cognito access and
// ID tokens that callers present.
//
// # Calling other services
//
// A [ClientCredentialsAuthenticator] fetches access tokens from a user pool's token
// endpoint and caches each until shortly before it expires. However many goroutines ask,
// one request is in flight; near expiry one background refresh runs while callers keep
// the current token; 429, 5xx and network errors are retried with backoff; OAuth errors
// come back as an [*AuthenticationError].
//
// # Verifying tokens
//
// A [JWTAuthorizer] verifies a token in the order AWS prescribes: size and structure,
// algorithm (RS256 only), key from the pool's JWKS by kid, signature, then issuer,
// token_use, client_id or aud, exp, nbf and iat with leeway, and any required scopes and
// groups. The JWKS is cached and refreshed in the background; an unknown kid triggers at
// most one refetch per cooldown; the last good keys are served while Cognito is
// unreachable. Every refusal is an [*AuthorizationError] whose reason works with
// [errors.Is] ([ErrTokenExpired], [ErrInvalidSignature], ...).
//
// # Options
//
// Identity (pool, client, secret) lives in the config structs; tuning lives in [Option]
// values, one type shared by every constructor. An option that does not concern a
// constructor is ignored by it.
//
// # Secrets
//
// No error, log line or String method of this package contains a client secret or a
// token.
package cognito
