package cognito

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// revocationListOf returns a list of n entries, a quarter of each kind, none matching the
// corpus's tokens.
func revocationListOf(b *testing.B, n int) *MemoryRevocationList {
	b.Helper()
	list := NewRevocationList()
	kinds := []RevocationKind{RevokeJTI, RevokeOriginJTI, RevokeSubject, RevokeClient}
	rs := make([]Revocation, n)
	for i := range rs {
		rs[i] = Revocation{Kind: kinds[i%4], ID: fmt.Sprintf("%08x-0000-4000-8000-%012x", i, i)}
	}
	if _, err := list.Add(rs...); err != nil {
		b.Fatal(err)
	}
	return list
}

func benchAuthorizerWith(b *testing.B, c *benchCorpus, cacheSize int, opts ...AuthorizerOption) *JWTAuthorizer {
	b.Helper()
	z, err := NewJWTAuthorizer(JWTAuthorizerConfig{UserPoolID: poolID, Audience: readerClient},
		append([]AuthorizerOption{WithEndpoint(c.base), WithJWKS(c.jwks), WithVerifiedCacheSize(cacheSize)}, opts...)...)
	if err != nil {
		b.Fatal(err)
	}
	return z
}

// BenchmarkVerifyRevocationCached times a verified-cache hit without a list and with a
// list of n entries one after the other in every iteration, over the corpus, and reports
// both and their difference (list-ns/op minus plain-ns/op): the cost of the list on a
// token seen before.
func BenchmarkVerifyRevocationCached(b *testing.B) {
	c := corpus(b)
	for _, n := range []int{10_000, 1_000_000} {
		b.Run(fmt.Sprintf("entries=%d", n), func(b *testing.B) {
			plain := benchAuthorizerWith(b, c, DefaultVerifiedCacheSize)
			listed := benchAuthorizerWith(b, c, DefaultVerifiedCacheSize, WithRevocationList(revocationListOf(b, n)))
			ctx := context.Background()
			for _, tok := range c.tokens {
				if _, err := plain.Verify(ctx, tok); err != nil {
					b.Fatal(err)
				}
				if _, err := listed.Verify(ctx, tok); err != nil {
					b.Fatal(err)
				}
			}
			interleaveVerify(b, ctx, c.tokens, plain, listed)
		})
	}
}

// BenchmarkVerifyRevocationDistinct is BenchmarkVerifyRevocationCached on tokens not seen
// before (verified-token cache off): the full path, with and without a list of 10,000.
func BenchmarkVerifyRevocationDistinct(b *testing.B) {
	c := corpus(b)
	plain := benchAuthorizerWith(b, c, 0)
	listed := benchAuthorizerWith(b, c, 0, WithRevocationList(revocationListOf(b, 10_000)))
	ctx := context.Background()
	interleaveVerify(b, ctx, c.tokens, plain, listed)
}

// interleaveVerify verifies each token with plain, then with listed, in the same
// iteration, so that both see the same machine load, and reports each one's cost and
// the difference.
func interleaveVerify(b *testing.B, ctx context.Context, tokens []string, plain, listed *JWTAuthorizer) {
	b.Helper()
	var without, with time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		tok := tokens[i%len(tokens)]
		t0 := time.Now()
		_, err1 := plain.Verify(ctx, tok)
		t1 := time.Now()
		_, err2 := listed.Verify(ctx, tok)
		with += time.Since(t1)
		without += t1.Sub(t0)
		if err1 != nil || err2 != nil {
			b.Fatal(err1, err2)
		}
	}
	b.ReportMetric(float64(without)/float64(b.N), "plain-ns/op")
	b.ReportMetric(float64(with)/float64(b.N), "list-ns/op")
	b.ReportMetric(float64(with-without)/float64(b.N), "delta-ns/op")
}

// BenchmarkRevocationAdd is adding one entry to a list of n: a copy of the list.
func BenchmarkRevocationAdd(b *testing.B) {
	for _, n := range []int{10_000, 1_000_000} {
		b.Run(fmt.Sprintf("entries=%d", n), func(b *testing.B) {
			list := revocationListOf(b, n)
			b.ResetTimer()
			for i := range b.N {
				if _, err := list.Add(Revocation{Kind: RevokeJTI, ID: fmt.Sprint("added-", i)}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRevocationLookup is the list's own work on every Verify, cache hits included:
// Revoked for the claims of a token not on a list of n entries (a quarter of each kind),
// as Verify returned them (their IDs hashed once, at verification).
func BenchmarkRevocationLookup(b *testing.B) {
	c := corpus(b)
	z := benchAuthorizerWith(b, c, 0, WithRevocationList(NewRevocationList()))
	claims, err := z.Verify(context.Background(), c.tokens[0])
	if err != nil {
		b.Fatal(err)
	}
	for _, n := range []int{10_000, 1_000_000} {
		b.Run(fmt.Sprintf("entries=%d", n), func(b *testing.B) {
			list := revocationListOf(b, n)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if revoked, _ := list.Revoked(claims); revoked {
					b.Fatal("revoked")
				}
			}
		})
	}
}
