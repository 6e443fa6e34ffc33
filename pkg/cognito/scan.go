package cognito

import (
	"encoding/json"
	"strconv"
	"strings"
	"sync"
)

// Verify's fast path. Decoding a token's claims with encoding/json into a map costs about
// as much as everything else Verify does besides the RSA verification (most of the
// allocations, most of the non-RSA time in a profile). Cognito writes its JSON in a
// narrow form: one object of members whose values are strings of printable ASCII without
// escapes, numbers, true/false, or arrays of such strings. The scanner below accepts
// exactly that form, and reads the typed claims straight from the bytes; the map behind
// Claims.Get is decoded only when first asked for.
//
// Anything outside the form (escapes, non-ASCII, null, nested objects, a claim of an
// unexpected type, malformed JSON) makes the scanner give up, and Verify takes the general
// path (encoding/json, parsePayload and newClaimsFromPayload), which decides and words
// every refusal. So the fast path never changes an outcome: what it accepts, the general
// path accepts with equal Claims (FuzzScanMatchesGeneralPath checks this). Which claims
// are typed, and where they go, both paths take from one table, claimTable.

// jsonKind is the kind of a member value the scanner accepts.
type jsonKind uint8

const (
	jsonString  jsonKind = iota + 1 // value is the string's content, without quotes
	jsonNumber                      // value is the number's text, valid for strconv.ParseFloat
	jsonTrue                        // value is "true"
	jsonFalse                       // value is "false"
	jsonStrings                     // value is the array's text, "[...]", of strings only
)

// scanObject calls fn for each member of the JSON object data, in order, while fn returns
// true. It reports false if data is not an object in the narrow form or fn returned false.
func scanObject(data string, fn func(key string, kind jsonKind, value string) bool) bool {
	s := scanner{data: data}
	s.space()
	if !s.byte('{') {
		return false
	}
	s.space()
	if s.byte('}') {
		return s.end()
	}
	for {
		key, ok := s.str()
		if !ok {
			return false
		}
		s.space()
		if !s.byte(':') {
			return false
		}
		s.space()
		kind, value, ok := s.value()
		if !ok || !fn(key, kind, value) {
			return false
		}
		s.space()
		if s.byte(',') {
			s.space()
			continue
		}
		if s.byte('}') {
			return s.end()
		}
		return false
	}
}

type scanner struct {
	data string
	i    int
}

