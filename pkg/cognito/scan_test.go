package cognito

import (
	"encoding/base64"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/cognitokit/cognitokit/pkg/cognitotest"
)

// scanSeeds are payloads at the edges of the scanner's narrow form.
var scanSeeds = []string{
	`{}`, ` { } `, `{"sub":"s"}`, `{"sub":"s",}`, `{"sub":"s"}x`, `{"sub":"s"`, `[]`, `null`, `"s"`, ``,
	`{"sub":"s","sub":"t"}`, `{"sub":1,"sub":"t"}`, `{"sub":"t","sub":1}`, `{"SUB":"x","Iss":"y"}`,
	`{"sub":"a\"b"}`, `{"sub":"a\u0062"}`, `{"s\u0075b":"x"}`, `{"sub":"é"}`, `{"sub":"a` + "\x7f" + `"}`,
	`{"sub":"a` + "\t" + `"}`, `{"sub":null}`, `{"x":null}`, `{"x":{"y":1}}`, `{"x":[1]}`, `{"x":[]}`,
	`{"cognito:groups":[]}`, `{"cognito:groups":["a", "b" ]}`, `{"cognito:groups":"a"}`, `{"cognito:groups":[,]}`,
	`{"aud":"c"}`, `{"aud":["c","d"]}`, `{"aud":[]}`, `{"aud":1}`, `{"aud":["c",]}`,
	`{"email_verified":true}`, `{"email_verified":false}`, `{"email_verified":"true"}`, `{"email_verified":"false"}`,
	`{"email_verified":"yes"}`, `{"email_verified":1}`, `{"email_verified":tru}`, `{"x":falsey}`,
	`{"exp":1700000000}`, `{"exp":1700000000.5}`, `{"exp":-1}`, `{"exp":-0}`, `{"exp":1e400}`, `{"x":1e400}`,
	`{"exp":01}`, `{"exp":1.}`, `{"exp":.5}`, `{"exp":1e}`, `{"exp":1E+3}`, `{"exp":1e-3}`, `{"exp":"1"}`,
	`{"exp":253402300799}`, `{"exp":253402300800}`, `{"iat":1,"nbf":2,"auth_time":3}`,
	`{"token_use":"id","aud":["c","d"],"cognito:username":"u","username":"v"}`,
	`{"token_use":"access","client_id":"c","username":"v","scope":"a  b c"}`,
	`{"iss":""}`, `{"iss":5}`, `{"version":2,"x":true,"y":false}`,
	"{\n\t\"sub\" : \"s\" ,\r\n \"exp\" :1 }\n",
}

// scanHeaderSeeds are JOSE headers at the edges of the form.
var scanHeaderSeeds = []string{
	`{"alg":"RS256","kid":"k"}`, `{"kid":"k","alg":"RS256","typ":"JWT"}`, `{"ALG":"RS256","kid":"k"}`,
	`{"alg":"RS256","Kid":"k"}`, `{"alg":"RS256","kid":"k","CRIT":["b64"]}`, `{"alg":"RS256","crit":["b64"]}`,
	`{"alg":"RS256","crit":null}`, `{"alg":"RS256","crit":[]}`, `{"alg":"RS256","crit":1}`, `{"alg":1}`,
	`{"alg":"none"}`, `{"alg":"RS256","kid":"a\/b"}`, `{"alg":"RS256","jwk":{"kty":"RSA"}}`, `{}`, `[]`,
	`{"alg":"RS256","alg":"HS256"}`, `{"alg":"RS256","x5u":"https://x"}`,
}

// cognitoPayloads are the payloads of real-shaped Cognito tokens: access (user and
// machine) and ID, with custom attributes.
func cognitoPayloads(tb testing.TB) []string {
	tb.Helper()
	c, err := loadBenchCorpus()
	if err != nil {
		tb.Fatal(err)
	}
	srv, err := cognitotest.New(c.base, cognitotest.DefaultConfig())
	if err != nil {
		tb.Fatal(err)
	}
	var toks []string
	for _, o := range []cognitotest.TokenOptions{{}, {Username: "alice"}, {Username: "bob", Client: writerClient}} {
		tok, err := srv.MintAccessToken(o)
		if err != nil {
			tb.Fatal(err)
		}
		toks = append(toks, tok)
	}
	for _, user := range []string{"alice", "bob"} {
		tok, err := srv.MintIDToken(cognitotest.TokenOptions{Username: user})
		if err != nil {
			tb.Fatal(err)
		}
		toks = append(toks, tok)
	}
	var out []string
	for _, tok := range toks {
		parts := strings.Split(tok, ".")
		p, err := base64.RawURLEncoding.DecodeString(parts[1])
		if err != nil {
			tb.Fatal(err)
		}
		h, _ := base64.RawURLEncoding.DecodeString(parts[0])
		out = append(out, string(p), string(h))
	}
	return out
}

