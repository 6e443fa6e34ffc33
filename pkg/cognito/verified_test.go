package cognito

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/cognitokit/cognitokit/pkg/cognitotest"
)

// cachedEntries counts the live entries of z's verified-token cache.
func cachedEntries(z *JWTAuthorizer) (live, dead int) {
	for i := range z.verified.slots {
		if e := z.verified.slots[i].Load(); e != nil {
			if e.alive() {
				live++
			} else {
				dead++
			}
		}
	}
	return live, dead
}

// TestVerifiedCacheExpiry: a cached token is refused once past exp plus leeway; time
// moves on for cached tokens too.
func TestVerifiedCacheExpiry(t *testing.T) {
	clk := newFakeClock()
	srv := localCognito(t, clk)
	z := newAuthorizer(t, srv, clk, JWTAuthorizerConfig{})
	tok := mintAccess(t, srv, cognitotest.TokenOptions{Client: readerClient, TTL: 5 * time.Minute})
	if _, err := z.Verify(t.Context(), tok); err != nil {
		t.Fatal(err)
	}
	if z.verified.get(tok) == nil {
		t.Fatal("verified token not cached")
	}
	clk.Advance(5*time.Minute + DefaultLeeway)
	if _, err := z.Verify(t.Context(), tok); err != nil {
		t.Fatalf("within leeway: %v", err)
	}
	clk.Advance(time.Second)
	_, err := z.Verify(t.Context(), tok)
	wantReason(t, err, ErrTokenExpired)
}

// TestVerifiedCacheNotBefore: a cached token whose nbf and iat were within the leeway is
// checked against the clock on every hit, so a clock that moves back refuses it again.
func TestVerifiedCacheNotBefore(t *testing.T) {
	clk := newFakeClock()
	srv := localCognito(t, clk)
	z := newAuthorizer(t, srv, clk, JWTAuthorizerConfig{})
	nbf := mintAccess(t, srv, cognitotest.TokenOptions{Client: readerClient, Claims: map[string]any{"nbf": t0.Unix() + 30}})
	if _, err := z.Verify(t.Context(), nbf); err != nil {
		t.Fatal(err)
	}
	clk.Advance(-time.Minute) // clocks do step back (NTP)
	if z.verified.get(nbf) == nil {
		t.Fatal("token not cached")
	}
	_, err := z.Verify(t.Context(), nbf)
	wantReason(t, err, ErrTokenNotYetValid)
}

// TestVerifiedCacheClearedOnKeyChange: entries verified under keys that changed are dropped
// and never served.
func TestVerifiedCacheClearedOnKeyChange(t *testing.T) {
	clk := newFakeClock()
	srv := localCognito(t, clk)
	z := newAuthorizer(t, srv, clk, JWTAuthorizerConfig{TokenUse: TokenUseAny})
	old := []string{
		mintAccess(t, srv, cognitotest.TokenOptions{Client: readerClient}),
		mintID(t, srv, cognitotest.TokenOptions{Client: readerClient}),
	}
	for _, tok := range old {
		if _, err := z.Verify(t.Context(), tok); err != nil {
			t.Fatal(err)
		}
	}
	if live, _ := cachedEntries(z); live != 2 {
		t.Fatalf("%d live entries, want 2", live)
	}
	if err := srv.RotateKeys(poolID); err != nil {
		t.Fatal(err)
	}
	fresh := mintAccess(t, srv, cognitotest.TokenOptions{Client: readerClient})
	if _, err := z.Verify(t.Context(), fresh); err != nil {
		t.Fatal(err)
	}
	live, dead := cachedEntries(z)
	if live != 1 || dead != 0 {
		t.Fatalf("after the key change: %d live, %d dead entries; want 1 and 0", live, dead)
	}
	for _, tok := range old {
		_, err := z.Verify(t.Context(), tok)
		wantReason(t, err, ErrUnknownKey)
	}
}

// TestVerifiedCacheWholeToken: the cache is keyed by the whole token, so the claims of a
// verified token cannot be had with another signature.
func TestVerifiedCacheWholeToken(t *testing.T) {
	clk := newFakeClock()
	srv := localCognito(t, clk)
	z := newAuthorizer(t, srv, clk, JWTAuthorizerConfig{})
	tok := mintAccess(t, srv, cognitotest.TokenOptions{Client: readerClient})
	if _, err := z.Verify(t.Context(), tok); err != nil {
		t.Fatal(err)
	}
	h, c, sig := tokenParts(t, tok)
	sigBytes, _ := base64.RawURLEncoding.DecodeString(sig)
	sigBytes[len(sigBytes)-1] ^= 1
	forged := withParts(t, h, c, base64.RawURLEncoding.EncodeToString(sigBytes))
	_, err := z.Verify(t.Context(), forged)
	wantReason(t, err, ErrInvalidSignature)
	_, err = z.Verify(t.Context(), tok[:strings.LastIndexByte(tok, '.')]+".")
	wantReason(t, err, ErrInvalidSignature)
	// The entry keeps the end of the token, not the token: a token with the cached
	// token's signature, length and tail but another payload byte is not it.
	dot := strings.IndexByte(tok, '.')
	flip := []byte(tok)
	flip[dot+5] ^= 'A' ^ 'B'
	if flip[dot+5] == tok[dot+5] || strings.ContainsAny(string(flip[dot+5]), ".=") {
		t.Fatal("test token byte not flipped")
	}
	_, err = z.Verify(t.Context(), string(flip))
	if err == nil {
		t.Fatal("a token with another payload and the cached token's signature was accepted")
	}
}

