package cognito

import (
	"log/slog"
	"slices"
	"strings"
	"time"
)

// TokenUse is the kind of Cognito token: the token_use claim.
type TokenUse string

// The token uses a JWTAuthorizer can require.
const (
	TokenUseAccess TokenUse = "access" // access tokens (the default)
	TokenUseID     TokenUse = "id"     // ID tokens
	TokenUseAny    TokenUse = "any"    // either
)

// Claims are the verified claims of a Cognito access or ID token.
//
// Claims returned by [JWTAuthorizer.Verify] may be shared with other callers that
// verified the same token: treat them, their slices and the values of [Claims.Get] as
// read-only.
type Claims struct {
	Sub           string   // sub: the user's (or, for client credentials, the client's) ID
	Username      string   // username (access) or cognito:username (ID)
	Email         string   // email (ID tokens)
	EmailVerified bool     // email_verified (ID tokens)
	Name          string   // name (ID tokens)
	ClientID      string   // client_id (access) or aud (ID): the app client
	TokenUse      TokenUse // token_use: TokenUseAccess or TokenUseID once verified
	Issuer        string   // iss
	// UserPoolID is the configured pool the token verified for (its
	// JWTAuthorizerConfig.UserPoolID): with several pools, it tells tenants apart. Set by
	// Verify, not read from a claim; empty in Claims from NewClaims.
	UserPoolID string
	JTI        string // jti
	// OriginJTI is origin_jti: the same for every token of one sign-in session (Cognito
	// adds it when token revocation is enabled on the app client); empty otherwise.
	OriginJTI string
	Scopes    []string // scope, split on spaces (access tokens)
	Groups    []string // cognito:groups
	Audience  []string // aud (ID tokens)
	IssuedAt  time.Time
	AuthTime  time.Time
	NotBefore time.Time // zero when the token has no nbf
	// expiresAt is the exp claim, read through ExpiresAt: one name for the expiry across
	// Claims and Token.
	expiresAt time.Time

	// idHashes are quickHash of JTI, OriginJTI, Sub and ClientID, set by Verify before the
	// claims are shared (hashed says so), so that a revocation list asked about a cached
	// token hashes nothing.
	idHashes [4]uint64
	hashed   bool

	// raw holds every claim as decoded from JSON (strings, float64 numbers, bools,
	// []any, map[string]any), including custom:* attributes and unknown claims.
	raw map[string]any
	// lazy, when set, decodes raw on first use instead (Verify's fast path, scan.go).
	lazy *lazyClaims
}

// NewClaims returns the Claims of a decoded token payload, with the typed fields filled
// from raw exactly as Verify fills them; a claim of the wrong JSON type (number sub,
// string exp) is an error matching ErrMalformedToken. It verifies nothing: it is for tests
// and for policies evaluated on claims that were verified elsewhere. Claims keeps raw.
func NewClaims(raw map[string]any) (*Claims, error) {
	if raw == nil {
		raw = map[string]any{}
	}
	return newClaimsFromPayload(raw)
}

// ExpiresAt returns when the token expires (the exp claim).
func (c *Claims) ExpiresAt() time.Time { return c.expiresAt }

// HasScope reports whether the token was granted scope (compared exactly).
func (c *Claims) HasScope(scope string) bool { return slices.Contains(c.Scopes, scope) }

// InGroup reports whether the token's user is in group.
func (c *Claims) InGroup(group string) bool { return slices.Contains(c.Groups, group) }

// Get returns the claim called name as decoded from JSON: a string, a float64, a bool,
// a []any or a map[string]any. Custom attributes are "custom:<name>".
func (c *Claims) Get(name string) (any, bool) {
	v, ok := c.rawClaims()[name]
	return v, ok
}

// Raw returns every claim, as decoded from JSON. Do not modify it.
func (c *Claims) Raw() map[string]any { return c.rawClaims() }

func (c *Claims) rawClaims() map[string]any {
	if c.lazy != nil {
		return c.lazy.get()
	}
	return c.raw
}

// LogValue keeps claim values out of logs: only the token use and the client ID, which
// identify the caller without personal data, are shown.
func (c *Claims) LogValue() slog.Value {
	return slog.GroupValue(slog.String("token_use", string(c.TokenUse)), slog.String("client_id", c.ClientID))
}

