package policy

import (
	"fmt"
	"io/fs"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/cognitokit/cognitokit/pkg/cognito"
)

// Policy is a compiled route policy. It is immutable and safe for concurrent use.
type Policy struct {
	name     string
	mux      *http.ServeMux
	byRoute  map[string]*route
	routes   []*route // in file order, imported routes first
	def      string   // "deny" or "authenticated"
	tokenUse string
	warnings []*Error
	probes   sync.Pool // of *pathProbe
}

// route is one compiled entry of the file.
type route struct {
	pattern   string
	source    string // "routes.yaml:12" or "api.yaml GET /orders (listOrders)"
	public    bool
	clients   []string
	tokenUse  string
	scopesAny []string
	scopesAll []string
	groupsAny []string
	groupsAll []string
	conds     []condition
	params    []string // the wildcards conditions compare (equals_param), by name
	pools     []string // user pools whose tokens are taken (any of); empty for every pool
	checks    []string // Go checks the middleware runs once the route allows
}

// Reason says why a Decision went the way it did; its values are stable codes for logs and
// problem bodies.
type Reason string

// The reasons of a Decision.
const (
	ReasonPublic                 Reason = "public"                  // public route: no token needed
	ReasonAllowed                Reason = "allowed"                 // every requirement held
	ReasonAuthenticationRequired Reason = "authentication_required" // a token is needed and there is none
	ReasonNoRoute                Reason = "no_route"                // no route matched and the default is deny
	ReasonInvalidTokenUse        Reason = "invalid_token_use"       // access token where an ID token is needed, or the reverse
	ReasonInvalidClient          Reason = "invalid_client"          // the token's client is not in the route's clients
	ReasonInsufficientScope      Reason = "insufficient_scope"      // the token lacks the route's scopes
	ReasonNotInGroup             Reason = "not_in_group"            // the user is not in the route's groups
	ReasonClaimMismatch          Reason = "claim_mismatch"          // a claim condition failed
	ReasonWrongPool              Reason = "wrong_pool"              // the token is of a user pool the route does not take
	ReasonCheckFailed            Reason = "check_failed"            // a check of the route's checks (WithCheck) refused the request
	ReasonMisconfigured          Reason = "misconfigured"           // the route needs a check the middleware does not have (500)

	// The middleware's own outcomes, for a token it could not get verified; Decide, which
	// is given verified claims, never returns them.
	ReasonInvalidToken    Reason = "invalid_token"    // the token failed verification (Denial.TokenError says why)
	ReasonKeysUnavailable Reason = "keys_unavailable" // the pool's keys cannot be had: the token cannot be judged now
	// ReasonRevocationUnavailable: the revocation list, failing closed, cannot tell
	// whether the token is revoked: it cannot be judged now (503).
	ReasonRevocationUnavailable Reason = "revocation_unavailable"
)

// Decision is what the policy says about one request.
type Decision struct {
	// Route is the matched route pattern; empty when no route matched.
	Route string
	// Allow reports whether the request may proceed.
	Allow bool
	// Status is the HTTP status the middleware answers: 200 when allowed, else 401 or 403.
	Status int
	// Reason is the stable code of the outcome.
	Reason Reason
	// Detail explains a denial in words safe to log: requirement names, never claim values.
	Detail string
	// Scopes are the scopes the route needs, when Reason is ReasonInsufficientScope.
	Scopes []string
	// Checks are the route's checks (its checks: list), when Allow: the middleware runs
	// them, with the functions registered by WithCheck, before the request proceeds.
	// Decide does not run them.
	Checks []string
}

// Load reads and compiles the policy file at path. An OpenAPI document it imports is
// resolved relative to the file's directory.
func Load(path string) (*Policy, error) {
	return load(path, diskSource())
}

// LoadFS reads and compiles the policy file name of fsys, such as an [embed.FS]. An
// OpenAPI document it imports is resolved relative to name's directory in fsys.
func LoadFS(fsys fs.FS, name string) (*Policy, error) {
	return load(name, fsSource(fsys))
}

// load reads the policy at name and the documents it imports from src, each file once.
func load(name string, src source) (*Policy, error) {
	data, err := src.read(name)
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	return parse(data, name, src)
}

