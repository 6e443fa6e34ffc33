package policy

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Error is a problem in a policy file, located at a line and column.
type Error struct {
	File   string
	Line   int
	Column int
	Msg    string
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Column, e.Msg)
}

// LoadError lists every problem found in a policy file. Errors.As finds it; each entry is
// an *Error with its file:line:col.
type LoadError struct {
	Errs []*Error
}

func (e *LoadError) Error() string {
	msgs := make([]string, len(e.Errs))
	for i, err := range e.Errs {
		msgs[i] = err.Error()
	}
	return "policy: " + strings.Join(msgs, "\npolicy: ")
}

// Unwrap returns the located errors.
func (e *LoadError) Unwrap() []error {
	out := make([]error, len(e.Errs))
	for i, err := range e.Errs {
		out[i] = err
	}
	return out
}

// The schema, version 1. Every value keeps the node it came from, for errors found after
// decoding (conflicting patterns, unknown path wildcards).

type fileSpec struct {
	version  int
	def      string // "deny" or "authenticated"
	defNode  *yaml.Node
	tokenUse string
	openapi  *openapiSpec
	routes   []routeSpec
}

type openapiSpec struct {
	file, scheme string
	node         *yaml.Node
}

type routeSpec struct {
	pattern  string
	node     *yaml.Node // the key
	public   bool
	clients  []string
	tokenUse string
	scopes   *setSpec
	groups   *setSpec
	claims   []claimSpec
	pools    []string // pool or pools.any: the user pools whose tokens the route takes
	checks   []string // names of Go checks registered with WithCheck
	imported string   // operation id or "METHOD path" when it came from OpenAPI
}

type setSpec struct {
	any, all []string
}

type claimSpec struct {
	name string
	node *yaml.Node
	ops  []opSpec
}

type opSpec struct {
	op    string
	node  *yaml.Node
	value *yaml.Node
}

// decoder walks the YAML tree, collecting every error instead of stopping at the first.
type decoder struct {
	file string
	errs []*Error
}

func (d *decoder) errorf(n *yaml.Node, format string, args ...any) {
	line, col := 0, 0
	if n != nil {
		line, col = n.Line, n.Column
	}
	d.errs = append(d.errs, &Error{File: d.file, Line: line, Column: col, Msg: fmt.Sprintf(format, args...)})
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	}
	switch n.ShortTag() {
	case "!!null":
		return "null"
	case "!!bool":
		return "a boolean"
	case "!!int", "!!float":
		return "a number"
	}
	return "a string"
}

// mapping iterates a mapping node's pairs in order, reporting duplicate keys (naming both
// lines) and non-string keys.
func (d *decoder) mapping(n *yaml.Node, what string, each func(key string, k, v *yaml.Node)) {
	if n.Kind != yaml.MappingNode {
		d.errorf(n, "%s must be a mapping, got %s", what, kindName(n))
		return
	}
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode || k.ShortTag() == "!!null" {
			d.errorf(k, "%s keys must be strings", what)
			continue
		}
		if first, dup := seen[k.Value]; dup {
			d.errorf(k, "duplicate key %q in %s (first at line %d)", k.Value, what, first.Line)
			continue
		}
		seen[k.Value] = k
		each(k.Value, k, v)
	}
}

func (d *decoder) str(n *yaml.Node, what string) (string, bool) {
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str" {
		d.errorf(n, "%s must be a string, got %s", what, kindName(n))
		return "", false
	}
	return n.Value, true
}

func (d *decoder) boolean(n *yaml.Node, what string) (bool, bool) {
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" {
		d.errorf(n, "%s must be true or false, got %s", what, kindName(n))
		return false, false
	}
	b, err := strconv.ParseBool(n.Value)
	if err != nil {
		// YAML 1.1 spellings (yes, on) are not booleans in yaml.v3; anything tagged !!bool parses.
		d.errorf(n, "%s must be true or false", what)
		return false, false
	}
	return b, true
}

func (d *decoder) strings(n *yaml.Node, what string) ([]string, bool) {
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, "%s must be a list of strings, got %s", what, kindName(n))
		return nil, false
	}
	if len(n.Content) == 0 {
		d.errorf(n, "%s must not be empty", what)
		return nil, false
	}
	out := make([]string, 0, len(n.Content))
	ok := true
	for _, item := range n.Content {
		s, good := d.str(item, what+" entries")
		if good && s == "" {
			d.errorf(item, "%s entries must not be empty", what)
			good = false
		}
		ok = ok && good
		out = append(out, s)
	}
	return out, ok
}

