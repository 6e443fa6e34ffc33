package cognito

import (
	"errors"
	"slices"
	"testing"
)

// TestParseHeaderExactNames: header parameter names are case-sensitive (RFC 7515 §4). A
// struct decode with encoding/json matched ALG, Kid or CRIT as alg, kid and crit, so a
// header {"alg":"none","ALG":"RS256"} was read as RS256 (found by the adversarial corpus).
func TestParseHeaderExactNames(t *testing.T) {
	tests := []struct {
		header   string
		alg, kid string
		crit     bool
		bad      bool
	}{
		{header: `{"alg":"RS256","kid":"k"}`, alg: "RS256", kid: "k"},
		{header: `{"alg":"none","kid":"k","ALG":"RS256"}`, alg: "none", kid: "k"},
		{header: `{"Alg":"RS256","kid":"k"}`, kid: "k"},
		{header: `{"alg":"RS256","kid":"unknown","KID":"k"}`, alg: "RS256", kid: "unknown"},
		{header: `{"alg":"RS256","Kid":"k"}`, alg: "RS256"},
		{header: `{"alg":"RS256","kid":"k","CRIT":["exp"]}`, alg: "RS256", kid: "k"},
		{header: `{"alg":"RS256","kid":"k","crit":null}`, alg: "RS256", kid: "k", crit: true},
		{header: `{"alg":"none","alg":"RS256","kid":"k"}`, alg: "RS256", kid: "k"}, // the last duplicate counts
		{header: `{"\u0061lg":"RS256","kid":"k"}`, alg: "RS256", kid: "k"},
		{header: `{"alg":"RS256","kid":"unknown","\u212aid":"k"}`, alg: "RS256", kid: "unknown"}, // Kelvin sign, escaped
		{header: `{"alg":"RS256","kid":"unknown","Kid":"k"}`, alg: "RS256", kid: "unknown"},      // and in UTF-8
		{header: `{"alg":"RS256","kid":"k","x":"é"}`, alg: "RS256", kid: "k"},
		{header: `{"alg":null,"kid":null}`},
		{header: `{"alg":256,"kid":"k"}`, bad: true},
		{header: `{"alg":"RS256","kid":["k"]}`, bad: true},
		{header: `{"ALG":256,"kid":"k"}`, kid: "k"}, // an unknown parameter of any type
		{header: `[]`, bad: true},
		{header: `null`, bad: true},
	}
	for _, tt := range tests {
		h, err := parseHeader([]byte(tt.header))

		if tt.bad {
			if !errors.Is(err, ErrMalformedToken) {
				t.Errorf("parseHeader(%s) = %+v, %v; want ErrMalformedToken", tt.header, h, err)
			}
			continue
		}
		if err != nil || h.Alg != tt.alg || h.Kid != tt.kid || (len(h.Crit) > 0) != tt.crit {
			t.Errorf("parseHeader(%s) = alg %q kid %q crit %q, %v; want alg %q kid %q crit %v",
				tt.header, h.Alg, h.Kid, h.Crit, err, tt.alg, tt.kid, tt.crit)
		}
	}
}

// TestMayFoldHeaderName: the fast struct decode is kept for the headers it reads right.
func TestMayFoldHeaderName(t *testing.T) {
	for header, want := range map[string]bool{
		`{"kid":"abc/def+ghi=","alg":"RS256"}`:   false, // Cognito's shape
		`{"alg":"RS256","kid":"k","crit":null}`:  false,
		`{"alg":"RS256","kid":"k","typ":"JWT"}`:  false,
		`{"algx":"RS256","ALGX":1,"kidney":"k"}`: false,
		`{"alg":"none","ALG":"RS256"}`:           true,
		`{"Kid":"k"}`:                            true,
		`{"CRIT":[]}`:                            true,
		`{"\u0061lg":"RS256"}`:                   true,
		`{"x":"é"}`:                              true,
	} {
		if got := mayFoldHeaderName([]byte(header)); got != want {
			t.Errorf("mayFoldHeaderName(%s) = %v, want %v", header, got, want)
		}
	}
}

// TestSplitScope: only spaces separate scopes (RFC 6749 §3.3). strings.Fields also split
// on tabs, newlines and Unicode spaces, granting "b" to a token whose scope was "a\tb"
// (found by the adversarial corpus; aws-jwt-verify splits on spaces too).
func TestSplitScope(t *testing.T) {
	tests := []struct {
		scope string
		want  []string
	}{
		{"orders/read", []string{"orders/read"}},
		{"orders/read orders/write", []string{"orders/read", "orders/write"}},
		{"  orders/read   orders/write ", []string{"orders/read", "orders/write"}},
		{"orders/read\torders/write", []string{"orders/read\torders/write"}},
		{"orders/read\norders/write", []string{"orders/read\norders/write"}},
		{"orders/read\u00a0orders/write", []string{"orders/read\u00a0orders/write"}},
		{"   ", []string{}},
	}
	for _, tt := range tests {
		if got := splitScope(tt.scope); !slices.Equal(got, tt.want) {
			t.Errorf("splitScope(%q) = %q, want %q", tt.scope, got, tt.want)
		}
	}
	c, err := decodeClaims(t, `{"scope":"orders/read\torders/admin"}`)
	if err != nil {
		t.Fatal(err)
	}
	if c.HasScope("orders/admin") || c.HasScope("orders/read") {
		t.Errorf("Scopes = %q: a tab separated scopes", c.Scopes)
	}
}
