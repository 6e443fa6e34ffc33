package policy

import (
	"context"

	"github.com/cognitokit/cognitokit/pkg/cognito"
)

type claimsKey struct{}

// ClaimsFromContext returns the verified claims the middleware put in the request
// context. It reports false on public routes and outside the middleware.
func ClaimsFromContext(ctx context.Context) (*cognito.Claims, bool) {
	c, ok := ctx.Value(claimsKey{}).(*cognito.Claims)
	return c, ok && c != nil
}

// ContextWithClaims returns a copy of ctx carrying claims, as the middleware does; use it
// to test handlers without a token.
func ContextWithClaims(ctx context.Context, c *cognito.Claims) context.Context {
	return context.WithValue(ctx, claimsKey{}, c)
}