// TestScanTakesCognitoTokens: the tokens Cognito issues take the fast path (were they
// not, Verify would stay correct but slow; the benchmarks would show it, this test says
// why).
func TestScanTakesCognitoTokens(t *testing.T) {
	for i, p := range cognitoPayloads(t) {
		if i%2 == 1 {
			if _, ok := scanHeader([]byte(p)); !ok {
				t.Errorf("header %s: not scanned", p)
			}
			continue
		}
		if _, _, ok := scanClaims([]byte(p)); !ok {
			t.Errorf("payload %s: not scanned", p)
		}
		checkScanMatches(t, []byte(p))
	}
}

// TestScanMatchesGeneralPath runs the differential check on the edge cases, and checks
// that the ones meant for the general path go there.
func TestScanMatchesGeneralPath(t *testing.T) {
	scanned := 0
	for _, p := range scanSeeds {
		if checkScanMatches(t, []byte(p)) {
			scanned++
		}
	}
	for _, p := range []string{`{"sub":"a\"b"}`, `{"sub":"é"}`, `{"sub":null}`, `{"x":{"y":1}}`, `{"x":1e400}`,
		`{"exp":-1}`, `{"aud":1}`, `{"sub":"s"}x`, `{"email_verified":"yes"}`, `{"SUB":"x"}x`} {
		if _, _, ok := scanClaims([]byte(p)); ok {
			t.Errorf("%s: scanned; want the general path", p)
		}
	}
	if scanned < len(scanSeeds)/3 {
		t.Errorf("only %d of %d seeds scanned", scanned, len(scanSeeds))
	}
	for _, h := range scanHeaderSeeds {
		checkHeaderScanMatches(t, []byte(h))
	}
	for _, h := range []string{`{"ALG":"RS256","kid":"k"}`, `{"alg":"RS256","Kid":"k"}`, `{"alg":"RS256","crit":null}`} {
		if _, ok := scanHeader([]byte(h)); ok {
			t.Errorf("header %s: scanned; want the general path", h)
		}
	}
}

// FuzzScanMatchesGeneralPath: whatever the payload, when the fast path accepts it the
// general path accepts it too, with equal claims and an equal claim map.
func FuzzScanMatchesGeneralPath(f *testing.F) {
	for _, p := range scanSeeds {
		f.Add([]byte(p))
	}
	for _, p := range cognitoPayloads(f) {
		f.Add([]byte(p))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		checkScanMatches(t, payload)
		checkHeaderScanMatches(t, payload)
	})
}

// checkScanMatches reports whether the fast path took payload, failing t if it did and the
// general path disagrees.
func checkScanMatches(t *testing.T, payload []byte) bool {
	t.Helper()
	fast, hasIss, ok := scanClaims(payload)
	if !ok {
		if fast != nil || hasIss {
			t.Fatalf("%q: not scanned, but claims %v, hasIss %v", payload, fast, hasIss)
		}
		return false
	}
	raw, err := parsePayload(payload)
	if err != nil {
		t.Fatalf("%q: scanned, but the general path refuses it: %v", payload, err)
	}
	slow, err := newClaimsFromPayload(raw)
	if err != nil {
		t.Fatalf("%q: scanned, but the general path refuses its claims: %v", payload, err)
	}
	if _, has := raw["iss"]; has != hasIss {
		t.Fatalf("%q: hasIss = %v, want %v", payload, hasIss, has)
	}
	if got := fast.Raw(); !reflect.DeepEqual(got, raw) {
		t.Fatalf("%q: Raw() = %v, want %v", payload, got, raw)
	}
	f, s := *fast, *slow
	f.lazy, s.raw = nil, nil
	if !reflect.DeepEqual(f, s) {
		t.Fatalf("%q: claims\n%+v\nwant\n%+v", payload, f, s)
	}
	return true
}