// Parse compiles a policy document. name appears in error positions ("name:line:col").
// Parse reads no file: a document that imports an OpenAPI document is an error; use
// [Load] or [LoadFS], which read it. Every problem found is reported in one *LoadError.
func Parse(data []byte, name string) (*Policy, error) {
	return parse(data, name, noFiles())
}

func parse(data []byte, name string, src source) (*Policy, error) {
	spec, errs := decodeFile(data, name)
	if len(errs) > 0 {
		return nil, &LoadError{Errs: errs}
	}
	d := &decoder{file: name}
	routes := spec.routes
	if spec.openapi != nil {
		file, err := src.resolve(name, spec.openapi.file)
		if err != nil {
			d.errorf(spec.openapi.node, "openapi: %v", err)
			return nil, &LoadError{Errs: d.errs}
		}
		imported, err := importOpenAPI(file, spec.openapi.scheme, src.read)
		if err != nil {
			d.errorf(spec.openapi.node, "%v", err)
			return nil, &LoadError{Errs: d.errs}
		}
		// Routes written in the file override imported ones with the same pattern.
		written := map[string]bool{}
		for _, r := range routes {
			written[r.pattern] = true
		}
		var merged []routeSpec
		for _, r := range imported {
			if !written[r.pattern] {
				merged = append(merged, r)
			}
		}
		routes = append(merged, routes...)
	}
	p := &Policy{
		name:     name,
		mux:      http.NewServeMux(),
		byRoute:  make(map[string]*route, len(routes)),
		def:      spec.def,
		tokenUse: spec.tokenUse,
	}
	var registered []routeSpec
	for _, rs := range routes {
		r, ok := d.compileRoute(rs, spec.tokenUse)
		if !ok {
			continue
		}
		if err := register(p.mux, rs.pattern, routeHandler{r}); err != nil {
			d.patternError(rs, err, registered)
			continue
		}
		registered = append(registered, rs)
		if host := patternHost(rs.pattern); host != "" && r.public {
			p.warnings = append(p.warnings, d.positioned(rs, fmt.Sprintf(
				"public route %q is host-scoped: it makes every request whose Host header is %s public "+
					"(the header is the client's to choose), and it protects nothing if the service's router "+
					"does not route by host the same way; write the route without a host unless the router has the same pattern",
				rs.pattern, host)))
		}
		p.byRoute[rs.pattern] = r
		p.routes = append(p.routes, r)
	}
	if len(d.errs) > 0 {
		return nil, &LoadError{Errs: d.errs}
	}
	return p, nil
}

// patternError reports an invalid pattern, or a conflict naming both routes.
func (d *decoder) patternError(rs routeSpec, err error, registered []routeSpec) {
	for _, other := range registered {
		if conflicts(other.pattern, rs.pattern) {
			d.errorfAt(rs, "route %q conflicts with route %q (%s): both match some requests and neither is more specific",
				rs.pattern, other.pattern, d.where(other))
			return
		}
	}
	d.errorfAt(rs, "invalid route pattern %q: %s", rs.pattern, invalidPatternReason(err))
}

func (d *decoder) where(rs routeSpec) string {
	if rs.node != nil {
		return fmt.Sprintf("line %d", rs.node.Line)
	}
	return "imported from " + rs.imported
}

func (d *decoder) errorfAt(rs routeSpec, format string, args ...any) {
	d.errs = append(d.errs, d.positioned(rs, fmt.Sprintf(format, args...)))
}

// positioned places a message about a route at the route's key, or at the top of the file
// for a route imported from an OpenAPI document.
func (d *decoder) positioned(rs routeSpec, msg string) *Error {
	if rs.node != nil {
		return &Error{File: d.file, Line: rs.node.Line, Column: rs.node.Column, Msg: msg}
	}
	return &Error{File: d.file, Line: 1, Column: 1, Msg: msg + " (imported from " + rs.imported + ")"}
}

