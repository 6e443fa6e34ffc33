// Package forwardauth answers reverse proxies that ask an external service whether a
// request may pass (nginx auth_request, Traefik forwardAuth, Caddy forward_auth, Envoy
// ext_authz) with the decision pkg/policy's middleware would make for that request.
//
// A proxy describes the request it holds in its own way: nginx in X-Original-Method and
// X-Original-URI, Traefik and Caddy in X-Forwarded-Method, -Uri and -Host, Envoy by
// sending the request itself under a path prefix. [Decider.Original] rebuilds the
// request as a Go server would have parsed it, and [Decider.Decide] runs it through
// policy.Middleware itself, around a handler that records the outcome: the route,
// reason, status, WWW-Authenticate challenge and problem body are the middleware's, not
// a second implementation of them. An allowed request gets 200 and identity headers
// built from the verified claims.
//
// Forwarded headers are believed only from trusted proxies (loopback by default). Any
// other peer is judged on its own request line, so a client that reaches the service
// directly and sends X-Forwarded-Uri learns about the path it asked for, nothing else.
// X-Forwarded-Prefix and Forwarded are never read: no supported proxy needs them, and a
// prefix the service strips is the service's routing, which the policy file must match.
package forwardauth
