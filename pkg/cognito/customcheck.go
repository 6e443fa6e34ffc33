package cognito

import "context"

// runChecks runs the WithCustomCheck checks on verified claims, in order, each only while
// ctx is live.
func (z *JWTAuthorizer) runChecks(ctx context.Context, c *Claims) error {
	for _, check := range z.checks {
		if err := ctx.Err(); err != nil {
			return &AuthorizationError{Reason: ErrCustomCheck, Detail: "the context ended before a custom check ran", Err: err, Claims: c}
		}
		if err := check(ctx, c); err != nil {
			return &AuthorizationError{Reason: ErrCustomCheck, Detail: "a custom check refused the token", Err: err, Claims: c}
		}
	}
	return nil
}
