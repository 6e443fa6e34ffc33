package cognito

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cognitokit/cognitokit/pkg/cognitotest"
)

// manyTokens holds distinct tokens shaped like the bench corpus's (same pool, client,
// scopes, about 1.1 KB), minted on demand: RSA signing makes 100,000 of them take a while,
// so they are minted once per test binary and on every core.
var manyTokens struct {
	sync.Mutex
	tokens []string
}

func distinctTokens(b *testing.B, n int) []string {
	b.Helper()
	manyTokens.Lock()
	defer manyTokens.Unlock()
	if len(manyTokens.tokens) >= n {
		return manyTokens.tokens[:n]
	}
	srv, err := cognitotest.New(corpus(b).base, cognitotest.DefaultConfig())
	if err != nil {
		b.Fatal(err)
	}
	if manyJWKS == nil {
		if manyJWKS, err = srv.JWKS(poolID); err != nil {
			b.Fatal(err)
		}
		manyTokens.tokens = nil
	}
	start := len(manyTokens.tokens)
	out := make([]string, n-start)
	workers := runtime.GOMAXPROCS(0)
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			for i := w; i < len(out); i += workers {
				tok, err := srv.MintAccessToken(cognitotest.TokenOptions{
					Username: "alice",
					Client:   readerClient,
					TTL:      24 * time.Hour,
					Scopes:   []string{"openid", "email", "profile", "orders/read"},
					Claims:   map[string]any{"device_key": strings.Repeat("d", 40+(start+i)%7), "n": start + i},
				})
				if err != nil {
					errs <- err
					return
				}
				out[i] = tok
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		b.Fatal(err)
	}
	manyTokens.tokens = append(manyTokens.tokens, out...)
	return manyTokens.tokens[:n]
}

// manyJWKS is the JWKS that verifies manyTokens; guarded by manyTokens.
var manyJWKS []byte

func manyAuthorizer(b *testing.B, cacheSize int) *JWTAuthorizer {
	b.Helper()
	z, err := NewJWTAuthorizer(JWTAuthorizerConfig{UserPoolID: poolID, Audience: readerClient},
		WithEndpoint(corpus(b).base), WithJWKS(manyJWKS), WithVerifiedCacheSize(cacheSize))
	if err != nil {
		b.Fatal(err)
	}
	return z
}

// heapInUse returns runtime.MemStats.HeapInuse after a full collection.
func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

// BenchmarkVerifiedCacheMemory reports what one verified-cache entry costs: the heap in
// use after verifying 10,000 distinct tokens with a fresh authorizer (default cache size),
// minus the heap in use before (the authorizer built, its cache's slot array included),
// divided by the entries the cache holds at the end. Everything a verified token leaves
// behind is counted: the entry, the Claims and what they point to. The tokens themselves
// are held by the benchmark before and after, so they are not.
func BenchmarkVerifiedCacheMemory(b *testing.B) {
	const n = 10_000
	toks := distinctTokens(b, n)
	ctx := context.Background()
	var perEntry, held float64
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		z := manyAuthorizer(b, DefaultVerifiedCacheSize)
		before := heapInUse()
		b.StartTimer()
		for _, tok := range toks {
			if _, err := z.Verify(ctx, tok); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		after := heapInUse()
		live, _ := cachedEntries(z)
		held = float64(live)
		perEntry = (float64(after) - float64(before)) / held
		runtime.KeepAlive(z)
		b.StartTimer()
	}
	b.ReportMetric(perEntry, "B/entry")
	b.ReportMetric(held, "entries")
}

// BenchmarkVerifiedCacheWorkingSet cycles through more distinct tokens than the cache
// holds (DefaultVerifiedCacheSize): one pass to fill it, then the measured passes. It
// reports the share of Verify calls answered from the cache and the heap in use by the
// cache (after minus before, as in BenchmarkVerifiedCacheMemory) at the end.
func BenchmarkVerifiedCacheWorkingSet(b *testing.B) {
	for _, n := range []int{10_000, 20_000, 100_000} {
		b.Run(fmt.Sprintf("tokens=%d", n), func(b *testing.B) {
			toks := distinctTokens(b, n)
			ctx := context.Background()
			z := manyAuthorizer(b, DefaultVerifiedCacheSize)
			before := heapInUse()
			for _, tok := range toks {
				if _, err := z.Verify(ctx, tok); err != nil {
					b.Fatal(err)
				}
			}
			hits := 0
			b.ResetTimer()
			for i := range b.N {
				tok := toks[i%n]
				if z.verified.get(tok) != nil {
					hits++
				}
				if _, err := z.Verify(ctx, tok); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			b.ReportMetric(100*float64(hits)/float64(b.N), "%hits")
			b.ReportMetric((float64(heapInUse())-float64(before))/(1<<20), "MiB-heap")
			runtime.KeepAlive(z)
		})
	}
}
