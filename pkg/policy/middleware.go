package policy

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"go.opentelemetry.io/otel/metric"

	"github.com/cognitokit/cognitokit/pkg/cognito"
)

// Verifier verifies a bearer token; *cognito.JWTAuthorizer is one. The middleware treats
// errors matching cognito.ErrJWKSUnavailable as the service's fault (503), and every other
// error as a bad token (401).
type Verifier interface {
	Verify(ctx context.Context, token string) (*cognito.Claims, error)
}

// MiddlewareOption tunes Middleware.
type MiddlewareOption func(*middlewareConfig)

type middlewareConfig struct {
	realm  string
	write  ErrorWriter
	logger *slog.Logger
	checks map[string]CheckFunc

	meterProvider metric.MeterProvider
	tracing       bool
	tel           *policyTelemetry // nil without a provider
}

func newMiddlewareConfig(opts []MiddlewareOption) middlewareConfig {
	cfg := middlewareConfig{realm: "api", write: WriteProblem, logger: slog.New(slog.DiscardHandler)}
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	cfg.tel = newPolicyTelemetry(&cfg)
	return cfg
}

// WithRealm sets the realm of WWW-Authenticate challenges. The default is "api".
func WithRealm(realm string) MiddlewareOption {
	return func(c *middlewareConfig) { c.realm = realm }
}

// WithErrorWriter replaces the answer written for denied requests (default WriteProblem).
func WithErrorWriter(w ErrorWriter) MiddlewareOption {
	return func(c *middlewareConfig) {
		if w != nil {
			c.write = w
		}
	}
}

// WithLogger logs each denial at debug level: route, code and status, never the token or
// claim values. Nil means no logging.
func WithLogger(l *slog.Logger) MiddlewareOption {
	return func(c *middlewareConfig) {
		if l != nil {
			c.logger = l
		}
	}
}

// Middleware enforces p on every request: public routes pass without a token; otherwise
// the bearer token is verified with v, p decides, the route's checks run (WithCheck), and
// allowed requests reach next with the claims in their context (ClaimsFromContext).
//
// A policy whose routes name checks that opts do not register cannot be enforced: the
// returned middleware then answers every request 500 with code misconfigured, and logs
// why (WithLogger) when it is built. [NewMiddleware] returns that error instead.
func Middleware(p *Policy, v Verifier, opts ...MiddlewareOption) func(http.Handler) http.Handler {
	cfg := newMiddlewareConfig(opts)
	if err := cfg.validate(p); err != nil {
		return misconfigured(cfg, err)
	}
	return middleware(func() *Policy { return p }, v, cfg)
}

func middleware(current func() *Policy, v Verifier, cfg middlewareConfig) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p := current()
			rt := p.match(r)
			d, decided := p.decideWithoutToken(rt)
			if !decided {
				route := ""
				if rt != nil {
					route = rt.pattern
				}
				token, err := bearerToken(r)
				if err != nil {
					cfg.deny(w, r, cfg.denial(Decision{Route: route, Status: http.StatusUnauthorized,
						Reason: ReasonAuthenticationRequired, Detail: err.Error()}, ""))
					return
				}
				claims, err := v.Verify(r.Context(), token)
				if err != nil {
					cfg.deny(w, r, cfg.verifyFailed(route, err))
					return
				}
				if d = p.decide(r, rt, claims); d.Allow {
					r = r.WithContext(ContextWithClaims(r.Context(), claims))
					if len(d.Checks) > 0 {
						if den, ok := cfg.runChecks(r, d, claims); !ok {
							cfg.deny(w, r, den)
							return
						}
					}
				}
			}
			if !d.Allow {
				cfg.deny(w, r, cfg.denial(d, ""))
				return
			}
			if cfg.tel != nil {
				cfg.tel.decided(r, d.Route, outcomeAllow, d.Status, "")
			}
			next.ServeHTTP(w, r)
		})
	}
}

