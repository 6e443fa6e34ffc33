package policy_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/cognitokit/cognitokit/pkg/cognito"
	"github.com/cognitokit/cognitokit/pkg/cognitotest"
	"github.com/cognitokit/cognitokit/pkg/policy"
)

// BenchmarkTelemetryMiddleware times, in the same iteration, the request of
// BenchmarkMiddleware (a verified-cache hit allowed on GET /orders/{id}) through the
// middleware without a provider and with a real SDK MeterProvider, and reports the
// difference: "policy" gives the provider to the middleware only (its decision counter),
// "all" to the authorizer too (its verification counter).
func BenchmarkTelemetryMiddleware(b *testing.B) {
	ctx := context.Background()
	idp := cognitotest.Start(b, cognitotest.DefaultConfig())
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	authorizer := func(opts ...cognito.AuthorizerOption) *cognito.JWTAuthorizer {
		z, err := cognito.NewJWTAuthorizer(cognito.JWTAuthorizerConfig{UserPoolID: idp.Pools()[0].ID, AllowAnyClient: true},
			append([]cognito.AuthorizerOption{cognito.WithEndpoint(idp.BaseURL())}, opts...)...)
		if err != nil {
			b.Fatal(err)
		}
		if err := z.Warm(ctx); err != nil {
			b.Fatal(err)
		}
		return z
	}
	token, err := idp.MintAccessToken(cognitotest.TokenOptions{Client: "orders-reader", TTL: 24 * time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /orders/{id}", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	routes := loadExample(b)
	plainZ, meteredZ := authorizer(), authorizer(cognito.WithMeterProvider(mp))
	plain := policy.Middleware(routes, plainZ)(mux)
	for _, tc := range []struct {
		name    string
		metered http.Handler
	}{
		{"policy", policy.Middleware(routes, plainZ, policy.WithMeterProvider(mp))(mux)},
		{"all", policy.Middleware(routes, meteredZ, policy.WithMeterProvider(mp))(mux)},
	} {
		b.Run(tc.name, func(b *testing.B) {
			req := httptest.NewRequest("GET", "/orders/42", nil)
			req.Header.Set("Authorization", "Bearer "+token)
			var tPlain, tMetered time.Duration
			b.ReportAllocs()
			for b.Loop() {
				t0 := time.Now()
				w := httptest.NewRecorder()
				plain.ServeHTTP(w, req)
				t1 := time.Now()
				w2 := httptest.NewRecorder()
				tc.metered.ServeHTTP(w2, req)
				tMetered += time.Since(t1)
				tPlain += t1.Sub(t0)
				if w.Code != http.StatusOK || w2.Code != http.StatusOK {
					b.Fatalf("status %d, %d", w.Code, w2.Code)
				}
			}
			b.ReportMetric(float64(tPlain)/float64(b.N), "plain-ns/op")
			b.ReportMetric(float64(tMetered)/float64(b.N), "metered-ns/op")
			b.ReportMetric(float64(tMetered-tPlain)/float64(b.N), "overhead-ns/op")
		})
	}
}
