// Package policy declares, in one YAML file, which routes of a service are public and
// which scopes, groups, clients and claims each route requires, and enforces the file
// with a net/http middleware that answers as RFC 6750 says.
//
// Route keys are net/http ServeMux patterns ("GET /orders/{id}", "/admin/") and are
// matched by the standard library's own ServeMux, so the policy sees exactly the route a
// ServeMux-routed service sees: the most specific pattern wins, and two patterns that
// conflict are a load error. A request no route matches gets the file's default, which
// is deny unless the file says otherwise.
//
//	p, err := policy.Load("routes.yaml")
//	authz, err := cognito.NewJWTAuthorizer(cfg)
//	handler := policy.Middleware(p, authz)(mux)
//
// The middleware verifies the bearer token only for routes that are not public, puts the
// verified claims in the request context ([ClaimsFromContext]) and answers 401 (no token,
// bad token), 403 (valid token that fails the route's requirements, or no route under
// default deny) or 503 (keys unavailable) with an application/problem+json body that never
// echoes the token or claim values.
package policy
