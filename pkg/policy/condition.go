package policy

import (
	"fmt"
	"regexp"
	"slices"

	"gopkg.in/yaml.v3"

	"github.com/cognitokit/cognitokit/pkg/cognito"
)

// condition is one compiled claim operator. Values are kept in the types encoding/json
// gives claims (string, float64, bool), so evaluation compares without converting.
type condition struct {
	claim string
	op    string
	value any            // equals, contains
	list  []any          // one_of
	want  bool           // present
	re    *regexp.Regexp // matches
	param int            // equals_param: index of the wildcard in the route's params
	name  string         // equals_param: the wildcard's name
}

// scalar decodes a YAML scalar as a claim value: a string, a bool or a float64.
func (d *decoder) scalar(n *yaml.Node, what string) (any, bool) {
	if n.Kind != yaml.ScalarNode {
		d.errorf(n, "%s must be a string, a boolean or a number, got %s", what, kindName(n))
		return nil, false
	}
	var v any
	switch n.ShortTag() {
	case "!!str":
		return n.Value, true
	case "!!bool":
		var b bool
		if err := n.Decode(&b); err != nil {
			d.errorf(n, "%s: %v", what, err)
			return nil, false
		}
		v = b
	case "!!int", "!!float":
		var f float64
		if err := n.Decode(&f); err != nil {
			d.errorf(n, "%s: %v", what, err)
			return nil, false
		}
		v = f
	default:
		d.errorf(n, "%s must be a string, a boolean or a number, got %s", what, kindName(n))
		return nil, false
	}
	return v, true
}

// compileCondition checks an operator's operand; wildcards are the names of the pattern's
// path wildcards, which equals_param must name, and params those the route's conditions
// compare so far, to which it adds.
func (d *decoder) compileCondition(claim string, op opSpec, wildcards []string, params *[]string) (condition, bool) {
	c := condition{claim: claim, op: op.op}
	what := fmt.Sprintf("claim %q %s", claim, op.op)
	switch op.op {
	case "equals", "contains":
		v, ok := d.scalar(op.value, what)
		c.value = v
		return c, ok
	case "one_of":
		if op.value.Kind != yaml.SequenceNode || len(op.value.Content) == 0 {
			d.errorf(op.value, "%s must be a non-empty list", what)
			return c, false
		}
		ok := true
		for _, item := range op.value.Content {
			v, good := d.scalar(item, what+" entries")
			ok = ok && good
			c.list = append(c.list, v)
		}
		return c, ok
	case "present":
		b, ok := d.boolean(op.value, what)
		c.want = b
		return c, ok
	case "matches":
		s, ok := d.str(op.value, what)
		if !ok {
			return c, false
		}
		re, err := regexp.Compile(s)
		if err != nil {
			d.errorf(op.value, "%s: invalid RE2 regular expression: %v", what, err)
			return c, false
		}
		c.re = re
		return c, true
	case "equals_param":
		s, ok := d.str(op.value, what)
		if !ok {
			return c, false
		}
		if slices.Contains(wildcards, s) {
			c.name = s
			c.param = slices.Index(*params, s)
			if c.param < 0 {
				c.param = len(*params)
				*params = append(*params, s)
			}
			return c, true
		}
		d.errorf(op.value, "%s: the route pattern has no wildcard {%s}", what, s)
		return c, false
	}
	d.errorf(op.node, "unknown operator %q", op.op)
	return c, false
}

// holds reports whether the claims satisfy the condition; params are the values of the
// route's wildcards for the request, as its handler reads them.
func (c *condition) holds(claims *cognito.Claims, params []string) bool {
	v, present := claims.Get(c.claim)
	switch c.op {
	case "present":
		return present == c.want
	case "equals":
		return present && v == c.value
	case "one_of":
		return present && slices.Contains(c.list, v)
	case "contains":
		items, ok := v.([]any)
		return ok && slices.Contains(items, c.value)
	case "matches":
		s, ok := v.(string)
		return ok && c.re.MatchString(s)
	case "equals_param":
		s, ok := v.(string)
		if !ok {
			return false
		}
		return c.param < len(params) && params[c.param] != "" && s == params[c.param]
	}
	return false
}

// describe names the condition for a denial, without any claim value.
func (c *condition) describe() string {
	if c.op == "equals_param" {
		return fmt.Sprintf("claim %q must equal path wildcard {%s}", c.claim, c.name)
	}
	return fmt.Sprintf("claim %q does not satisfy %s", c.claim, c.op)
}