func checkHeaderScanMatches(t *testing.T, data []byte) {
	t.Helper()
	fast, ok := scanHeader(data)
	if !ok {
		return
	}
	slow, err := parseHeader(data)
	if err != nil {
		t.Fatalf("header %q: scanned, but the general path refuses it: %v", data, err)
	}
	if fast.Alg != slow.Alg || fast.Kid != slow.Kid || (len(fast.Crit) > 0) != (len(slow.Crit) > 0) {
		t.Fatalf("header %q: %+v, want %+v", data, fast, slow)
	}
}

// TestLazyClaimsConcurrentGet: the claim map of shared Claims is decoded once, safely,
// whoever asks first.
func TestLazyClaimsConcurrentGet(t *testing.T) {
	c, _, ok := scanClaims([]byte(`{"sub":"s","custom:tenant":"acme","n":2}`))
	if !ok {
		t.Fatal("not scanned")
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if v, ok := c.Get("custom:tenant"); !ok || v != "acme" {
				t.Errorf("Get = %v, %v", v, ok)
			}
			if len(c.Raw()) != 3 {
				t.Errorf("Raw = %v", c.Raw())
			}
		})
	}
	wg.Wait()
}

// TestVerifyScratchReuse: the decoding buffer is reused from one Verify to the next, so
// nothing Verify returns may point into it. Distinct tokens, on both the fast and the
// general path, verified from several goroutines with the verified cache off; every
// returned Claims is checked again once all the buffers have been reused many times.
func TestVerifyScratchReuse(t *testing.T) {
	clk := newFakeClock()
	srv := localCognito(t, clk)
	z := newAuthorizer(t, srv, clk, JWTAuthorizerConfig{ClientIDs: []string{readerClient, writerClient}},
		WithVerifiedCacheSize(0))
	type want struct{ token, jti, tenant string }
	var wants []want
	for i := range 40 {
		tenant := "t" + strings.Repeat("x", i)
		if i%2 == 1 {
			tenant += `"é` // escapes and non-ASCII: the general path
		}
		o := cognitotest.TokenOptions{Client: readerClient, Username: "alice", Claims: map[string]any{"custom:tenant": tenant}}
		if i%3 == 0 {
			o.Client, o.Username = writerClient, ""
		}
		tok := mintAccess(t, srv, o)
		_, _, ok := scanClaims(mustPayload(t, tok))
		if ok != (i%2 == 0) {
			t.Fatalf("token %d: fast path %v", i, ok)
		}
		raw, _ := parsePayload(mustPayload(t, tok))
		wants = append(wants, want{token: tok, jti: raw["jti"].(string), tenant: tenant})
	}
	got := make([][]*Claims, 4)
	var wg sync.WaitGroup
	for g := range got {
		wg.Go(func() {
			for round := range 5 {
				for i := range wants {
					w := wants[(i+g*7+round)%len(wants)]
					c, err := z.Verify(t.Context(), w.token)
					if err != nil {
						t.Error(err)
						return
					}
					got[g] = append(got[g], c)
				}
			}
		})
	}
	wg.Wait()
	byJTI := map[string]want{}
	for _, w := range wants {
		byJTI[w.jti] = w
	}
	for _, cs := range got {
		for _, c := range cs {
			w, ok := byJTI[c.JTI]
			if !ok {
				t.Fatalf("claims with unknown jti %q", c.JTI)
			}
			if v, _ := c.Get("custom:tenant"); v != w.tenant || c.Raw()["jti"] != w.jti || c.Issuer != srv.Issuer(poolID) {
				t.Fatalf("claims of %s changed: tenant %v, raw jti %v, iss %q", w.jti, v, c.Raw()["jti"], c.Issuer)
			}
		}
	}
}

func mustPayload(t *testing.T, tok string) []byte {
	t.Helper()
	parts := strings.Split(tok, ".")
	p, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// BenchmarkDecodeClaims times the claim decoding alone, on both paths, for the payloads of
// Cognito-shaped tokens: the part of Verify the claim table drives.
func BenchmarkDecodeClaims(b *testing.B) {
	var payloads [][]byte
	for i, p := range cognitoPayloads(b) {
		if i%2 == 0 {
			payloads = append(payloads, []byte(p))
		}
	}
	b.Run("scan", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if _, _, ok := scanClaims(payloads[i%len(payloads)]); !ok {
				b.Fatal("not scanned")
			}
		}
	})
	b.Run("general", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			raw, err := parsePayload(payloads[i%len(payloads)])
			if err != nil {
				b.Fatal(err)
			}
			if _, err := newClaimsFromPayload(raw); err != nil {
				b.Fatal(err)
			}
		}
	})
}
