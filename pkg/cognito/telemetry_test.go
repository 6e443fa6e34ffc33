package cognito

import (
	"context"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"slices"
	"strconv"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/cognitokit/cognitokit/pkg/cognitotest"
)

func TestTokenOutcome(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{nil, "ok"},
		{&AuthenticationError{Reason: ErrTokenRequestRejected, StatusCode: 400, ErrorCode: "invalid_client"}, "invalid_client"},
		{&AuthenticationError{Reason: ErrTokenRequestRejected, StatusCode: 400, ErrorCode: "invalid_scope"}, "invalid_scope"},
		{&AuthenticationError{Reason: ErrTokenRequestRejected, StatusCode: 400, ErrorCode: "invalid_request"}, "invalid_request"},
		{&AuthenticationError{Reason: ErrTokenRequestRejected, StatusCode: 400, ErrorCode: "unsupported_grant_type"}, "unsupported_grant_type"},
		// A code the server made up is not a series of its own.
		{&AuthenticationError{Reason: ErrTokenRequestRejected, StatusCode: 400, ErrorCode: "secret-abc123"}, "rejected"},
		{&AuthenticationError{Reason: ErrTokenRequestRejected, StatusCode: 403}, "rejected"},
		{&AuthenticationError{Reason: ErrTokenEndpointUnavailable, StatusCode: 429, ErrorCode: "slow_down"}, "throttled"},
		{&AuthenticationError{Reason: ErrTokenEndpointUnavailable, StatusCode: 503}, "unavailable"},
		{&AuthenticationError{Reason: ErrTokenEndpointUnavailable, Err: errors.New("connection refused")}, "unavailable"},
		{&AuthenticationError{Reason: ErrInvalidTokenResponse, StatusCode: 200}, "invalid_response"},
		{context.DeadlineExceeded, "unavailable"},
	} {
		if got := tokenOutcomes[tokenOutcome(tc.err)]; got != tc.want {
			t.Errorf("tokenOutcome(%v) = %q; want %q", tc.err, got, tc.want)
		}
	}
}

// TestVerifyOutcomesCoverEveryReason keeps the outcome list of cognitokit.verifications in
// step with errors.go: every reason Verify can give has its series.
func TestVerifyOutcomesCoverEveryReason(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "errors.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	notVerify := []string{"token_request_rejected", "token_endpoint_unavailable", "invalid_token_response", "invalid_config"}
	n := 0
	ast.Inspect(f, func(node ast.Node) bool {
		call, ok := node.(*ast.CallExpr)
		if !ok || len(call.Args) == 0 {
			return true
		}
		if id, ok := call.Fun.(*ast.Ident); !ok || id.Name != "newReason" {
			return true
		}
		lit, ok := call.Args[0].(*ast.BasicLit)
		if !ok {
			return true
		}
		code, _ := strconv.Unquote(lit.Value)
		n++
		if !slices.Contains(notVerify, code) && !slices.Contains(verifyOutcomes, code) {
			t.Errorf("reason %q has no outcome in verifyOutcomes", code)
		}
		return true
	})
	if n < 10 {
		t.Fatalf("found %d reasons in errors.go", n)
	}
}

// TestNoProviderNoTelemetry: without providers nothing is built, so the hot paths take
// their nil branch.
func TestNoProviderNoTelemetry(t *testing.T) {
	te := startTokenEndpoint(t, nil)
	a, _ := newAuth(t, testConfig(te.TokenURL()))
	if a.tel != nil {
		t.Error("authenticator telemetry without a meter provider")
	}
	z, err := NewJWTAuthorizer(JWTAuthorizerConfig{UserPoolID: "us-east-1_Abc", AllowAnyClient: true},
		WithVerifySpans(true)) // spans asked for, but no tracer provider
	if err != nil {
		t.Fatal(err)
	}
	if z.tel != nil || z.issuers[0].tel != nil {
		t.Error("authorizer telemetry without a provider")
	}
}

