package forwardauth

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"

	"github.com/cognitokit/cognitokit/pkg/cognito"
	"github.com/cognitokit/cognitokit/pkg/policy"
)

// Guard is where the policy comes from: something that builds policy's middleware. A
// *policy.Watcher is one (the policy in force at each request); [Static] makes one of a
// fixed *policy.Policy.
type Guard interface {
	Middleware(v policy.Verifier, opts ...policy.MiddlewareOption) func(http.Handler) http.Handler
}

// Static returns a Guard enforcing p.
func Static(p *policy.Policy) Guard { return staticGuard{p} }

type staticGuard struct{ p *policy.Policy }

func (g staticGuard) Middleware(v policy.Verifier, opts ...policy.MiddlewareOption) func(http.Handler) http.Handler {
	return policy.Middleware(g.p, v, opts...)
}

// Config configures a Decider.
type Config struct {
	// Guard supplies the policy. Required.
	Guard Guard
	// Verifier verifies bearer tokens, as for policy.Middleware. Required.
	Verifier policy.Verifier
	// TrustedProxies are the peers whose forwarded headers are believed. Nil means
	// loopback (127.0.0.0/8 and ::1); an empty non-nil slice trusts no peer.
	TrustedProxies []netip.Prefix
	// Headers are the identity headers of allowed answers. Nil means DefaultHeaders(); an
	// empty non-nil slice sends none.
	Headers []IdentityHeader
	// EnvoyPrefix is the path under which Envoy's ext_authz HTTP service sends the
	// original path (its path_prefix). Empty means "/auth/envoy".
	EnvoyPrefix string
	// Realm is the realm of WWW-Authenticate challenges. Empty means "api", as for
	// policy.Middleware.
	Realm string
	// Logger logs denials at debug level, as policy.WithLogger does, and identity
	// headers refused for their value at warn level (names, never values). Nil means
	// no logging.
	Logger *slog.Logger
	// Options are added to the policy middleware's own, such as policy.WithMeterProvider
	// for its decision counts.
	Options []policy.MiddlewareOption
}

// Decider answers proxies with the decisions of policy's middleware. It is safe for
// concurrent use.
type Decider struct {
	guarded     http.Handler
	trusted     []netip.Prefix
	headers     []IdentityHeader // names canonical
	envoyPrefix string
	logger      *slog.Logger
}

// New returns a Decider for cfg.
func New(cfg Config) (*Decider, error) {
	if cfg.Guard == nil || cfg.Verifier == nil {
		return nil, errors.New("forwardauth: a Guard and a Verifier are required")
	}
	d := &Decider{trusted: []netip.Prefix{}, headers: cfg.Headers, envoyPrefix: cfg.EnvoyPrefix, logger: cfg.Logger}
	trusted := cfg.TrustedProxies
	if trusted == nil {
		trusted = loopbackProxies
	}
	for _, p := range trusted {
		if !p.IsValid() {
			return nil, fmt.Errorf("forwardauth: invalid trusted proxy prefix %v", p)
		}
		d.trusted = append(d.trusted, p.Masked())
	}
	if d.headers == nil {
		d.headers = DefaultHeaders()
	}
	d.headers = append([]IdentityHeader(nil), d.headers...)
	for i, h := range d.headers {
		if err := h.validate(); err != nil {
			return nil, fmt.Errorf("forwardauth: %w", err)
		}
		d.headers[i].Name = h.canonical()
	}
	if d.envoyPrefix == "" {
		d.envoyPrefix = "/auth/envoy"
	}
	if d.logger == nil {
		d.logger = slog.New(slog.DiscardHandler)
	}
	opts := []policy.MiddlewareOption{policy.WithErrorWriter(recordDenial), policy.WithLogger(cfg.Logger)}
	if cfg.Realm != "" {
		opts = append(opts, policy.WithRealm(cfg.Realm))
	}
	opts = append(opts, cfg.Options...)
	d.guarded = cfg.Guard.Middleware(cfg.Verifier, opts...)(http.HandlerFunc(recordAllow))
	return d, nil
}

// Outcome is a Decider's answer about one request.
type Outcome struct {
	// Allow reports whether the request may pass.
	Allow bool
	// Status is 200 when allowed; otherwise the middleware's status (401, 403 or 503).
	Status int
	// Header holds the identity headers when allowed (none on public routes); when
	// denied, the headers the middleware sends: WWW-Authenticate, Retry-After,
	// Content-Type and Cache-Control.
	Header http.Header
	// Body is the middleware's problem+json body when denied.
	Body []byte
	// Denial is the middleware's denial when denied.
	Denial policy.Denial
	// Claims are the verified claims when allowed on a route that needed a token.
	Claims *cognito.Claims
}

// Decide runs r, an original request as Original returns it, through the policy's
// middleware and returns what it decided.
func (d *Decider) Decide(r *http.Request) Outcome { return d.decide(r, make(http.Header, 4)) }

// decide is Decide with the answer's headers recorded into h, which becomes the
// Outcome's Header: the handlers pass the response's own header map rather than copy
// one into it.
func (d *Decider) decide(r *http.Request, h http.Header) Outcome {
	rec := &recorder{header: h}
	d.guarded.ServeHTTP(rec, r)
	if !rec.allowed {
		if rec.status == 0 { // cannot happen with policy's middleware: fail closed
			rec.status = http.StatusInternalServerError
		}
		return Outcome{Status: rec.status, Header: rec.header, Body: rec.body.Bytes(), Denial: rec.denial}
	}
	out := Outcome{Allow: true, Status: http.StatusOK, Header: rec.header, Claims: rec.claims}
	if rec.claims != nil {
		if refused := setIdentity(out.Header, d.headers, rec.claims); len(refused) > 0 {
			d.logger.LogAttrs(r.Context(), slog.LevelWarn, "forwardauth: identity header not sent: its claim value cannot be a header value",
				slog.Any("headers", refused))
		}
	}
	return out
}

// recorder is the ResponseWriter the middleware answers into. The middleware hands it,
// unchanged, to the error writer or the next handler, which record into it.
type recorder struct {
	header  http.Header
	status  int
	body    bytes.Buffer
	allowed bool
	claims  *cognito.Claims
	denial  policy.Denial
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	if r.body.Len()+len(b) > maxBody {
		return 0, errors.New("forwardauth: answer body too large")
	}
	return r.body.Write(b)
}

// maxBody bounds the recorded problem body; the middleware's are a few hundred bytes.
const maxBody = 16 << 10

func recordAllow(w http.ResponseWriter, r *http.Request) {
	if rec, ok := w.(*recorder); ok {
		rec.allowed = true
		rec.claims, _ = policy.ClaimsFromContext(r.Context())
	}
}

func recordDenial(w http.ResponseWriter, r *http.Request, den policy.Denial) {
	if rec, ok := w.(*recorder); ok {
		rec.denial = den
	}
	policy.WriteProblem(w, r, den)
}