func (d *decoder) oneOf(n *yaml.Node, what string, allowed ...string) (string, bool) {
	s, ok := d.str(n, what)
	if !ok {
		return "", false
	}
	for _, a := range allowed {
		if s == a {
			return s, true
		}
	}
	d.errorf(n, "%s must be one of %s, got %q", what, strings.Join(allowed, ", "), s)
	return "", false
}

var tokenUses = []string{"access", "id", "any"}

// decodeFile decodes a policy document strictly.
func decodeFile(data []byte, file string) (*fileSpec, []*Error) {
	d := &decoder{file: file}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		var te *yaml.TypeError
		line := 0
		msg := err.Error()
		if errors.As(err, &te) && len(te.Errors) > 0 {
			msg = te.Errors[0]
		}
		// yaml.v3 syntax errors read "yaml: line N: message".
		if rest, ok := strings.CutPrefix(msg, "yaml: line "); ok {
			if num, after, ok := strings.Cut(rest, ": "); ok {
				if n, err := strconv.Atoi(num); err == nil {
					line, msg = n, after
				}
			}
		}
		d.errs = append(d.errs, &Error{File: file, Line: line, Column: 1, Msg: "invalid YAML: " + strings.TrimPrefix(msg, "yaml: ")})
		return nil, d.errs
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		d.errs = append(d.errs, &Error{File: file, Line: 1, Column: 1, Msg: "empty policy file: version and routes are required"})
		return nil, d.errs
	}
	root := doc.Content[0]
	spec := &fileSpec{def: "deny", tokenUse: "access"}
	var sawVersion, sawRoutes bool
	d.mapping(root, "the policy file", func(key string, k, v *yaml.Node) {
		switch key {
		case "version":
			sawVersion = true
			if v.Kind != yaml.ScalarNode || v.ShortTag() != "!!int" || v.Value != "1" {
				d.errorf(v, "unsupported version %q: this cognitokit reads version 1", v.Value)
				return
			}
			spec.version = 1
		case "default":
			spec.defNode = v
			if s, ok := d.oneOf(v, "default", "deny", "authenticated"); ok {
				spec.def = s
			}
		case "token_use":
			if s, ok := d.oneOf(v, "token_use", tokenUses...); ok {
				spec.tokenUse = s
			}
		case "openapi":
			spec.openapi = d.openapi(v)
		case "routes":
			sawRoutes = true
			d.mapping(v, "routes", func(pattern string, k, v *yaml.Node) {
				if r, ok := d.route(pattern, k, v); ok {
					spec.routes = append(spec.routes, r)
				}
			})
		default:
			d.errorf(k, "unknown key %q (expected version, default, token_use, openapi or routes)", key)
		}
	})
	if root.Kind == yaml.MappingNode {
		if !sawVersion {
			d.errorf(root, "missing version: add \"version: 1\"")
		}
		if !sawRoutes && spec.openapi == nil {
			d.errorf(root, "missing routes")
		}
	}
	return spec, d.errs
}

func (d *decoder) openapi(n *yaml.Node) *openapiSpec {
	o := &openapiSpec{node: n, scheme: ""}
	d.mapping(n, "openapi", func(key string, k, v *yaml.Node) {
		switch key {
		case "file":
			o.file, _ = d.str(v, "openapi.file")
		case "security_scheme":
			o.scheme, _ = d.str(v, "openapi.security_scheme")
		default:
			d.errorf(k, "unknown key %q in openapi (expected file, security_scheme)", key)
		}
	})
	if n.Kind == yaml.MappingNode && (o.file == "" || o.scheme == "") {
		d.errorf(n, "openapi needs both file and security_scheme")
		return nil
	}
	return o
}

