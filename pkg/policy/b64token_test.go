package policy

import (
	"strings"
	"testing"
)

// refB64Token is RFC 6750's b64token, spelled out: 1*( ALPHA / DIGIT / "-" / "." / "_" /
// "~" / "+" / "/" ) *"=".
func refB64Token(s string) bool {
	body := strings.TrimRight(s, "=")
	if body == "" {
		return false
	}
	for _, c := range []byte(body) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~+/", c) >= 0) {
			return false
		}
	}
	return true
}

// TestIsB64Token: every byte at every position of the eight-byte blocks and of the tail,
// with and without trailing "=", against the definition.
func TestIsB64Token(t *testing.T) {
	for n := 1; n <= 19; n++ {
		for p := range n {
			for c := range 256 {
				b := []byte(strings.Repeat("a", n))
				b[p] = byte(c)
				for _, s := range []string{string(b), string(b) + "=", string(b) + "==", string(b) + "=x"} {
					if got, want := isB64Token(s), refB64Token(s); got != want {
						t.Fatalf("isB64Token(%q) = %v, want %v", s, got, want)
					}
				}
			}
		}
	}
	for _, s := range []string{"", "=", "==", "a", "a=", "eyJ.eyJ.sig", "-._~+/", strings.Repeat("A", 1100) + "=="} {
		if got, want := isB64Token(s), refB64Token(s); got != want {
			t.Errorf("isB64Token(%q) = %v, want %v", s, got, want)
		}
	}
}
