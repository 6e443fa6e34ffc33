package cognito

import (
	"fmt"
	"log/slog"
	"time"
)

// ClientCredentialsConfig identifies an app client that obtains tokens with the OAuth 2.0
// client-credentials grant. Its String, GoString and LogValue never show the secret.
type ClientCredentialsConfig struct {
	// ClientID is the app client ID. Required.
	ClientID string
	// ClientSecret is the app client secret. Required.
	ClientSecret string
	// TokenURL is the token endpoint, "https://<domain>/oauth2/token". Required; an
	// absolute http or https URL.
	TokenURL string
	// Scope is the space-separated list of scopes to request, such as
	// "orders/read orders/write". Empty asks for every scope the client is allowed.
	Scope string
}

// String describes the config without the secret.
func (c ClientCredentialsConfig) String() string {
	return "ClientCredentialsConfig{ClientID: " + c.ClientID + ", ClientSecret: " + redacted(c.ClientSecret) +
		", TokenURL: " + c.TokenURL + ", Scope: " + c.Scope + "}"
}

// GoString keeps the secret out of %#v.
func (c ClientCredentialsConfig) GoString() string { return "cognito." + c.String() }

// Format keeps the secret out of every fmt verb, not only %v and %s.
func (c ClientCredentialsConfig) Format(f fmt.State, verb rune) {
	formatRedacted(f, verb, c.String(), c.GoString())
}

// LogValue keeps the secret out of slog output.
func (c ClientCredentialsConfig) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("client_id", c.ClientID),
		slog.String("client_secret", redacted(c.ClientSecret)),
		slog.String("token_url", c.TokenURL),
		slog.String("scope", c.Scope),
	)
}

func redacted(secret string) string {
	if secret == "" {
		return `""`
	}
	return "REDACTED"
}

// JWTAuthorizerConfig says which Cognito tokens a JWTAuthorizer accepts.
type JWTAuthorizerConfig struct {
	// UserPoolID is the user pool, "<region>_<id>", such as "us-east-1_EXAMPLE12".
	// Required.
	UserPoolID string
	// Region is the pool's AWS Region, such as "us-east-1". Empty means the region prefix
	// of UserPoolID; when set it must match that prefix (unless WithEndpoint is used).
	Region string
	// Audience is the app client ID tokens must be issued to: the client_id claim of
	// access tokens, the aud claim of ID tokens.
	Audience string
	// ClientIDs are more app client IDs accepted besides Audience.
	ClientIDs []string
	// AllowAnyClient accepts tokens of every app client of the pool. It must be set when
	// Audience and ClientIDs are empty, so that skipping the client check is a decision,
	// not an omission.
	AllowAnyClient bool
	// TokenUse is the kind of token accepted: TokenUseAccess (the default when empty),
	// TokenUseID or TokenUseAny.
	TokenUse TokenUse
	// RequiredScopes, when set, refuses tokens with none of these scopes (any-of).
	RequiredScopes []string
	// RequiredGroups, when set, refuses tokens whose user is in none of these groups
	// (any-of).
	RequiredGroups []string
	// Leeway is the clock skew allowed on exp, nbf and iat. Zero means DefaultLeeway (60s);
	// a negative value means none.
	Leeway time.Duration
	// Issuers are more issuers accepted, such as the pool's multi-Region replicas, each
	// with its JWKS at "<issuer>/.well-known/jwks.json". The pool's regional issuer
	// "https://cognito-idp.<region>.amazonaws.com/<pool>" and the newer
	// "https://issuer-cognito-idp.<region>.amazonaws.com/<pool>" are always accepted.
	Issuers []string
}