func (d *decoder) route(pattern string, k, v *yaml.Node) (routeSpec, bool) {
	r := routeSpec{pattern: pattern, node: k}
	before := len(d.errs)
	var requirement *yaml.Node // the first key other than public, for the public conflict
	var poolKey *yaml.Node     // the pool or pools key, for the conflict between them
	d.mapping(v, fmt.Sprintf("route %q", pattern), func(key string, kk, vv *yaml.Node) {
		if key != "public" && requirement == nil {
			requirement = kk
		}
		switch key {
		case "public":
			r.public, _ = d.boolean(vv, "public")
		case "clients":
			r.clients, _ = d.strings(vv, "clients")
		case "token_use":
			r.tokenUse, _ = d.oneOf(vv, "token_use", tokenUses...)
		case "scopes":
			r.scopes = d.set(vv, "scopes")
		case "groups":
			r.groups = d.set(vv, "groups")
		case "claims":
			d.mapping(vv, "claims", func(name string, ck, cv *yaml.Node) {
				r.claims = append(r.claims, d.claim(name, ck, cv))
			})
		case "pool":
			if poolKey != nil {
				d.errorf(kk, "route %q has both pool and pools (line %d): give one", pattern, poolKey.Line)
				return
			}
			poolKey = kk
			if id, ok := d.str(vv, "pool"); ok && d.poolID(vv, id) {
				r.pools = []string{id}
			}
		case "pools":
			if poolKey != nil {
				d.errorf(kk, "route %q has both pool and pools (line %d): give one", pattern, poolKey.Line)
				return
			}
			poolKey = kk
			r.pools = d.pools(vv)
		case "checks":
			r.checks = d.checks(vv)
		default:
			d.errorf(kk, "unknown key %q in route (expected public, clients, token_use, scopes, groups, claims, pool, pools or checks)", key)
		}
	})
	if r.public && requirement != nil {
		d.errorf(requirement, "route %q is public: %q cannot be combined with public: true", pattern, requirement.Value)
	}
	return r, len(d.errs) == before
}

func (d *decoder) set(n *yaml.Node, what string) *setSpec {
	s := &setSpec{}
	d.mapping(n, what, func(key string, k, v *yaml.Node) {
		switch key {
		case "any":
			s.any, _ = d.strings(v, what+".any")
		case "all":
			s.all, _ = d.strings(v, what+".all")
		default:
			d.errorf(k, "unknown key %q in %s (expected any or all)", key, what)
		}
	})
	if n.Kind == yaml.MappingNode && len(n.Content) == 0 {
		d.errorf(n, "%s needs any or all", what)
	}
	return s
}

var operators = []string{"equals", "one_of", "present", "matches", "contains", "equals_param"}

func (d *decoder) claim(name string, k, v *yaml.Node) claimSpec {
	c := claimSpec{name: name, node: k}
	d.mapping(v, fmt.Sprintf("claim %q", name), func(op string, ok, ov *yaml.Node) {
		known := false
		for _, o := range operators {
			known = known || o == op
		}
		if !known {
			d.errorf(ok, "unknown operator %q for claim %q (expected one of %s)", op, name, strings.Join(operators, ", "))
			return
		}
		c.ops = append(c.ops, opSpec{op: op, node: ok, value: ov})
	})
	if v.Kind == yaml.MappingNode && len(v.Content) == 0 {
		d.errorf(v, "claim %q needs an operator (%s)", name, strings.Join(operators, ", "))
	}
	return c
}

// poolIDPattern is the shape of a user pool ID, "<region>_<id>", loose enough for
// Cognito-compatible servers (as the verifier accepts under cognito.WithEndpoint).
var poolIDPattern = regexp.MustCompile(`^[\w-]+_[0-9A-Za-z]+$`)

// poolID reports whether id, the value of n, is a user pool ID, and says why not.
func (d *decoder) poolID(n *yaml.Node, id string) bool {
	if !poolIDPattern.MatchString(id) {
		d.errorf(n, "%q is not a user pool ID (<region>_<id>, such as us-east-1_AbC123xyz)", id)
		return false
	}
	return true
}

// pools decodes "pools: {any: [...]}". There is no all: a token is of one pool.
func (d *decoder) pools(n *yaml.Node) []string {
	var out []string
	d.mapping(n, "pools", func(key string, k, v *yaml.Node) {
		if key != "any" {
			d.errorf(k, "unknown key %q in pools (expected any: a token is of one pool)", key)
			return
		}
		ids, ok := d.strings(v, "pools.any")
		if !ok {
			return
		}
		for i, id := range ids {
			if d.poolID(v.Content[i], id) {
				out = append(out, id)
			}
		}
	})
	if n.Kind == yaml.MappingNode && len(n.Content) == 0 {
		d.errorf(n, "pools needs any")
	}
	return out
}

// checkNamePattern is the shape of a check name: what WithCheck registers.
var checkNamePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.:-]*$`)

// checks decodes "checks: [name, ...]": names of checks the middleware must have.
func (d *decoder) checks(n *yaml.Node) []string {
	names, ok := d.strings(n, "checks")
	if !ok {
		return nil
	}
	var out []string
	for i, name := range names {
		switch {
		case !checkNamePattern.MatchString(name):
			d.errorf(n.Content[i], "check name %q must be letters, digits and - _ . : (starting with a letter or digit)", name)
		case slices.Contains(out, name):
			d.errorf(n.Content[i], "check %q is listed twice", name)
		default:
			out = append(out, name)
		}
	}
	return out
}
