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

// newClaimsFromPayload fills the typed fields of Claims from the decoded payload, as
// claimTable says. A claim of the wrong JSON type is ErrMalformedToken, naming the claim
// but never its value. It checks nothing else: whether the claims are acceptable is
// checkClaims' job.
func newClaimsFromPayload(raw map[string]any) (*Claims, error) {
	d := claimDecoder{c: &Claims{raw: raw}}
	for i := range claimTable {
		def := &claimTable[i]
		v, ok := raw[def.name]
		if !ok {
			continue
		}
		val, err := decodeClaim(def, v)
		if err != nil {
			return nil, err
		}
		d.store(i, val)
	}
	return d.finish(), nil
}

// decodeClaim reads a claim as encoding/json decoded it into an interface.
func decodeClaim(def *claimDef, v any) (claimValue, error) {
	switch def.kind {
	case claimString:
		if s, ok := v.(string); ok {
			return claimValue{str: s}, nil
		}
	case claimStrings, claimAudience:
		switch v := v.(type) {
		case string:
			if def.kind == claimAudience {
				return claimValue{strs: []string{v}}, nil
			}
		case []any:
			out := make([]string, len(v))
			for i, e := range v {
				s, ok := e.(string)
				if !ok {
					return claimValue{}, malformedClaim(def.name, claimStrings.want())
				}
				out[i] = s
			}
			return claimValue{strs: out}, nil
		}
	case claimBool:
		switch v {
		case true, "true":
			return claimValue{flag: true}, nil
		case false, "false":
			return claimValue{}, nil
		}
	case claimDate:
		if f, ok := v.(float64); ok && validNumericDate(f) {
			return claimValue{time: unixSeconds(f)}, nil
		}
	}
	return claimValue{}, malformedClaim(def.name, def.kind.want())
}

// maxNumericDate is the end of year 9999: later dates are not dates a token can carry, and
// refusing them keeps time arithmetic away from overflow.
const maxNumericDate = 253402300799

// validNumericDate reports whether f is an RFC 7519 NumericDate (seconds since 1970,
// fractions allowed) that a token can carry.
func validNumericDate(f float64) bool {
	return f >= 0 && f <= maxNumericDate && !math.IsNaN(f)
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
