package policy_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cognitokit/cognitokit/pkg/cognito"
	"github.com/cognitokit/cognitokit/pkg/cognitotest"
	"github.com/cognitokit/cognitokit/pkg/policy"
)

// BenchmarkMiddleware measures what policy.Middleware costs a request beyond Verify. The
// same request, GET /orders/42 with a valid access token that the authorizer has verified
// before (a verified-cache hit, as for nearly every request of real traffic), served by a
// ServeMux whose handler writes "ok", two ways:
//
//   - direct: the token taken from the header with strings.CutPrefix, authz.Verify, the mux:
//     the least a service verifying tokens does.
//   - middleware: policy.Middleware(routes, authz) around the same mux: route match, strict
//     bearer parsing, the same Verify, Decide, the claims put in the request context.
//
// The middleware's overhead is middleware − direct. The recorder variants serve the
// request in-process with an httptest.ResponseRecorder, so that nothing but the handler
// chain is timed; the loopback variants send it through an httptest.Server over
// 127.0.0.1 with a keep-alive client, where the overhead disappears in the cost of HTTP.
func BenchmarkMiddleware(b *testing.B) {
	ctx := context.Background()
	idp := cognitotest.Start(b, cognitotest.DefaultConfig())
	authz, err := cognito.NewJWTAuthorizer(cognito.JWTAuthorizerConfig{
		UserPoolID: idp.Pools()[0].ID, AllowAnyClient: true,
	}, cognito.WithEndpoint(idp.BaseURL()))
	if err != nil {
		b.Fatal(err)
	}
	if err := authz.Warm(ctx); err != nil {
		b.Fatal(err)
	}
	token, err := idp.MintAccessToken(cognitotest.TokenOptions{Client: "orders-reader", TTL: 24 * time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := authz.Verify(ctx, token); err != nil {
		b.Fatal(err)
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /orders/{id}", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	})
	direct := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok {
			http.Error(w, "no token", http.StatusUnauthorized)
			return
		}
		if _, err := authz.Verify(r.Context(), tok); err != nil {
			http.Error(w, "bad token", http.StatusUnauthorized)
			return
		}
		mux.ServeHTTP(w, r)
	})
	protected := policy.Middleware(loadExample(b), authz)(mux)

	for _, tc := range []struct {
		name string
		h    http.Handler
	}{{"direct", direct}, {"middleware", protected}} {
		b.Run("recorder/"+tc.name, func(b *testing.B) {
			req := httptest.NewRequest("GET", "/orders/42", nil)
			req.Header.Set("Authorization", "Bearer "+token)
			b.ReportAllocs()
			for b.Loop() {
				w := httptest.NewRecorder()
				tc.h.ServeHTTP(w, req)
				if w.Code != http.StatusOK {
					b.Fatalf("status %d: %s", w.Code, w.Body)
				}
			}
		})
	}
	// Both ways in every iteration, timed apart: the overhead as one number, steady on a
	// shared machine where two benchmarks run seconds apart see different loads.
	b.Run("recorder/overhead", func(b *testing.B) {
		req := httptest.NewRequest("GET", "/orders/42", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		var tDirect, tMiddleware time.Duration
		b.ReportAllocs()
		for b.Loop() {
			t0 := time.Now()
			w := httptest.NewRecorder()
			direct.ServeHTTP(w, req)
			t1 := time.Now()
			w2 := httptest.NewRecorder()
			protected.ServeHTTP(w2, req)
			tMiddleware += time.Since(t1)
			tDirect += t1.Sub(t0)
			if w.Code != http.StatusOK || w2.Code != http.StatusOK {
				b.Fatalf("status %d, %d", w.Code, w2.Code)
			}
		}
		b.ReportMetric(float64(tDirect)/float64(b.N), "direct-ns/op")
		b.ReportMetric(float64(tMiddleware)/float64(b.N), "middleware-ns/op")
		b.ReportMetric(float64(tMiddleware-tDirect)/float64(b.N), "overhead-ns/op")
	})
	for _, tc := range []struct {
		name string
		h    http.Handler
	}{{"direct", direct}, {"middleware", protected}} {
		b.Run("loopback/"+tc.name, func(b *testing.B) {
			srv := httptest.NewServer(tc.h)
			defer srv.Close()
			client := srv.Client()
			req, err := http.NewRequest("GET", srv.URL+"/orders/42", nil)
			if err != nil {
				b.Fatal(err)
			}
			req.Header.Set("Authorization", "Bearer "+token)
			b.ReportAllocs()
			for b.Loop() {
				resp, err := client.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					b.Fatalf("status %d", resp.StatusCode)
				}
			}
		})
	}
}
