package cognito

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"math"
	"strings"
	"time"
)

// b64 is the only encoding a part of a compact JWS may use: URL-safe alphabet, no padding,
// no non-zero trailing bits. Strict decoding gives every token exactly one spelling, so the
// verified-token cache cannot be filled with variants of one token.
var b64 = base64.RawURLEncoding.Strict()

// compactJWS is a token split into its three parts, each decoded from base64url; nothing in
// it has been verified.
type compactJWS struct {
	signingInput []byte // "<header>.<payload>", what the signature covers
	header       []byte
	payload      []byte
	signature    []byte
	buf          []byte // holds the four above
}

// splitJWS splits and decodes a compact JWS. It refuses anything but three base64url parts.
// It decodes into scratch when it is large enough (nil is fine): the parts then alias
// scratch, and nothing may keep them once the caller reuses it.
func splitJWS(token string, scratch []byte) (compactJWS, error) {
	if token == "" {
		return compactJWS{}, refuse(ErrMalformedToken, "token is empty")
	}
	first := strings.IndexByte(token, '.')
	if first < 0 {
		return compactJWS{}, notThreeParts()
	}
	second := strings.IndexByte(token[first+1:], '.')
	if second < 0 {
		return compactJWS{}, notThreeParts()
	}
	second += first + 1
	if strings.IndexByte(token[second+1:], '.') >= 0 {
		return compactJWS{}, notThreeParts()
	}
	// The base64 decoder skips CR and LF; a token is one line, so refuse them instead.
	if strings.IndexByte(token, '\n') >= 0 || strings.IndexByte(token, '\r') >= 0 {
		return compactJWS{}, refuse(ErrMalformedToken, "token contains a line break")
	}
	// One buffer for the signing input (copied, so that hashing it allocates nothing) and
	// the three decoded parts, laid out signing input, header, signature, payload.
	h, p, sig := token[:first], token[first+1:second], token[second+1:]
	hn, sn := b64.DecodedLen(len(h)), b64.DecodedLen(len(sig))
	size := second + hn + sn + b64.DecodedLen(len(p))
	buf := scratch[:cap(scratch)]
	if len(buf) < size {
		buf = make([]byte, size)
	}
	buf = buf[:size]
	jws := compactJWS{signingInput: buf[:second:second], buf: buf}
	copy(jws.signingInput, token)
	buf = buf[second:]
	var ok bool
	if jws.header, ok = decodePart(buf[:hn], h); !ok {
		return compactJWS{}, refuse(ErrMalformedToken, "header is not base64url")
	}
	if jws.payload, ok = decodePart(buf[hn+sn:], p); !ok {
		return compactJWS{}, refuse(ErrMalformedToken, "payload is not base64url")
	}
	if jws.signature, ok = decodePart(buf[hn:hn+sn], sig); !ok {
		return compactJWS{}, refuse(ErrMalformedToken, "signature is not base64url")
	}
	return jws, nil
}

// decodePart decodes src into dst and returns the decoded bytes, their capacity capped so
// that appending to them cannot overwrite the next part.
func decodePart(dst []byte, src string) ([]byte, bool) {
	n, err := b64.Decode(dst, []byte(src))
	if err != nil {
		return nil, false
	}
	return dst[:n:n], true
}

func notThreeParts() error {
	return refuse(ErrMalformedToken, "token is not three dot-separated parts")
}

// joseHeader holds the header parameters Verify looks at. Every other parameter is ignored:
// jku, x5u, jwk and x5c in particular are never fetched or used, since keys come only from
// the user pool's JWKS.
type joseHeader struct {
	Alg string `json:"alg"`
	Kid string `json:"kid"`
	// Crit is kept raw only to notice its presence: no critical extension is supported.
	Crit json.RawMessage `json:"crit"`
}

