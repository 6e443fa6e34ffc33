package cognito_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/cognitokit/cognitokit/internal/testkit"
	"github.com/cognitokit/cognitokit/pkg/cognito"
	"github.com/cognitokit/cognitokit/pkg/cognitotest"
	"github.com/cognitokit/cognitokit/pkg/policy"
)

const scriptPolicy = `version: 1
default: deny
routes:
  "GET /orders/{id}":
    scopes: {any: [orders/read]}
  "DELETE /orders/{id}":
    scopes: {all: [orders/admin]}
`

// TestTelemetryScript runs a scripted sequence through an authenticator, an authorizer
// and the policy middleware sharing one MeterProvider (with a ManualReader) and one
// TracerProvider (with an in-memory exporter), then checks that every instrument holds
// exactly the expected series and values, that the spans and the decision events are
// there, and that no recorded attribute value holds a token, the client secret, a subject
// or a request path.
func TestTelemetryScript(t *testing.T) {
	ctx := context.Background()
	clock := testkit.NewClock(time.Now())
	cfg := cognitotest.DefaultConfig()
	cfg.Clock = clock.Now
	idp := cognitotest.Start(t, cfg)
	pool := idp.Pools()[0]
	reader, _ := pool.Client("orders-reader")

	metricReader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(metricReader))
	spans := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans))

	// Outbound.
	a, err := cognito.NewClientCredentialsAuthenticator(cognito.ClientCredentialsConfig{
		ClientID: reader.ID, ClientSecret: reader.Secret, TokenURL: idp.TokenURL(),
	}, cognito.WithClock(clock.Now), cognito.WithMeterProvider(mp), cognito.WithTracerProvider(tp),
		cognito.WithRetry(cognito.RetryPolicy{BaseDelay: time.Millisecond, MaxDelay: time.Millisecond}))
	if err != nil {
		t.Fatal(err)
	}
	getToken := func(what string) *cognito.Token {
		t.Helper()
		tok, err := a.GetToken(ctx)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return tok
	}
	idp.FailNext(cognitotest.EndpointToken, 1, cognitotest.Fault{Status: http.StatusServiceUnavailable})
	first := getToken("cold GetToken, a 503 then success")                    // miss; unavailable, ok
	getToken("cached GetToken")                                               // hit
	clock.Advance(50 * time.Minute)                                           // into the refresh-ahead window of a 1 h token
	getToken("refresh ahead")                                                 // refresh_ahead
	cognito.WaitRefresh(a)                                                    // ok
	if second := getToken("after the refresh"); second.Token == first.Token { // hit
		t.Fatal("the refresh ahead did not replace the token")
	}
	idp.FailNext(cognitotest.EndpointToken, 3, cognitotest.Fault{Status: http.StatusServiceUnavailable})
	clock.Advance(50 * time.Minute)
	getToken("refresh ahead that fails") // refresh_ahead; unavailable ×3
	cognito.WaitRefresh(a)
	getToken("after the failed refresh") // stale_served

	// Inbound.
	z, err := cognito.NewJWTAuthorizer(cognito.JWTAuthorizerConfig{UserPoolID: pool.ID, AllowAnyClient: true},
		cognito.WithEndpoint(idp.BaseURL()), cognito.WithClock(clock.Now),
		cognito.WithMeterProvider(mp), cognito.WithTracerProvider(tp))
	if err != nil {
		t.Fatal(err)
	}
	mint := func(o cognitotest.TokenOptions) string {
		t.Helper()
		tok, err := idp.MintAccessToken(o)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	forger, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	valid := mint(cognitotest.TokenOptions{Client: "orders-reader"})
	expired := mint(cognitotest.TokenOptions{Client: "orders-reader", IssuedAt: clock.Now().Add(-3 * time.Hour)})
	forged := mint(cognitotest.TokenOptions{Client: "orders-reader", SigningKey: forger})
	unknownKid := mint(cognitotest.TokenOptions{Client: "orders-reader", Header: map[string]any{"kid": "not-a-kid-of-the-pool"}})
	for _, tc := range []struct {
		what, token string
		want        error
	}{
		{"valid", valid, nil},                              // initial JWKS fetch; ok/access/miss
		{"expired", expired, cognito.ErrTokenExpired},      // expired/access/miss
		{"forged", forged, cognito.ErrInvalidSignature},    // invalid_signature/unknown/miss
		{"unknown kid", unknownKid, cognito.ErrUnknownKey}, // unknown_kid JWKS fetch; unknown_key/unknown/miss
		{"valid, seen before", valid, nil},                 // ok/access/hit
	} {
		if _, err := z.Verify(ctx, tc.token); (tc.want == nil) != (err == nil) || (tc.want != nil && !strings.Contains(err.Error(), tc.want.Error())) {
			t.Fatalf("Verify(%s) = %v; want %v", tc.what, err, tc.want)
		}
	}

	// Through the middleware, inside a server span as an HTTP instrumentation starts.
	p, err := policy.Parse([]byte(scriptPolicy), "script.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	h := policy.Middleware(p, z, policy.WithMeterProvider(mp), policy.WithTracerProvider(tp))(ok)
	server := tp.Tracer("test")
	for _, tc := range []struct {
		method, path, token string
		want                int
	}{
		{"GET", "/orders/7", valid, http.StatusOK},           // ok/access/hit; allow
		{"DELETE", "/orders/7", valid, http.StatusForbidden}, // ok/access/hit; insufficient_scope
		{"GET", "/nowhere/42", "", http.StatusForbidden},     // no_route, route ""
	} {
		sctx, span := server.Start(ctx, "server "+tc.method)
		req := httptest.NewRequestWithContext(sctx, tc.method, tc.path, nil)
		if tc.token != "" {
			req.Header.Set("Authorization", "Bearer "+tc.token)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		span.End()
		if w.Code != tc.want {
			t.Fatalf("%s %s: status %d; want %d", tc.method, tc.path, w.Code, tc.want)
		}
	}

	// Every instrument, exactly.
	got := collect(t, metricReader)
	poolAttr := "pool=" + pool.ID
	want := map[string]map[string]int64{
		"cognitokit.token.cache": {
			"result=hit": 2, "result=miss": 1, "result=refresh_ahead": 2, "result=stale_served": 1,
		},
		"cognitokit.token.requests":         {"outcome=ok": 2, "outcome=unavailable": 4},
		"cognitokit.token.request.duration": {"outcome=ok": 2, "outcome=unavailable": 4},
		"cognitokit.verifications": {
			"cache=miss,outcome=ok," + poolAttr + ",token_use=access":                 1,
			"cache=miss,outcome=expired," + poolAttr + ",token_use=access":            1,
			"cache=miss,outcome=invalid_signature," + poolAttr + ",token_use=unknown": 1,
			"cache=miss,outcome=unknown_key," + poolAttr + ",token_use=unknown":       1,
			"cache=hit,outcome=ok," + poolAttr + ",token_use=access":                  3,
		},
		"cognitokit.verification.duration": {
			"cache=miss,outcome=ok," + poolAttr + ",token_use=access":                 1,
			"cache=miss,outcome=expired," + poolAttr + ",token_use=access":            1,
			"cache=miss,outcome=invalid_signature," + poolAttr + ",token_use=unknown": 1,
			"cache=miss,outcome=unknown_key," + poolAttr + ",token_use=unknown":       1,
		},
		"cognitokit.jwks.fetches":        {"outcome=ok,trigger=initial": 1, "outcome=ok,trigger=unknown_kid": 1},
		"cognitokit.jwks.fetch.duration": {"outcome=ok,trigger=initial": 1, "outcome=ok,trigger=unknown_kid": 1},
		"cognitokit.policy.decisions": {
			"outcome=allow,route=GET /orders/{id}":                 1,
			"outcome=insufficient_scope,route=DELETE /orders/{id}": 1,
			"outcome=no_route,route=":                              1,
		},
	}
	for _, name := range slices.Sorted(maps.Keys(want)) {
		if !maps.Equal(got.values[name], want[name]) {
			t.Errorf("%s:\n got %v\nwant %v", name, got.values[name], want[name])
		}
	}
	for _, name := range slices.Sorted(maps.Keys(got.values)) {
		if _, ok := want[name]; !ok {
			t.Errorf("unexpected instrument %s: %v", name, got.values[name])
		}
	}

	// Spans: one per token request and per JWKS fetch, with the HTTP attributes; the
	// decisions as events on the server spans; no span per Verify.
	stubs := spans.GetSpans()
	count := map[string]int{}
	statuses := map[string][]int64{}
	var events []string
	for _, s := range stubs {
		count[s.Name]++
		attrs := attribute.NewSet(s.Attributes...)
		if v, ok := attrs.Value("http.response.status_code"); ok {
			statuses[s.Name] = append(statuses[s.Name], v.AsInt64())
		}
		if strings.HasPrefix(s.Name, "cognitokit.") {
			for _, key := range []attribute.Key{"http.request.method", "server.address", "server.port", "url.full"} {
				if !attrs.HasValue(key) {
					t.Errorf("span %s has no %s", s.Name, key)
				}
			}
		}
		for _, e := range s.Events {
			set := attribute.NewSet(e.Attributes...)
			events = append(events, e.Name+" "+set.Encoded(attribute.DefaultEncoder()))
		}
	}
	if count["cognitokit.token.request"] != 6 || count["cognitokit.jwks.fetch"] != 2 || count["cognitokit.verify"] != 0 {
		t.Errorf("spans: %v; want 6 token requests, 2 JWKS fetches, no verify", count)
	}
	slices.Sort(statuses["cognitokit.token.request"])
	if fmt.Sprint(statuses["cognitokit.token.request"]) != "[200 200 503 503 503 503]" {
		t.Errorf("token request statuses %v", statuses["cognitokit.token.request"])
	}
	wantEvents := []string{
		"cognitokit.policy.decision http.response.status_code=200,outcome=allow,route=GET /orders/{id}",
		"cognitokit.policy.decision http.response.status_code=403,outcome=insufficient_scope,route=DELETE /orders/{id}",
		"cognitokit.policy.decision http.response.status_code=403,outcome=no_route,route=",
	}
	if !slices.Equal(events, wantEvents) {
		t.Errorf("events:\n got %q\nwant %q", events, wantEvents)
	}

	// Nothing secret or personal in any attribute value, of metrics, spans or events.
	claims, err := z.Verify(ctx, valid)
	if err != nil {
		t.Fatal(err)
	}
	secrets := map[string]string{
		"client secret": reader.Secret, "subject": claims.Sub, "token": valid, "expired token": expired,
		"forged token": forged, "first outbound token": first.Token, "outbound token": getToken("last").Token,
		"request path": "/orders/7", "other request path": "/nowhere/42",
	}
	values := got.attrValues
	for _, s := range stubs {
		for _, kv := range s.Attributes {
			values = append(values, kv.Value.String())
		}
		for _, e := range s.Events {
			for _, kv := range e.Attributes {
				values = append(values, kv.Value.String())
			}
		}
	}
	if len(values) < 50 {
		t.Fatalf("only %d attribute values recorded", len(values))
	}
	for _, v := range values {
		for what, s := range secrets {
			if s != "" && strings.Contains(v, s) {
				t.Errorf("an attribute value holds the %s: %q", what, v)
			}
			// Signature parts, should a token be cut.
			if i := strings.LastIndexByte(s, '.'); strings.Count(s, ".") == 2 && strings.Contains(v, s[i+1:]) {
				t.Errorf("an attribute value holds part of the %s", what)
			}
		}
	}
}

// collected is what a ManualReader read: per instrument, per encoded attribute set, the
// value of a sum or the count of a histogram; and every attribute value.
type collected struct {
	values     map[string]map[string]int64
	attrValues []string
}

func collect(t *testing.T, r *sdkmetric.ManualReader) collected {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	c := collected{values: map[string]map[string]int64{}}
	add := func(name string, attrs attribute.Set, v int64) {
		if c.values[name] == nil {
			c.values[name] = map[string]int64{}
		}
		c.values[name][attrs.Encoded(attribute.DefaultEncoder())] += v
		for _, kv := range attrs.ToSlice() {
			c.attrValues = append(c.attrValues, kv.Value.String())
		}
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				if !d.IsMonotonic {
					t.Errorf("%s is not monotonic", m.Name)
				}
				for _, dp := range d.DataPoints {
					add(m.Name, dp.Attributes, dp.Value)
				}
			case metricdata.Histogram[float64]:
				if m.Unit != "s" {
					t.Errorf("%s has unit %q; want s", m.Name, m.Unit)
				}
				for _, dp := range d.DataPoints {
					add(m.Name, dp.Attributes, int64(dp.Count))
				}
			default:
				t.Errorf("%s: unexpected data %T", m.Name, m.Data)
			}
		}
	}
	return c
}
