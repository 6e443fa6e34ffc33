package forwardauth_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/cognitokit/cognitokit/internal/forwardauth"
	"github.com/cognitokit/cognitokit/pkg/policy"
)

// BenchmarkDecision compares one allowed decision (a verified-cache hit) asked through
// /auth/nginx with the same decision made by the middleware in front of a handler: the
// cost of rebuilding the original request, recording the outcome and writing the
// identity headers. The writer keeps the headers as net/http's does, without
// httptest.ResponseRecorder's copy of them at WriteHeader.
type benchWriter struct {
	h      http.Header
	status int
}

func (w *benchWriter) Header() http.Header         { return w.h }
func (w *benchWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *benchWriter) WriteHeader(s int)           { w.status = s }

func BenchmarkDecision(b *testing.B) {
	f := newFixture(b)
	p, err := policy.Load("../../examples/orders/routes.yaml")
	if err != nil {
		b.Fatal(err)
	}
	auth := f.callers[1].auth[0] // orders-reader
	d := newDecider(b, forwardauth.Static(p), f.authz)
	b.Run("endpoint=nginx", func(b *testing.B) {
		h := d.Handler(http.NotFoundHandler())
		r := httptest.NewRequest("GET", forwardauth.NginxPath, nil)
		r.RemoteAddr = "127.0.0.1:4000"
		r.Header.Set("X-Original-Method", "GET")
		r.Header.Set("X-Original-URI", "/orders/1")
		r.Header.Set("Authorization", auth)
		b.ReportAllocs()
		for b.Loop() {
			w := &benchWriter{h: http.Header{}, status: 200}
			h.ServeHTTP(w, r)
			if w.status != 200 {
				b.Fatal(w.status)
			}
		}
	})
	b.Run("middleware", func(b *testing.B) {
		h := policy.Middleware(p, f.authz)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
		r := httptest.NewRequest("GET", "/orders/1", nil)
		r.Header.Set("Authorization", auth)
		b.ReportAllocs()
		for b.Loop() {
			w := &benchWriter{h: http.Header{}, status: 200}
			h.ServeHTTP(w, r)
			if w.status != 200 {
				b.Fatal(w.status)
			}
		}
	})
}