func (s *scanner) space() {
	for s.i < len(s.data) {
		switch s.data[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *scanner) byte(c byte) bool {
	if s.i < len(s.data) && s.data[s.i] == c {
		s.i++
		return true
	}
	return false
}

func (s *scanner) end() bool {
	s.space()
	return s.i == len(s.data)
}

// str reads a string of printable ASCII other than '"' and '\': no escapes, so its content
// is its bytes.
func (s *scanner) str() (string, bool) {
	if !s.byte('"') {
		return "", false
	}
	start := s.i
	for ; s.i < len(s.data); s.i++ {
		switch c := s.data[s.i]; {
		case c == '"':
			s.i++
			return s.data[start : s.i-1], true
		case c < 0x20 || c == '\\' || c >= 0x7f:
			return "", false
		}
	}
	return "", false
}

func (s *scanner) value() (jsonKind, string, bool) {
	if s.i >= len(s.data) {
		return 0, "", false
	}
	start := s.i
	switch c := s.data[s.i]; {
	case c == '"':
		v, ok := s.str()
		return jsonString, v, ok
	case c == '-' || '0' <= c && c <= '9':
		if !s.number() {
			return 0, "", false
		}
		return jsonNumber, s.data[start:s.i], true
	case c == 't':
		return jsonTrue, s.data[start:min(start+4, len(s.data))], s.literal("true")
	case c == 'f':
		return jsonFalse, s.data[start:min(start+5, len(s.data))], s.literal("false")
	case c == '[':
		s.i++
		s.space()
		if s.byte(']') {
			return jsonStrings, s.data[start:s.i], true
		}
		for {
			if _, ok := s.str(); !ok {
				return 0, "", false
			}
			s.space()
			if s.byte(',') {
				s.space()
				continue
			}
			if s.byte(']') {
				return jsonStrings, s.data[start:s.i], true
			}
			return 0, "", false
		}
	}
	return 0, "", false
}

func (s *scanner) literal(word string) bool {
	if !strings.HasPrefix(s.data[s.i:], word) {
		return false
	}
	s.i += len(word)
	return true
}

// number reads a JSON number (RFC 8259 section 6) that strconv.ParseFloat also reads
// without error, as encoding/json requires of a number decoded into an interface.
func (s *scanner) number() bool {
	start := s.i
	s.byte('-')
	switch {
	case s.byte('0'):
	case s.i < len(s.data) && '1' <= s.data[s.i] && s.data[s.i] <= '9':
		s.digits()
	default:
		return false
	}
	if s.byte('.') && !s.digits() {
		return false
	}
	if s.byte('e') || s.byte('E') {
		if !s.byte('+') {
			s.byte('-')
		}
		if !s.digits() {
			return false
		}
	}
	_, err := strconv.ParseFloat(s.data[start:s.i], 64)
	return err == nil
}

func (s *scanner) digits() bool {
	start := s.i
	for s.i < len(s.data) && '0' <= s.data[s.i] && s.data[s.i] <= '9' {
		s.i++
	}
	return s.i > start
}

// scanStrings returns the strings of a jsonStrings value, never nil (an empty array is
// an empty slice, as the general path makes it).
func scanStrings(array string) []string {
	n := 0
	for _, c := range []byte(array) {
		if c == '"' {
			n++
		}
	}
	out := make([]string, 0, n/2)
	s := scanner{data: array, i: 1}
	for {
		s.space()
		v, ok := s.str()
		if !ok {
			return out
		}
		out = append(out, v)
		s.space()
		s.byte(',')
	}
}

// scanHeader is parseHeader's fast path. ok is false when the general path must decide:
// besides the form, a member whose name matches alg, kid or crit only case-insensitively
// (encoding/json would read it into the field).
func scanHeader(data []byte) (h joseHeader, ok bool) {
	ok = scanObject(string(data), func(key string, kind jsonKind, value string) bool {
		switch key {
		case "alg":
			h.Alg = value
			return kind == jsonString
		case "kid":
			h.Kid = value
			return kind == jsonString
		case "crit":
			// Only its presence matters: any crit is refused.
			h.Crit = json.RawMessage("[]")
			return true
		}
		if len(key) <= 4 {
			return !strings.EqualFold(key, "alg") && !strings.EqualFold(key, "kid") && !strings.EqualFold(key, "crit")
		}
		return true
	})
	return h, ok
}

// scanClaims is the fast path of parsePayload and newClaimsFromPayload together: the
// typed claims of a payload in the narrow form, as claimTable says, and whether it has an
// iss member. ok is false when the general path must decide.
func scanClaims(payload []byte) (c *Claims, hasIss, ok bool) {
	// One copy of the payload, which every string claim is a substring of.
	text := string(payload)
	d := claimDecoder{c: &Claims{lazy: &lazyClaims{payload: text}}}
	ok = scanObject(text, func(key string, kind jsonKind, value string) bool {
		i := claimIndex(key)
		if i < 0 {
			return true
		}
		v, ok := scanClaim(claimTable[i].kind, kind, value)
		if ok {
			d.store(i, v)
		}
		return ok
	})
	if !ok {
		return nil, false, false
	}
	return d.finish(), d.has("iss"), true
}

// claimIndex returns the index in claimTable of the claim called name, or -1. It is on
// the fast path for every member of every payload, hence the small hash table rather than
// a walk through claimTable.
func claimIndex(name string) int {
	if name == "" {
		return -1
	}
	for h := claimHash(name); ; h++ {
		slot := claimSlots[h%uint(len(claimSlots))]
		if slot == 0 {
			return -1
		}
		if i := int(slot) - 1; claimTable[i].name == name {
			return i
		}
	}
}

// claimSlots is an open-addressed hash table of claimTable: slot h holds a row's index
// plus one, 0 when empty. Its size keeps most slots empty, so that an unknown claim (most
// of a Cognito payload's members are) ends at the first probe or the next.
var claimSlots = func() (slots [64]uint8) {
	for i := range claimTable {
		h := claimHash(claimTable[i].name)
		for slots[h%uint(len(slots))] != 0 {
			h++
		}
		slots[h%uint(len(slots))] = uint8(i + 1)
	}
	return slots
}()

// claimHash mixes a non-empty claim name's length and end bytes: enough to spread
// claimTable's names, at the cost of a few instructions.
func claimHash(name string) uint {
	return uint(len(name))*7 + uint(name[0]) + uint(name[len(name)-1])*3
}

// scanClaim reads a claim of kind want from a scanned value as decodeClaim reads it from
// what encoding/json decodes; anything decodeClaim refuses sends the token to the
// general path.
func scanClaim(want claimKind, kind jsonKind, value string) (claimValue, bool) {
	switch want {
	case claimString:
		return claimValue{str: value}, kind == jsonString
	case claimStrings:
		if kind == jsonStrings {
			return claimValue{strs: scanStrings(value)}, true
		}
	case claimAudience:
		switch kind {
		case jsonString:
			return claimValue{strs: []string{value}}, true
		case jsonStrings:
			return claimValue{strs: scanStrings(value)}, true
		}
	case claimBool:
		switch {
		case kind == jsonTrue || kind == jsonString && value == "true":
			return claimValue{flag: true}, true
		case kind == jsonFalse || kind == jsonString && value == "false":
			return claimValue{}, true
		}
	case claimDate:
		if kind != jsonNumber {
			return claimValue{}, false
		}
		f, err := strconv.ParseFloat(value, 64)
		if err == nil && validNumericDate(f) {
			return claimValue{time: unixSeconds(f)}, true
		}
	}
	return claimValue{}, false
}

// lazyClaims decodes the map behind Claims.Get and Claims.Raw from the payload on first
// use; Claims may be shared between goroutines, hence the Once.
type lazyClaims struct {
	once    sync.Once
	payload string
	raw     map[string]any
}

func (l *lazyClaims) get() map[string]any {
	l.once.Do(func() {
		// The scanner accepted the payload, so encoding/json decodes it; an empty map is a
		// guard, never expected.
		if json.Unmarshal([]byte(l.payload), &l.raw) != nil || l.raw == nil {
			l.raw = map[string]any{}
		}
		l.payload = ""
	})
	return l.raw
}