func (d *decoder) compileRoute(rs routeSpec, fileTokenUse string) (*route, bool) {
	r := &route{pattern: rs.pattern, public: rs.public, clients: rs.clients, tokenUse: rs.tokenUse,
		pools: rs.pools, checks: rs.checks}
	if rs.node != nil {
		r.source = fmt.Sprintf("%s:%d", d.file, rs.node.Line)
	} else {
		r.source = rs.imported
	}
	if r.tokenUse == "" {
		r.tokenUse = fileTokenUse
	}
	if rs.scopes != nil {
		r.scopesAny, r.scopesAll = rs.scopes.any, rs.scopes.all
	}
	if rs.groups != nil {
		r.groupsAny, r.groupsAll = rs.groups.any, rs.groups.all
	}
	wildcards := patternWildcards(rs.pattern)
	ok := true
	for _, cs := range rs.claims {
		for _, op := range cs.ops {
			c, good := d.compileCondition(cs.name, op, wildcards, &r.params)
			ok = ok && good
			r.conds = append(r.conds, c)
		}
	}
	return r, ok
}

// Checks returns the names of the checks the policy's routes name (checks:), sorted: the
// ones the middleware must have, registered with WithCheck.
func (p *Policy) Checks() []string {
	var out []string
	for _, r := range p.routes {
		for _, c := range r.checks {
			if !slices.Contains(out, c) {
				out = append(out, c)
			}
		}
	}
	slices.Sort(out)
	return out
}

// missingChecks lists, for each route, the checks it names that registered lacks, as
// errors located at the route. A nil policy names none.
func (p *Policy) missingChecks(registered func(string) bool) []error {
	if p == nil {
		return nil
	}
	var errs []error
	for _, r := range p.routes {
		for _, c := range r.checks {
			if !registered(c) {
				errs = append(errs, fmt.Errorf("%s: route %q: check %q is not registered (policy.WithCheck)", r.source, r.pattern, c))
			}
		}
	}
	return errs
}

// Name returns the name the policy was parsed with (its file path for Load).
func (p *Policy) Name() string { return p.name }

// Warnings returns what the policy allows that is likely not meant, each at its route's
// position: today, public routes scoped to a host. A route pattern with a host
// ("api.example.com/") matches only requests whose Host header names that host; a
// public one makes every such request public, whatever the service's router does with it.
func (p *Policy) Warnings() []*Error { return slices.Clone(p.warnings) }

// Routes returns the route patterns, imported routes first, then in file order.
func (p *Policy) Routes() []string {
	out := make([]string, len(p.routes))
	for i, r := range p.routes {
		out[i] = r.pattern
	}
	return out
}

// match finds the route the ServeMux routes r to. A request the ServeMux would redirect
// (unclean path, missing trailing slash) gets the route of the redirect's target.
func (p *Policy) match(r *http.Request) *route {
	h, pattern := p.mux.Handler(r)
	if rh, ok := h.(routeHandler); ok {
		return rh.r
	}
	if pattern != "" {
		return p.byRoute[pattern]
	}
	return nil
}

// IsPublic reports whether the request's route is public, so that no token is looked at.
func (p *Policy) IsPublic(r *http.Request) bool {
	rt := p.match(r)
	return rt != nil && rt.public
}

// Decide says whether a request with the given verified claims (nil when the request
// carries no token) may proceed, and why.
func (p *Policy) Decide(r *http.Request, c *cognito.Claims) Decision {
	return p.decide(r, p.match(r), c)
}

// decideWithoutToken makes the decisions that need no token, so that the middleware
// makes them before looking at one: a public route is allowed, and under default deny a
// request no route matches is refused. ok is false when the caller's claims are needed.
func (p *Policy) decideWithoutToken(rt *route) (d Decision, ok bool) {
	switch {
	case rt != nil && rt.public:
		return Decision{Route: rt.pattern, Allow: true, Status: http.StatusOK, Reason: ReasonPublic}, true
	case rt == nil && p.def == "deny":
		return Decision{Status: http.StatusForbidden, Reason: ReasonNoRoute, Detail: "no route matches the request"}, true
	}
	return Decision{}, false
}

