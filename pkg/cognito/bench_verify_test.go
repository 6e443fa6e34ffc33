package cognito

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cognitokit/cognitokit/pkg/cognitotest"
)

// benchCorpus is a set of distinct RS256-2048 tokens shaped like Cognito's user access
// tokens (about 1 KiB each), minted once per test binary, and the JWKS to verify them.
type benchCorpus struct {
	base   string // WithEndpoint URL; never contacted (the JWKS is given with WithJWKS)
	jwks   []byte
	pub    *rsa.PublicKey
	tokens []string
}

const benchTokens = 256

var loadBenchCorpus = sync.OnceValues(func() (*benchCorpus, error) {
	const base = "http://127.0.0.1:9" // discard port: nothing must connect
	srv, err := cognitotest.New(base, cognitotest.DefaultConfig())
	if err != nil {
		return nil, err
	}
	c := &benchCorpus{base: base}
	if c.jwks, err = srv.JWKS(poolID); err != nil {
		return nil, err
	}
	set, err := parseJWKS(c.jwks, discardLogger(), "bench")
	if err != nil {
		return nil, err
	}
	for i := range benchTokens {
		tok, err := srv.MintAccessToken(cognitotest.TokenOptions{
			Username: "alice",
			Client:   readerClient,
			TTL:      24 * time.Hour,
			Scopes:   []string{"openid", "email", "profile", "orders/read"},
			Claims:   map[string]any{"device_key": strings.Repeat("d", 40+i%7)},
		})
		if err != nil {
			return nil, err
		}
		c.tokens = append(c.tokens, tok)
		if c.pub == nil {
			h, _, _ := strings.Cut(tok, ".")
			hb, _ := base64.RawURLEncoding.DecodeString(h)
			var hdr struct{ Kid string }
			_ = json.Unmarshal(hb, &hdr)
			c.pub = set.keys[hdr.Kid]
		}
	}
	return c, nil
})

func corpus(b *testing.B) *benchCorpus {
	b.Helper()
	c, err := loadBenchCorpus()
	if err != nil {
		b.Fatal(err)
	}
	return c
}

func benchAuthorizer(b *testing.B, c *benchCorpus, cacheSize int) *JWTAuthorizer {
	b.Helper()
	z, err := NewJWTAuthorizer(JWTAuthorizerConfig{UserPoolID: poolID, Audience: readerClient},
		WithEndpoint(c.base), WithJWKS(c.jwks), WithVerifiedCacheSize(cacheSize))
	if err != nil {
		b.Fatal(err)
	}
	return z
}

// BenchmarkVerifyDistinctVsFloor times the floor and Verify on the same token one after
// the other in every iteration, so that both see the same machine load, and reports their
// ratio (verify/floor): on a shared machine, far steadier than the ratio of two
// benchmarks run seconds apart.
func BenchmarkVerifyDistinctVsFloor(b *testing.B) {
	c := corpus(b)
	z := benchAuthorizer(b, c, 0)
	ctx := context.Background()
	var floor, verify time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		tok := c.tokens[i%len(c.tokens)]
		t0 := time.Now()
		if err := floorVerify(c.pub, tok); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if _, err := z.Verify(ctx, tok); err != nil {
			b.Fatal(err)
		}
		verify += time.Since(t1)
		floor += t1.Sub(t0)
	}
	b.ReportMetric(float64(floor)/float64(b.N), "floor-ns/op")
	b.ReportMetric(float64(verify)/float64(b.N), "verify-ns/op")
	b.ReportMetric(float64(verify)/float64(floor), "verify/floor")
}

// floorVerify is one iteration of BenchmarkVerifyFloor.
func floorVerify(pub *rsa.PublicKey, tok string) error {
	d1 := strings.IndexByte(tok, '.')
	d2 := strings.LastIndexByte(tok, '.')
	payload, err1 := base64.RawURLEncoding.DecodeString(tok[d1+1 : d2])
	sig, err2 := base64.RawURLEncoding.DecodeString(tok[d2+1:])
	if err1 != nil || err2 != nil {
		return errors.New("decode")
	}
	digest := sha256.Sum256([]byte(tok[:d2]))
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig); err != nil {
		return err
	}
	var claims map[string]any
	return json.Unmarshal(payload, &claims)
}

// BenchmarkVerifyFloor is the least work any verifier must do per token: base64url-decode
// payload and signature, SHA-256 the signing input, rsa.VerifyPKCS1v15, and decode the
// claims JSON into a map. BenchmarkVerifyDistinct must stay within 1.15x of it.
func BenchmarkVerifyFloor(b *testing.B) {
	c := corpus(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if err := floorVerify(c.pub, c.tokens[i%len(c.tokens)]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyDistinct is Verify with warm keys on tokens it has not verified before
// (verified-token cache off), the full path.
func BenchmarkVerifyDistinct(b *testing.B) {
	c := corpus(b)
	z := benchAuthorizer(b, c, 0)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if _, err := z.Verify(ctx, c.tokens[i%len(c.tokens)]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyCached is Verify of a token verified before: a verified-token cache hit,
// with exp, nbf and iat still checked against the clock.
func BenchmarkVerifyCached(b *testing.B) {
	c := corpus(b)
	z := benchAuthorizer(b, c, DefaultVerifiedCacheSize)
	ctx := context.Background()
	tok := c.tokens[0]
	if _, err := z.Verify(ctx, tok); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := z.Verify(ctx, tok); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyCachedParallel is BenchmarkVerifyCached from every core, over the whole
// corpus, to show the cache does not serialise callers.
func BenchmarkVerifyCachedParallel(b *testing.B) {
	c := corpus(b)
	z := benchAuthorizer(b, c, DefaultVerifiedCacheSize)
	ctx := context.Background()
	for _, tok := range c.tokens {
		if _, err := z.Verify(ctx, tok); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, err := z.Verify(ctx, c.tokens[i%len(c.tokens)]); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
}