// verifyFailed is the denial of a token the verifier refused: 503 when the keys are out
// of reach (the token may be fine, and a 401 would make the client drop it), else 401.
func (c *middlewareConfig) verifyFailed(route string, err error) Denial {
	if errors.Is(err, cognito.ErrJWKSUnavailable) {
		return c.denial(Decision{Route: route, Status: http.StatusServiceUnavailable, Reason: ReasonKeysUnavailable,
			Detail: "the token cannot be verified right now"}, "")
	}
	if errors.Is(err, cognito.ErrRevocationUnavailable) {
		return c.denial(Decision{Route: route, Status: http.StatusServiceUnavailable, Reason: ReasonRevocationUnavailable,
			Detail: "whether the token is revoked cannot be told right now"}, "")
	}
	tokenError := cognito.ReasonCode(err)
	if tokenError == "" {
		tokenError = string(ReasonInvalidToken)
	}
	return c.denial(Decision{Route: route, Status: http.StatusUnauthorized, Reason: ReasonInvalidToken,
		Detail: "the token is not valid: " + tokenError}, tokenError)
}

// denial turns a refusal into the answer's terms, with its RFC 6750 challenge.
func (c *middlewareConfig) denial(d Decision, tokenError string) Denial {
	den := Denial{Status: d.Status, Code: d.Reason, TokenError: tokenError, Detail: d.Detail, Route: d.Route, Scopes: d.Scopes}
	switch {
	case d.Reason == ReasonInvalidToken:
		den.Challenge = challenge(c.realm, "error", "invalid_token", "error_description", tokenError)
	case d.Reason == ReasonInsufficientScope:
		den.Challenge = challenge(c.realm, "error", "insufficient_scope", "scope", strings.Join(d.Scopes, " "))
	case d.Status == http.StatusUnauthorized:
		den.Challenge = challenge(c.realm)
	}
	return den
}

func (c *middlewareConfig) deny(w http.ResponseWriter, r *http.Request, d Denial) {
	if c.tel != nil {
		c.tel.decided(r, d.Route, string(d.Code), d.Status, d.TokenError)
	}
	c.logger.LogAttrs(r.Context(), slog.LevelDebug, "policy: request denied",
		slog.String("method", r.Method), slog.String("route", d.Route),
		slog.Int("status", d.Status), slog.String("code", string(d.Code)), slog.String("token_error", d.TokenError),
		slog.String("check", d.Check))
	c.write(w, r, d)
}

var (
	errNoAuthorization = errors.New("a bearer token is required")
	errNotBearer       = errors.New("the Authorization header is not a bearer token")
	errMalformedBearer = errors.New(`the Authorization header must be "Bearer <token>"`)
)

// bearerToken extracts the token of "Authorization: Bearer <token>" (RFC 6750 §2.1): the
// scheme in any case, one space, a token of b64token characters, nothing else.
func bearerToken(r *http.Request) (string, error) {
	values := r.Header.Values("Authorization")
	switch len(values) {
	case 0:
		return "", errNoAuthorization
	case 1:
	default:
		return "", errMalformedBearer
	}
	scheme, token, found := strings.Cut(values[0], " ")
	if !strings.EqualFold(scheme, "Bearer") {
		if values[0] == "" {
			return "", errNoAuthorization
		}
		return "", errNotBearer
	}
	if !found || !isB64Token(token) {
		return "", errMalformedBearer
	}
	return token, nil
}

// isB64Token reports whether s is 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
// It runs on every request over a ~1 KB token, hence the table, read eight bytes at a
// time without a branch per byte.
func isB64Token(s string) bool {
	i := 0
	for ; i+8 <= len(s); i += 8 {
		t := &b64TokenChars
		if t[s[i]]&t[s[i+1]]&t[s[i+2]]&t[s[i+3]]&t[s[i+4]]&t[s[i+5]]&t[s[i+6]]&t[s[i+7]] == 0 {
			break
		}
	}
	for i < len(s) && b64TokenChars[s[i]] == 1 {
		i++
	}
	if i == 0 {
		return false
	}
	for ; i < len(s); i++ {
		if s[i] != '=' {
			return false
		}
	}
	return true
}

// b64TokenChars is 1 for the bytes of RFC 6750's b64token other than the trailing "=".
// Read-only after initialisation.
var b64TokenChars = func() (t [256]uint8) {
	for c := 'a'; c <= 'z'; c++ {
		t[c] = 1
	}
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = 1
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = 1
	}
	for _, c := range "-._~+/" {
		t[c] = 1
	}
	return t
}()