// parseHeader reads alg, kid and crit by their exact names. Header parameter names are
// case-sensitive (RFC 7515 §4), but encoding/json matches struct fields with Unicode case
// folding: a struct decode alone would read {"alg":"none","ALG":"RS256"} as RS256, and
// take "KID" or "\u212aid" (Kelvin sign) for the kid, a reading no other JOSE library
// shares. So the struct decode, which is fast, is used only for headers where it cannot
// be fooled; the others are read by exact name. Of duplicate names the last counts, as
// RFC 7515 §4 allows.
func parseHeader(data []byte) (joseHeader, error) {
	if !isJSONObject(data) {
		return joseHeader{}, errHeaderNotObject()
	}
	if !mayFoldHeaderName(data) {
		var h joseHeader
		if json.Unmarshal(data, &h) != nil {
			return joseHeader{}, errHeaderNotObject()
		}
		return h, nil
	}
	var params map[string]json.RawMessage
	if json.Unmarshal(data, &params) != nil {
		return joseHeader{}, errHeaderNotObject()
	}
	h := joseHeader{Crit: params["crit"]}
	if !headerString(params["alg"], &h.Alg) || !headerString(params["kid"], &h.Kid) {
		return joseHeader{}, errHeaderNotObject()
	}
	return h, nil
}

// mayFoldHeaderName reports whether a header may hold a name that differs from alg, kid
// or crit but that encoding/json would match to one: it has a backslash (an escaped
// name), a byte outside ASCII (a Unicode case fold, such as the Kelvin sign), or an ASCII
// spelling of one of them in another case.
func mayFoldHeaderName(data []byte) bool {
	for i, c := range data {
		switch {
		case c == '\\' || c >= 0x80:
			return true
		case c != '"':
			continue
		}
		rest := data[i+1:]
		for _, name := range [...]string{`alg"`, `kid"`, `crit"`} {
			if len(rest) >= len(name) && bytes.EqualFold(rest[:len(name)], []byte(name)) && string(rest[:len(name)]) != name {
				return true
			}
		}
	}
	return false
}

func errHeaderNotObject() error {
	return refuse(ErrMalformedToken, "header is not a JSON object of string parameters")
}

// headerString reads a string parameter into dst; absent and null leave dst empty.
func headerString(raw json.RawMessage, dst *string) bool {
	return raw == nil || json.Unmarshal(raw, dst) == nil
}

// parsePayload decodes the claims once, into the map Claims.Get serves from.
func parsePayload(data []byte) (map[string]any, error) {
	var raw map[string]any
	if !isJSONObject(data) || json.Unmarshal(data, &raw) != nil || raw == nil {
		return nil, refuse(ErrMalformedToken, "payload is not a JSON object")
	}
	return raw, nil
}

// isJSONObject rejects "null", arrays and scalars, which json.Unmarshal would accept into a
// struct or map without complaint.
func isJSONObject(data []byte) bool {
	data = bytes.TrimLeft(data, " \t\r\n")
	return len(data) > 0 && data[0] == '{'
}