func (p *Policy) decide(r *http.Request, rt *route, c *cognito.Claims) Decision {
	if d, ok := p.decideWithoutToken(rt); ok {
		return d
	}
	if rt == nil { // default: authenticated
		if c == nil {
			return Decision{Status: http.StatusUnauthorized, Reason: ReasonAuthenticationRequired, Detail: "a bearer token is required"}
		}
		if !tokenUseOK(p.tokenUse, c) {
			return Decision{Status: http.StatusForbidden, Reason: ReasonInvalidTokenUse,
				Detail: "the default requires token_use " + p.tokenUse}
		}
		return Decision{Allow: true, Status: http.StatusOK, Reason: ReasonAllowed}
	}
	d := Decision{Route: rt.pattern, Status: http.StatusForbidden}
	switch {
	case c == nil:
		d.Status, d.Reason, d.Detail = http.StatusUnauthorized, ReasonAuthenticationRequired, "a bearer token is required"
	case len(rt.pools) > 0 && !slices.Contains(rt.pools, c.UserPoolID):
		d.Reason, d.Detail = ReasonWrongPool, "the route requires a token of user pool "+describeSet(rt.pools, nil)
	case !tokenUseOK(rt.tokenUse, c):
		d.Reason, d.Detail = ReasonInvalidTokenUse, "the route requires token_use "+rt.tokenUse
	case len(rt.clients) > 0 && !slices.Contains(rt.clients, c.ClientID):
		d.Reason, d.Detail = ReasonInvalidClient, "the token's client is not allowed on this route"
	case !scopesOK(rt, c):
		d.Reason, d.Scopes = ReasonInsufficientScope, neededScopes(rt, c)
		d.Detail = "the route requires scope " + describeSet(rt.scopesAny, rt.scopesAll)
	case !groupsOK(rt, c):
		d.Reason, d.Detail = ReasonNotInGroup, "the route requires group "+describeSet(rt.groupsAny, rt.groupsAll)
	default:
		var params []string
		if len(rt.params) > 0 {
			var ok bool
			var probe *pathProbe
			params, ok, probe = p.pathValues(r, rt)
			defer p.releaseProbe(probe)
			if !ok {
				d.Reason, d.Detail = ReasonClaimMismatch, "the request does not reach the route's handler with its path wildcards"
				return d
			}
		}
		for i := range rt.conds {
			if !rt.conds[i].holds(c, params) {
				d.Reason, d.Detail = ReasonClaimMismatch, rt.conds[i].describe()
				return d
			}
		}
		d.Allow, d.Status, d.Reason, d.Checks = true, http.StatusOK, ReasonAllowed, rt.checks
	}
	return d
}

func tokenUseOK(want string, c *cognito.Claims) bool {
	return want == "any" || want == string(c.TokenUse)
}

func scopesOK(rt *route, c *cognito.Claims) bool {
	for _, s := range rt.scopesAll {
		if !c.HasScope(s) {
			return false
		}
	}
	return len(rt.scopesAny) == 0 || slices.ContainsFunc(rt.scopesAny, c.HasScope)
}

func groupsOK(rt *route, c *cognito.Claims) bool {
	for _, g := range rt.groupsAll {
		if !c.InGroup(g) {
			return false
		}
	}
	return len(rt.groupsAny) == 0 || slices.ContainsFunc(rt.groupsAny, c.InGroup)
}

// neededScopes are the scopes to name in the insufficient_scope challenge: the missing
// "all" scopes, or the "any" alternatives when none of them is held.
func neededScopes(rt *route, c *cognito.Claims) []string {
	var out []string
	for _, s := range rt.scopesAll {
		if !c.HasScope(s) {
			out = append(out, s)
		}
	}
	if len(rt.scopesAny) > 0 && !slices.ContainsFunc(rt.scopesAny, c.HasScope) {
		out = append(out, rt.scopesAny...)
	}
	return out
}

func describeSet(anyOf, allOf []string) string {
	var parts []string
	if len(allOf) > 0 {
		parts = append(parts, "all of ["+strings.Join(allOf, " ")+"]")
	}
	if len(anyOf) > 0 {
		parts = append(parts, "any of ["+strings.Join(anyOf, " ")+"]")
	}
	return strings.Join(parts, " and ")
}