// TestTelemetryHotPathsDoNotAllocate: with a real SDK MeterProvider, a cached GetToken and
// the Verify of a token seen before still allocate nothing.
func TestTelemetryHotPathsDoNotAllocate(t *testing.T) {
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	ctx := context.Background()
	te := startTokenEndpoint(t, nil)
	a, _ := newAuth(t, testConfig(te.TokenURL()), WithMeterProvider(mp))
	mustToken(t, a)
	if n := testing.AllocsPerRun(1000, func() { _, _ = a.GetToken(ctx) }); n != 0 {
		t.Errorf("GetToken cached with metrics: %v allocs/op; want 0", n)
	}

	srv, tok := startCognitoWithToken(t)
	z, err := NewJWTAuthorizer(JWTAuthorizerConfig{UserPoolID: srv.Pools()[0].ID, AllowAnyClient: true},
		WithEndpoint(srv.BaseURL()), WithMeterProvider(mp))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := z.Verify(ctx, tok); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(1000, func() { _, _ = z.Verify(ctx, tok) }); n != 0 {
		t.Errorf("Verify seen before with metrics: %v allocs/op; want 0", n)
	}
}

// TestVerifySpans: WithVerifySpans gives every Verify a span with its outcome.
func TestVerifySpans(t *testing.T) {
	ctx := context.Background()
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	srv, tok := startCognitoWithToken(t)
	z, err := NewJWTAuthorizer(JWTAuthorizerConfig{UserPoolID: srv.Pools()[0].ID, AllowAnyClient: true},
		WithEndpoint(srv.BaseURL()), WithTracerProvider(tp), WithVerifySpans(true))
	if err != nil {
		t.Fatal(err)
	}
	_, _ = z.Verify(ctx, tok)
	_, _ = z.Verify(ctx, tok)
	_, _ = z.Verify(ctx, "not.a.token")
	var got []string
	for _, s := range exp.GetSpans() {
		if s.Name != spanVerify {
			continue
		}
		var outcome, cache string
		for _, kv := range s.Attributes {
			switch kv.Key {
			case "outcome":
				outcome = kv.Value.AsString()
			case "cache":
				cache = kv.Value.AsString()
			}
		}
		got = append(got, outcome+"/"+cache)
	}
	want := []string{"ok/miss", "ok/hit", "malformed_token/miss"}
	if !slices.Equal(got, want) {
		t.Errorf("verify spans %v; want %v", got, want)
	}
	// The JWKS fetch is a child of the first Verify's span.
	spans := exp.GetSpans()
	var fetch, first *tracetest.SpanStub
	for i := range spans {
		switch {
		case spans[i].Name == spanJWKSFetch:
			fetch = &spans[i]
		case spans[i].Name == spanVerify && first == nil:
			first = &spans[i]
		}
	}
	if fetch == nil || first == nil || fetch.Parent.SpanID() != first.SpanContext.SpanID() {
		t.Error("the JWKS fetch span is not a child of the Verify span that waited for it")
	}
}

func startCognitoWithToken(t *testing.T) (*cognitotest.Server, string) {
	t.Helper()
	srv, _ := startCognito(t, time.Hour)
	tok, err := srv.MintAccessToken(cognitotest.TokenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return srv, tok
}

// TestTelemetrySharedProvider: authenticators sharing a MeterProvider add up in the same
// series.
func TestTelemetrySharedProvider(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	te := startTokenEndpoint(t, nil)
	for range 3 {
		a, _ := newAuth(t, testConfig(te.TokenURL()), WithMeterProvider(mp))
		mustToken(t, a)
		mustToken(t, a)
	}
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, m := range rm.ScopeMetrics[0].Metrics {
		if s, ok := m.Data.(metricdata.Sum[int64]); ok {
			for _, dp := range s.DataPoints {
				set := dp.Attributes
				got[m.Name+" "+set.Encoded(attribute.DefaultEncoder())] = dp.Value
			}
		}
	}
	want := map[string]int64{
		"cognitokit.token.requests outcome=ok": 3,
		"cognitokit.token.cache result=miss":   3,
		"cognitokit.token.cache result=hit":    3,
	}
	if !maps.Equal(got, want) {
		t.Errorf("got %v; want %v", got, want)
	}
}
