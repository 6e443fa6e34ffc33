package cognito

import (
	"context"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
)

// BenchmarkTelemetryVerifyCached times the Verify of a token seen before by an authorizer
// without a meter provider and by one with a real SDK MeterProvider, in the same
// iteration (batches of 16 calls each, timed apart, in alternating order), and reports
// both and their ratio.
func BenchmarkTelemetryVerifyCached(b *testing.B) {
	c := corpus(b)
	ctx := context.Background()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	build := func(opts ...AuthorizerOption) *JWTAuthorizer {
		z, err := NewJWTAuthorizer(JWTAuthorizerConfig{UserPoolID: poolID, Audience: readerClient},
			append([]AuthorizerOption{WithEndpoint(c.base), WithJWKS(c.jwks)}, opts...)...)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := z.Verify(ctx, c.tokens[0]); err != nil {
			b.Fatal(err)
		}
		return z
	}
	off, on := build(), build(WithMeterProvider(mp))
	tok := c.tokens[0]
	for _, tc := range []struct {
		name string
		z    *JWTAuthorizer
	}{{"off", off}, {"on", on}} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := tc.z.Verify(ctx, tok); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("interleaved", func(b *testing.B) {
		const batch = 16
		var tOff, tOn time.Duration
		b.ReportAllocs()
		// Which side goes first alternates, so that neither always runs on a warmer cache.
		first, second, tFirst, tSecond := off, on, &tOff, &tOn
		for b.Loop() {
			t0 := time.Now()
			for range batch {
				_, _ = first.Verify(ctx, tok)
			}
			t1 := time.Now()
			for range batch {
				_, _ = second.Verify(ctx, tok)
			}
			*tSecond += time.Since(t1)
			*tFirst += t1.Sub(t0)
			first, second, tFirst, tSecond = second, first, tSecond, tFirst
		}
		n := float64(b.N * batch)
		b.ReportMetric(float64(tOff)/n, "off-ns/verify")
		b.ReportMetric(float64(tOn)/n, "on-ns/verify")
		b.ReportMetric(float64(tOn)/float64(tOff), "on/off")
	})
}

// BenchmarkTelemetryGetTokenCached is BenchmarkGetTokenCached with a real SDK
// MeterProvider: one more atomic add, still no allocation.
func BenchmarkTelemetryGetTokenCached(b *testing.B) {
	te := startTokenEndpoint(b, nil)
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	a, err := NewClientCredentialsAuthenticator(testConfig(te.TokenURL()), WithMeterProvider(mp))
	if err != nil {
		b.Fatal(err)
	}
	mustToken(b, a)
	ctx := context.Background()
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := a.GetToken(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := a.GetToken(ctx); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}
