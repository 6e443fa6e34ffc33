package policy

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/cognitokit/cognitokit/pkg/cognito"
)

// CheckFunc is a Go check a route names in its checks: list. It runs after the route's
// requirements held, with the request (whose context holds the claims) and the verified
// claims; a non-nil error refuses the request with 403 and code check_failed. It must not
// modify the claims.
type CheckFunc func(r *http.Request, c *cognito.Claims) error

// WithCheck registers the check called name, for the routes whose checks: list names it
// (such as "is this user's organisation active?", which YAML cannot express). A check
// registered twice keeps the last function; a nil function is ignored.
//
// A refused request's problem detail names the check but never shows its error's text,
// which may hold what the client must not see, unless the error is, or wraps, a
// *[SafeError].
func WithCheck(name string, fn func(r *http.Request, c *cognito.Claims) error) MiddlewareOption {
	return func(c *middlewareConfig) {
		if fn == nil {
			return
		}
		if c.checks == nil {
			c.checks = map[string]CheckFunc{}
		}
		c.checks[name] = fn
	}
}

// SafeError is an error a check returns to show Message to the client, in the problem
// detail of its check_failed answer. The text of any other error is never shown.
type SafeError struct {
	// Message is shown to the client: write it for them, without claim values they
	// should not see.
	Message string
	// Err is the cause, for errors.Is and errors.As; it is not shown.
	Err error
}

func (e *SafeError) Error() string { return e.Message }

// Unwrap returns the cause.
func (e *SafeError) Unwrap() error { return e.Err }

// NewMiddleware is Middleware, but refuses a policy whose routes name checks that opts do
// not register with WithCheck: the error names every such route (with its file and line)
// and check. Use it so that such a service fails at start-up.
func NewMiddleware(p *Policy, v Verifier, opts ...MiddlewareOption) (func(http.Handler) http.Handler, error) {
	cfg := newMiddlewareConfig(opts)
	if err := cfg.validate(p); err != nil {
		return nil, err
	}
	return middleware(func() *Policy { return p }, v, cfg), nil
}

// validate reports the checks p needs that the configuration lacks.
func (c *middlewareConfig) validate(p *Policy) error {
	missing := p.missingChecks(func(name string) bool { return c.checks[name] != nil })
	if len(missing) == 0 {
		return nil
	}
	msgs := make([]string, len(missing))
	for i, err := range missing {
		msgs[i] = err.Error()
	}
	return errors.New("policy: " + strings.Join(msgs, "; "))
}

// misconfigured is the middleware of a policy that needs checks the middleware lacks: it
// answers every request 500, so the mistake shows at once rather than opening or closing
// some routes silently. The error is logged when the middleware is built.
func misconfigured(cfg middlewareConfig, err error) func(http.Handler) http.Handler {
	cfg.logger.Error("policy: the middleware answers every request 500: " + err.Error())
	return func(http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			cfg.deny(w, r, misconfiguredDenial(""))
		})
	}
}

func misconfiguredDenial(route string) Denial {
	return Denial{Status: http.StatusInternalServerError, Code: ReasonMisconfigured, Route: route,
		Detail: "the service's route policy is misconfigured"}
}

// runChecks runs the checks an allowed decision names, in order; ok is false with the
// denial of the first that refuses.
func (c *middlewareConfig) runChecks(r *http.Request, d Decision, claims *cognito.Claims) (Denial, bool) {
	for _, name := range d.Checks {
		fn := c.checks[name]
		if fn == nil {
			// Only a policy swapped in by a Watcher whose validation was bypassed gets here.
			c.logger.Error("policy: route " + strconv.Quote(d.Route) + " needs check " + strconv.Quote(name) + ", which is not registered")
			return misconfiguredDenial(d.Route), false
		}
		if err := fn(r, claims); err != nil {
			den := Denial{Status: http.StatusForbidden, Code: ReasonCheckFailed, Route: d.Route, Check: name,
				Detail: "check " + strconv.Quote(name) + " refused the request"}
			var safe *SafeError
			if errors.As(err, &safe) && safe.Message != "" {
				den.Detail += ": " + safe.Message
			}
			return den, false
		}
	}
	return Denial{}, true
}
