package cognito

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// benchMultiAuthorizer is benchAuthorizer with n pools: n-1 others (with static keys of
// their own configuration), then the corpus's pool last, so that a search through the
// pools in order would pay for every one of them.
func benchMultiAuthorizer(b *testing.B, c *benchCorpus, n, cacheSize int, opts ...AuthorizerOption) *JWTAuthorizer {
	b.Helper()
	var pools []JWTAuthorizerConfig
	opts = append(opts, WithEndpoint(c.base), WithVerifiedCacheSize(cacheSize))
	for i := range n - 1 {
		id := fmt.Sprintf("us-east-1_Bench%d", i)
		pools = append(pools, JWTAuthorizerConfig{UserPoolID: id, Audience: readerClient})
		opts = append(opts, WithPoolJWKS(id, c.jwks))
	}
	pools = append(pools, JWTAuthorizerConfig{UserPoolID: poolID, Audience: readerClient})
	opts = append(opts, WithPoolJWKS(poolID, c.jwks))
	z, err := NewMultiPoolAuthorizer(pools, opts...)
	if err != nil {
		b.Fatal(err)
	}
	return z
}

// BenchmarkVerifyPools is Verify by an authorizer of 1, 2 and 20 pools, of tokens of its
// last pool: "cached" verified before (a verified-token cache hit), "distinct" not (cache
// off, the full path).
func BenchmarkVerifyPools(b *testing.B) {
	c := corpus(b)
	ctx := context.Background()
	for _, n := range []int{1, 2, 20} {
		b.Run(fmt.Sprintf("pools=%d/cached", n), func(b *testing.B) {
			z := benchMultiAuthorizer(b, c, n, DefaultVerifiedCacheSize)
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
		})
		b.Run(fmt.Sprintf("pools=%d/distinct", n), func(b *testing.B) {
			z := benchMultiAuthorizer(b, c, n, 0)
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				if _, err := z.Verify(ctx, c.tokens[i%len(c.tokens)]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// benchBatch is how many calls each side of an interleaved benchmark makes in a row: a
// cache hit is too short to time one by one.
const benchBatch = 32

// BenchmarkVerifyPoolsVsOne times an authorizer of n pools and one of a single pool on
// the same tokens, alternately in every iteration (so that both see the same machine
// load), and reports the ratio of their times (pools/one), which must stay within 1.05.
func BenchmarkVerifyPoolsVsOne(b *testing.B) {
	c := corpus(b)
	ctx := context.Background()
	for _, n := range []int{2, 20} {
		for _, cached := range []bool{true, false} {
			name, size, batch := fmt.Sprintf("pools=%d/distinct", n), 0, 1
			if cached {
				name, size, batch = fmt.Sprintf("pools=%d/cached", n), DefaultVerifiedCacheSize, benchBatch
			}
			b.Run(name, func(b *testing.B) {
				one := benchMultiAuthorizer(b, c, 1, size)
				many := benchMultiAuthorizer(b, c, n, size)
				for _, tok := range c.tokens {
					_, err1 := one.Verify(ctx, tok)
					_, err2 := many.Verify(ctx, tok)
					if err1 != nil || err2 != nil {
						b.Fatal(err1, err2)
					}
				}
				b.ResetTimer()
				var tOne, tMany time.Duration
				for i := range b.N {
					tok := c.tokens[i%len(c.tokens)]
					// Each side goes first every other iteration, so that neither gains
					// from the other warming the caches.
					for j := range 2 {
						z, t := one, &tOne
						if (i+j)%2 == 1 {
							z, t = many, &tMany
						}
						t0 := time.Now()
						for range batch {
							_, _ = z.Verify(ctx, tok)
						}
						*t += time.Since(t0)
					}
				}
				ops := float64(b.N * batch)
				b.ReportMetric(float64(tOne)/ops, "one-ns/op")
				b.ReportMetric(float64(tMany)/ops, "pools-ns/op")
				b.ReportMetric(float64(tMany)/float64(tOne), "pools/one")
			})
		}
	}
}

// BenchmarkVerifyCachedCustomCheck times cache hits without and with a custom check that
// returns nil, alternately in every iteration, and reports what the check adds per call
// (check-ns/op), which must stay within 20 ns. Both sides are the same authorizer, with
// and without its check list, so that they verify the same cache entry.
func BenchmarkVerifyCachedCustomCheck(b *testing.B) {
	c := corpus(b)
	ctx := context.Background()
	z, err := NewJWTAuthorizer(JWTAuthorizerConfig{UserPoolID: poolID, Audience: readerClient},
		WithEndpoint(c.base), WithJWKS(c.jwks),
		WithCustomCheck(func(context.Context, *Claims) error { return nil }))
	if err != nil {
		b.Fatal(err)
	}
	checks := z.checks
	tok := c.tokens[0]
	if _, err := z.Verify(ctx, tok); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	var tPlain, tChecked time.Duration
	for i := range b.N {
		// Each side goes first every other iteration, so that neither gains from the
		// other warming the caches.
		for j, list := range [2][]func(context.Context, *Claims) error{nil, checks} {
			if i%2 == 1 {
				list = [2][]func(context.Context, *Claims) error{checks, nil}[j]
			}
			z.checks = list
			t0 := time.Now()
			for range benchBatch {
				_, _ = z.Verify(ctx, tok)
			}
			if list == nil {
				tPlain += time.Since(t0)
			} else {
				tChecked += time.Since(t0)
			}
		}
	}
	ops := float64(b.N * benchBatch)
	b.ReportMetric(float64(tPlain)/ops, "plain-ns/op")
	b.ReportMetric(float64(tChecked)/ops, "checked-ns/op")
	b.ReportMetric(float64(tChecked-tPlain)/ops, "check-ns/op")
}

// BenchmarkRunChecks is what a custom check that returns nil adds to Verify, alone: the
// call of the check list.
func BenchmarkRunChecks(b *testing.B) {
	z := &JWTAuthorizer{checks: []func(context.Context, *Claims) error{func(context.Context, *Claims) error { return nil }}}
	ctx, c := context.Background(), &Claims{}
	b.ReportAllocs()
	for range b.N {
		if len(z.checks) > 0 {
			if err := z.runChecks(ctx, c); err != nil {
				b.Fatal(err)
			}
		}
	}
}