// newClaimsFromPayload fills the typed fields of Claims from the decoded payload. A claim of
// the wrong JSON type is ErrMalformedToken, naming the claim but never its value. It checks
// nothing else: whether the claims are acceptable is checkClaims' job.
func newClaimsFromPayload(raw map[string]any) (*Claims, error) {
	c := &Claims{raw: raw}
	var err error
	str := func(name string, dst *string) {
		if err != nil {
			return
		}
		if v, ok := raw[name]; ok {
			s, isString := v.(string)
			if !isString {
				err = malformedClaim(name, "a string")
				return
			}
			*dst = s
		}
	}
	str("sub", &c.Sub)
	str("iss", &c.Issuer)
	str("token_use", &c.TokenUse)
	str("email", &c.Email)
	str("name", &c.Name)
	str("jti", &c.JTI)
	var scope string
	str("scope", &scope)
	// Cognito names the user "username" in access tokens and "cognito:username" in ID
	// tokens; both are type-checked whatever the token says it is.
	var username, cognitoUsername string
	str("username", &username)
	str("cognito:username", &cognitoUsername)
	var clientID string
	str("client_id", &clientID)
	if err != nil {
		return nil, err
	}
	if c.Groups, err = stringList(raw, "cognito:groups", false); err != nil {
		return nil, err
	}
	if c.Audience, err = stringList(raw, "aud", true); err != nil {
		return nil, err
	}
	if v, ok := raw["email_verified"]; ok {
		// A bool in ID tokens; the string form is what userInfo answers, and some
		// identity-provider mappings put it in tokens too.
		switch v {
		case true, "true":
			c.EmailVerified = true
		case false, "false":
		default:
			return nil, malformedClaim("email_verified", "a boolean")
		}
	}
	for _, d := range [...]struct {
		name string
		dst  *time.Time
	}{{"exp", &c.Expiry}, {"iat", &c.IssuedAt}, {"nbf", &c.NotBefore}, {"auth_time", &c.AuthTime}} {
		if *d.dst, err = numericDate(raw, d.name); err != nil {
			return nil, err
		}
	}
	c.finish(scope, username, cognitoUsername, clientID)
	return c, nil
}

// finish derives the fields that depend on several claims; newClaimsFromPayload and
// scanClaims share it.
func (c *Claims) finish(scope, username, cognitoUsername, clientID string) {
	if scope != "" {
		c.Scopes = splitScope(scope)
	}
	if c.TokenUse == string(TokenUseID) {
		c.Username = cognitoUsername
		if len(c.Audience) > 0 {
			c.ClientID = c.Audience[0]
		}
	} else {
		c.Username = username
		c.ClientID = clientID
	}
}

// splitScope splits a scope claim on spaces only: scope tokens are space-delimited and
// contain no whitespace (RFC 6749 §3.3), so in "a\tb" the tab is part of one scope name,
// not a separator that would grant b. Runs of spaces separate like one.
func splitScope(scope string) []string {
	out := make([]string, 0, strings.Count(scope, " ")+1)
	for s := range strings.SplitSeq(scope, " ") {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// stringList reads a claim that is a JSON array of strings or, when single is true, also a
// lone string (aud, RFC 7519 section 4.1.3).
func stringList(raw map[string]any, name string, single bool) ([]string, error) {
	v, ok := raw[name]
	if !ok {
		return nil, nil
	}
	switch v := v.(type) {
	case string:
		if single {
			return []string{v}, nil
		}
	case []any:
		out := make([]string, len(v))
		for i, e := range v {
			s, ok := e.(string)
			if !ok {
				return nil, malformedClaim(name, "an array of strings")
			}
			out[i] = s
		}
		return out, nil
	}
	if single {
		return nil, malformedClaim(name, "a string or an array of strings")
	}
	return nil, malformedClaim(name, "an array of strings")
}

// maxNumericDate is the end of year 9999: later dates are not dates a token can carry, and
// refusing them keeps time arithmetic away from overflow.
const maxNumericDate = 253402300799

// numericDate reads an RFC 7519 NumericDate (seconds since the epoch, fractions allowed).
// Absent is the zero time.
func numericDate(raw map[string]any, name string) (time.Time, error) {
	v, ok := raw[name]
	if !ok {
		return time.Time{}, nil
	}
	f, ok := v.(float64)
	if !ok || f < 0 || f > maxNumericDate || math.IsNaN(f) {
		return time.Time{}, malformedClaim(name, "a number of seconds since 1970")
	}
	return unixSeconds(f), nil
}

func unixSeconds(f float64) time.Time {
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9))
}

func malformedClaim(name, want string) error {
	return refuse(ErrMalformedToken, "claim "+name+" is not "+want)
}

// refuse builds the error for a refused token. detail must not contain the token or any
// value taken from it.
func refuse(reason error, detail string) error {
	return &AuthorizationError{Reason: reason, Detail: detail}
}
