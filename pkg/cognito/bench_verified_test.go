package cognito

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cognitokit/cognitokit/pkg/cognitotest"
)

// manyTokens holds distinct tokens shaped like the bench corpus's (same pool, client,
// scopes, about 1.1 KB), minted on demand by one local Cognito (one key set, manyTokens.jwks)
// on every core: RSA signing makes 100,000 of them take minutes, so they are minted once
// per test binary.
var manyTokens struct {
	sync.Mutex
	srv    *cognitotest.Server
	jwks   []byte
	tokens []string
}

func distinctTokens(b *testing.B, n int) []string {
	b.Helper()
	manyTokens.Lock()
	defer manyTokens.Unlock()
	if len(manyTokens.tokens) >= n {
		return manyTokens.tokens[:n]
	}
	if manyTokens.srv == nil {
		srv, err := cognitotest.New(corpus(b).base, cognitotest.DefaultConfig())
		if err != nil {
			b.Fatal(err)
		}
		if manyTokens.jwks, err = srv.JWKS(poolID); err != nil {
			b.Fatal(err)
		}
		manyTokens.srv = srv
	}
	start := len(manyTokens.tokens)
	out := make([]string, n-start)
	workers := runtime.GOMAXPROCS(0)
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			for i := w; i < len(out); i += workers {
				tok, err := manyTokens.srv.MintAccessToken(cognitotest.TokenOptions{
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

func manyAuthorizer(b *testing.B, cacheSize int) *JWTAuthorizer {
	b.Helper()
	z, err := NewJWTAuthorizer(JWTAuthorizerConfig{UserPoolID: poolID, Audience: readerClient},
		WithEndpoint(corpus(b).base), WithJWKS(manyTokens.jwks), WithVerifiedCacheSize(cacheSize))
	if err != nil {
		b.Fatal(err)
	}
	return z
}

// heap returns runtime.MemStats's HeapInuse (the spans holding at least one object) and
// HeapAlloc (the live objects) after a full collection.
func heap() (inUse, live float64) {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return float64(m.HeapInuse), float64(m.HeapAlloc)
}

// BenchmarkVerifiedCacheMemory reports what one verified-cache entry costs: the heap in
// use after verifying 10,000 distinct tokens with a fresh authorizer (default cache size),
// minus the heap in use before (the authorizer built, its cache's slot array included),
// divided by the entries the cache holds at the end (B/entry); live-B/entry is the same
// from HeapAlloc, the live objects alone, without the free space of partly used spans.
// Everything a verified token leaves behind is counted: the entry, the Claims and what
// they point to. The tokens themselves are held by the benchmark before and after, so
// they are not.
func BenchmarkVerifiedCacheMemory(b *testing.B) {
	const n = 10_000
	toks := distinctTokens(b, n)
	ctx := context.Background()
	var perEntry, livePerEntry, held float64
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		z := manyAuthorizer(b, DefaultVerifiedCacheSize)
		inUse0, live0 := heap()
		b.StartTimer()
		for _, tok := range toks {
			if _, err := z.Verify(ctx, tok); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		inUse1, live1 := heap()
		n, _ := cachedEntries(z)
		held = float64(n)
		perEntry, livePerEntry = (inUse1-inUse0)/held, (live1-live0)/held
		runtime.KeepAlive(z)
		b.StartTimer()
	}
	b.ReportMetric(perEntry, "B/entry")
	b.ReportMetric(livePerEntry, "live-B/entry")
	b.ReportMetric(held, "entries")
}

// BenchmarkVerifiedCacheWorkingSet cycles through more distinct tokens than the cache
// holds (DefaultVerifiedCacheSize): one pass to fill it, then the measured passes. It
// reports the share of Verify calls answered from the cache, and at the end the entries
// held and the heap they take, after minus before as in BenchmarkVerifiedCacheMemory:
// MiB-heap from HeapInuse, live-MiB from HeapAlloc. Minting its 100,000 tokens takes
// minutes, so it runs only when COGNITOKIT_BENCH_WORKING_SET is set, with a count of
// iterations: -benchtime=200000x.
func BenchmarkVerifiedCacheWorkingSet(b *testing.B) {
	if os.Getenv("COGNITOKIT_BENCH_WORKING_SET") == "" {
		b.Skip("set COGNITOKIT_BENCH_WORKING_SET=1 to run it (it mints 100,000 tokens)")
	}
	for _, n := range []int{10_000, 20_000, 100_000} {
		b.Run(fmt.Sprintf("tokens=%d", n), func(b *testing.B) {
			toks := distinctTokens(b, n)
			ctx := context.Background()
			z := manyAuthorizer(b, DefaultVerifiedCacheSize)
			inUse0, live0 := heap()
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
			inUse1, live1 := heap()
			held, _ := cachedEntries(z)
			b.ReportMetric(float64(held), "entries")
			b.ReportMetric((inUse1-inUse0)/(1<<20), "MiB-heap")
			b.ReportMetric((live1-live0)/(1<<20), "live-MiB")
			runtime.KeepAlive(z)
		})
	}
}
