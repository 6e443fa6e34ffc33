package forwardauth

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/cognitokit/cognitokit/pkg/cognito"
)

// IdentityHeader is a header an allowed answer carries for the upstream: Name, with the
// value of Claim.
//
// Claim is a claim name as in the token ("sub", "email", "custom:tenant"), or one of
// the names that read what the SDK derived: "username" (username of access tokens,
// cognito:username of ID tokens), "client_id" (client_id of access tokens, aud of ID
// tokens) and "pool" (the user pool ID, from iss). A string claim is sent as is; a
// number or boolean as its JSON text; a list of strings joined with commas.
type IdentityHeader struct {
	Name  string
	Claim string
}

// DefaultHeaders returns the identity headers of a Decider configured with none: the
// caller's sub, email, username, groups, scopes, client, token use and pool, under the
// X-Auth-Request-* names oauth2-proxy made usual.
func DefaultHeaders() []IdentityHeader {
	return []IdentityHeader{
		{"X-Auth-Request-User", "sub"},
		{"X-Auth-Request-Email", "email"},
		{"X-Auth-Request-Username", "username"},
		{"X-Auth-Request-Groups", "cognito:groups"},
		{"X-Auth-Request-Scopes", "scope"},
		{"X-Auth-Request-Client-Id", "client_id"},
		{"X-Auth-Request-Token-Use", "token_use"},
		{"X-Auth-Request-Pool", "pool"},
	}
}

// ParseIdentityHeader parses "NAME=CLAIM".
func ParseIdentityHeader(s string) (IdentityHeader, error) {
	name, claim, ok := strings.Cut(s, "=")
	h := IdentityHeader{Name: strings.TrimSpace(name), Claim: strings.TrimSpace(claim)}
	if !ok {
		return h, fmt.Errorf("identity header %q: want NAME=CLAIM", s)
	}
	return h, h.validate()
}

func (h IdentityHeader) validate() error {
	if !isToken(h.Name) {
		return fmt.Errorf("identity header %q: the name is not a valid header name", h.Name)
	}
	if h.Claim == "" {
		return fmt.Errorf("identity header %q: the claim is empty", h.Name)
	}
	return nil
}

// maxIdentityValue bounds one identity header value: nginx's default proxy buffer for
// the auth answer's headers is 4 or 8 KB, and a value longer than that fails the request
// at the proxy instead of passing.
const maxIdentityValue = 2 << 10

// value is the header value of h for c; ok is false when the claim is absent or its
// value cannot be a header value.
func (h IdentityHeader) value(c *cognito.Claims) (v string, ok bool) {
	switch h.Claim {
	case "sub":
		v = c.Sub
	case "username":
		v = c.Username
	case "client_id":
		v = c.ClientID
	case "token_use":
		v = string(c.TokenUse)
	case "scope":
		v = strings.Join(c.Scopes, " ")
	case "cognito:groups":
		var good bool
		if v, good = joinList(c.Groups); !good {
			return "", false
		}
	case "pool":
		v = c.Issuer[strings.LastIndexByte(c.Issuer, '/')+1:]
	default:
		raw, found := c.Get(h.Claim)
		if !found {
			return "", false
		}
		if v, ok = claimText(raw); !ok {
			return "", false
		}
	}
	return v, v != "" && safeValue(v)
}

// claimText renders a JSON claim value as header text.
func claimText(raw any) (string, bool) {
	switch x := raw.(type) {
	case string:
		return x, true
	case bool:
		return strconv.FormatBool(x), true
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), true
	case []any:
		list := make([]string, len(x))
		for i, e := range x {
			s, ok := e.(string)
			if !ok {
				return "", false
			}
			list[i] = s
		}
		return joinList(list)
	}
	return "", false
}

// joinList joins with commas; an element with a comma would read as two, so the list
// is refused.
func joinList(list []string) (string, bool) {
	for _, s := range list {
		if strings.IndexByte(s, ',') >= 0 {
			return "", false
		}
	}
	return strings.Join(list, ","), true
}

// safeValue reports whether v can be sent as a header value unchanged: printable ASCII
// and tab only. CR, LF and NUL would end the header or the message (a claim value an
// attacker registered could otherwise add headers); bytes above 0x7f are mangled or
// refused by some proxies, so the upstream would see another value than the claim's.
func safeValue(v string) bool {
	if len(v) > maxIdentityValue {
		return false
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; (c < ' ' && c != '\t') || c >= 0x7f {
			return false
		}
	}
	return true
}

// setIdentity sets the identity headers for c on h (their names canonical, as New makes
// them); a header whose value is absent or refused is not set, and its name is returned
// in refused when the claim was present.
func setIdentity(h http.Header, headers []IdentityHeader, c *cognito.Claims) (refused []string) {
	values := make([]string, len(headers)) // one allocation for every header's value slice
	for i, ih := range headers {
		v, ok := ih.value(c)
		if ok {
			values[i] = v
			h[ih.Name] = values[i : i+1 : i+1]
			continue
		}
		if _, present := c.Get(ih.Claim); present {
			refused = append(refused, ih.Name)
		}
	}
	return refused
}

func (h IdentityHeader) canonical() string { return http.CanonicalHeaderKey(h.Name) }