// claimTable lists every claim that Claims has a typed field for, with the JSON shape it
// must have and where it goes. It is the only place a claim is named: Verify's fast path
// (scanClaims) and the general path (newClaimsFromPayload) are both driven by it, so a
// claim added here is read alike by both, and TestClaimTableCoversClaims fails for a
// Claims field that no row fills. The order is the order the general path checks claims
// in, which decides the claim an error names when several are malformed.
var claimTable = [...]claimDef{
	{name: "sub", kind: claimString, set: func(c *Claims, v claimValue) { c.Sub = v.str }},
	{name: "iss", kind: claimString, set: func(c *Claims, v claimValue) { c.Issuer = v.str }},
	{name: "token_use", kind: claimString, set: func(c *Claims, v claimValue) { c.TokenUse = TokenUse(v.str) }},
	{name: "email", kind: claimString, set: func(c *Claims, v claimValue) { c.Email = v.str }},
	{name: "name", kind: claimString, set: func(c *Claims, v claimValue) { c.Name = v.str }},
	{name: "jti", kind: claimString, set: func(c *Claims, v claimValue) { c.JTI = v.str }},
	{name: "origin_jti", kind: claimString, set: func(c *Claims, v claimValue) { c.OriginJTI = v.str }},
	{name: "scope", kind: claimString, set: func(c *Claims, v claimValue) { c.Scopes = splitScope(v.str) }},
	// Cognito names the user "username" in access tokens and "cognito:username" in ID
	// tokens, and the client "client_id" in access tokens and "aud" in ID tokens; all are
	// type-checked whatever the token says it is, and finish picks by token_use.
	{name: "username", kind: claimString, keep: keptUsername},
	{name: "cognito:username", kind: claimString, keep: keptCognitoUsername},
	{name: "client_id", kind: claimString, keep: keptClientID},
	{name: "cognito:groups", kind: claimStrings, set: func(c *Claims, v claimValue) { c.Groups = v.strs }},
	{name: "aud", kind: claimAudience, set: func(c *Claims, v claimValue) { c.Audience = v.strs }},
	{name: "email_verified", kind: claimBool, set: func(c *Claims, v claimValue) { c.EmailVerified = v.flag }},
	{name: "exp", kind: claimDate, set: func(c *Claims, v claimValue) { c.expiresAt = v.time }},
	{name: "iat", kind: claimDate, set: func(c *Claims, v claimValue) { c.IssuedAt = v.time }},
	{name: "nbf", kind: claimDate, set: func(c *Claims, v claimValue) { c.NotBefore = v.time }},
	{name: "auth_time", kind: claimDate, set: func(c *Claims, v claimValue) { c.AuthTime = v.time }},
}

// claimDef is a row of claimTable.
type claimDef struct {
	name string
	kind claimKind
	// set stores the claim in Claims. It is nil for a claim kept for finish instead,
	// because the field it fills depends on another claim.
	set  func(c *Claims, v claimValue)
	keep keptClaim
}

// claimKind is the JSON shape a claim in claimTable must have. A claim of another shape
// is ErrMalformedToken on the general path (and sends the fast path to it).
type claimKind uint8

const (
	claimString   claimKind = iota + 1 // a string
	claimStrings                       // an array of strings
	claimAudience                      // a string or an array of strings (aud, RFC 7519 section 4.1.3)
	// claimBool is true or false, or the string "true" or "false": a bool in ID tokens,
	// but the string form is what userInfo answers, and some identity-provider mappings
	// put it in tokens too.
	claimBool
	claimDate // an RFC 7519 NumericDate: seconds since 1970, fractions allowed
)

// want says what a claim of kind k must be, in an error naming the claim.
func (k claimKind) want() string {
	switch k {
	case claimStrings:
		return "an array of strings"
	case claimAudience:
		return "a string or an array of strings"
	case claimBool:
		return "a boolean"
	case claimDate:
		return "a number of seconds since 1970"
	}
	return "a string"
}

// claimValue is a decoded claim: the field its kind names holds it (str for claimString,
// strs for claimStrings and claimAudience, flag for claimBool, time for claimDate).
type claimValue struct {
	str  string
	strs []string
	flag bool
	time time.Time
}

// keptClaim numbers the claims finish reads, which are kept aside while decoding.
type keptClaim uint8

const (
	keptUsername keptClaim = iota + 1
	keptCognitoUsername
	keptClientID
	keptClaims // how many, plus one: 0 is not kept
)

// claimDecoder collects one payload's claims, on either path. It lives on the caller's
// stack: only its Claims, already on the heap, is passed to the table's set functions.
type claimDecoder struct {
	c    *Claims
	kept [keptClaims]string
	seen uint32 // bit i: claimTable[i] was present
}

// store records claimTable[i] with value v. Of duplicate claims the last one counts, as
// encoding/json makes it.
func (d *claimDecoder) store(i int, v claimValue) {
	def := &claimTable[i]
	d.seen |= 1 << i
	if def.set != nil {
		def.set(d.c, v)
	} else {
		d.kept[def.keep] = v.str
	}
}

// has reports whether the payload had the claim called name (a claimTable row).
func (d *claimDecoder) has(name string) bool {
	i := claimIndex(name)
	return i >= 0 && d.seen&(1<<i) != 0
}

// finish derives the fields that depend on several claims, once every claim is stored.
func (d *claimDecoder) finish() *Claims {
	c := d.c
	if c.TokenUse == TokenUseID {
		c.Username = d.kept[keptCognitoUsername]
		if len(c.Audience) > 0 {
			c.ClientID = c.Audience[0]
		}
	} else {
		c.Username = d.kept[keptUsername]
		c.ClientID = d.kept[keptClientID]
	}
	return c
}

// splitScope splits a scope claim on spaces only: scope tokens are space-delimited and
// contain no whitespace (RFC 6749 §3.3), so in "a\tb" the tab is part of one scope
// name, not a separator that would grant b. Runs of spaces separate like one. An empty
// scope is nil, as an absent one.
func splitScope(scope string) []string {
	if scope == "" {
		return nil
	}
	out := make([]string, 0, strings.Count(scope, " ")+1)
	for s := range strings.SplitSeq(scope, " ") {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}
