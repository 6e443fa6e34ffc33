// Package orders is an example service that embeds cognitokit: a net/http ServeMux of
// order routes behind policy.Middleware (routes.yaml), verifying Cognito tokens with a
// cognito.JWTAuthorizer, and calling one of its own routes as a client through the
// outbound authenticator's RoundTripper.
//
// cmd/orders runs it on its own, configured from the environment, against a real user
// pool or `cognitokit local`; `cognitokit demo` runs it in-process against a local
// Cognito and calls every route with several callers.
package orders