// TestVerifiedCacheBounded: the cache never holds more than its size, and evicted tokens
// still verify (the slow way).
func TestVerifiedCacheBounded(t *testing.T) {
	clk := newFakeClock()
	srv := localCognito(t, clk)
	z := newAuthorizer(t, srv, clk, JWTAuthorizerConfig{}, WithVerifiedCacheSize(4))
	var toks []string
	for i := range 40 {
		toks = append(toks, mintAccess(t, srv, cognitotest.TokenOptions{Client: readerClient, Claims: map[string]any{"n": i}}))
	}
	for range 2 {
		for _, tok := range toks {
			if _, err := z.Verify(t.Context(), tok); err != nil {
				t.Fatal(err)
			}
		}
	}
	if n := len(z.verified.slots); n != 4 {
		t.Fatalf("%d slots, want 4", n)
	}
	if live, _ := cachedEntries(z); live == 0 || live > 4 {
		t.Fatalf("%d live entries, want 1 to 4", live)
	}
}

func TestVerifiedCacheDisabled(t *testing.T) {
	clk := newFakeClock()
	srv := localCognito(t, clk)
	z := newAuthorizer(t, srv, clk, JWTAuthorizerConfig{}, WithVerifiedCacheSize(0))
	if z.verified != nil {
		t.Fatal("cache present with size 0")
	}
	tok := mintAccess(t, srv, cognitotest.TokenOptions{Client: readerClient})
	a, err := z.Verify(t.Context(), tok)
	if err != nil {
		t.Fatal(err)
	}
	b, err := z.Verify(t.Context(), tok)
	if err != nil {
		t.Fatal(err)
	}
	if a == b {
		t.Fatal("claims shared although the cache is off")
	}
}

// TestVerifiedCacheSets exercises one two-way set directly: lookups only ever return the
// entry of the very token asked for, and a third token evicts one of two.
func TestVerifiedCacheSets(t *testing.T) {
	keys := &jwksCache{}
	keys.set.Store(&keySet{gen: 7})
	v := newVerifiedCache(2) // a single set of two
	put := func(tok string) {
		v.put(tok, &verifiedEntry{claims: &Claims{Sub: tok}, keys: keys, gen: 7})
	}
	put("a")
	put("b")
	for _, tok := range []string{"a", "b"} {
		if e := v.get(tok); e == nil || e.claims.Sub != tok {
			t.Fatalf("get(%q) = %v", tok, e)
		}
	}
	put("c")
	hits := 0
	for _, tok := range []string{"a", "b", "c"} {
		if e := v.get(tok); e != nil {
			if e.claims.Sub != tok {
				t.Fatalf("get(%q) returned the claims of %q", tok, e.claims.Sub)
			}
			hits++
		}
	}
	if hits != 2 || v.get("c") == nil {
		t.Fatalf("%d hits after a third insert, want 2 including c", hits)
	}
	if v.get("zzz") != nil {
		t.Fatal("hit for a token never stored")
	}
	// A lookup compares the hash, the length and the tail, each on its own: given the hash
	// of a stored token (as a maphash collision would), another length or another tail
	// still misses, and another hash misses whatever the rest.
	long := strings.Repeat("x", 2*tailSize)
	v.put(long, &verifiedEntry{claims: &Claims{Sub: long}, keys: keys, gen: 7})
	if e := v.get(long); e == nil || e.claims.Sub != long {
		t.Fatal("long token not found")
	}
	h := v.bucket(long)
	if v.getAt(h, long[:len(long)-1]+"z") != nil || v.getAt(h, long[1:]) != nil || v.getAt(h, "z"+long) != nil {
		t.Fatal("hit for a token with another tail or length")
	}
	if v.getAt(h+2*v.sets, long) != nil {
		t.Fatal("hit for a token with another hash in the same set")
	}
	keys.set.Store(&keySet{gen: 8})
	if v.get("c") != nil {
		t.Fatal("hit after the key set changed")
	}
	v.purge(keys)
	for i := range v.slots {
		if v.slots[i].Load() != nil {
			t.Fatal("purge left a dead entry")
		}
	}
	if newVerifiedCache(0) != nil || newVerifiedCache(-1) != nil {
		t.Fatal("cache built for size <= 0")
	}
	if n := len(newVerifiedCache(3).slots); n != 4 {
		t.Fatalf("size 3: %d slots, want 4", n)
	}
}
