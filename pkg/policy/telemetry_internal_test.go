package policy

import (
	"context"
	"net/http/httptest"
	"testing"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

func newTestTelemetry(t testing.TB) (*policyTelemetry, *sdkmetric.ManualReader) {
	r := sdkmetric.NewManualReader()
	c := middlewareConfig{meterProvider: sdkmetric.NewMeterProvider(sdkmetric.WithReader(r))}
	tel := newPolicyTelemetry(&c)
	if tel == nil {
		t.Fatal("no telemetry with a meter provider")
	}
	return tel, r
}

// TestDecisionCountsDoNotAllocate: once a route and outcome were seen, counting them
// again allocates nothing, and concurrent first counts of new keys lose none.
func TestDecisionCountsDoNotAllocate(t *testing.T) {
	tel, r := newTestTelemetry(t)
	req := httptest.NewRequest("GET", "/orders/1", nil)
	tel.decided(req, "GET /orders/{id}", outcomeAllow, 200, "")
	if n := testing.AllocsPerRun(1000, func() { tel.decided(req, "GET /orders/{id}", outcomeAllow, 200, "") }); n != 0 {
		t.Errorf("%v allocs per decision; want 0", n)
	}
	done := make(chan struct{})
	for g := range 8 {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := range 100 {
				tel.decided(req, string(rune('a'+g)), string(rune('a'+i%5)), 403, "")
			}
		}()
	}
	for range 8 {
		<-done
	}
	var rm metricdata.ResourceMetrics
	if err := r.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	var total int64
	series := 0
	for _, dp := range rm.ScopeMetrics[0].Metrics[0].Data.(metricdata.Sum[int64]).DataPoints {
		total += dp.Value
		series++
	}
	if total != 1+1001+800 || series != 1+8*5 {
		t.Errorf("%d decisions in %d series; want 1802 in 41 (AllocsPerRun runs once more than asked)", total, series)
	}
}

func TestNoProviderNoPolicyTelemetry(t *testing.T) {
	if newPolicyTelemetry(&middlewareConfig{}) != nil {
		t.Error("telemetry without a provider")
	}
}

// BenchmarkTelemetryDecision is what the middleware adds per request with a meter
// provider: one decision counted in a series seen before.
func BenchmarkTelemetryDecision(b *testing.B) {
	tel, _ := newTestTelemetry(b)
	req := httptest.NewRequest("GET", "/orders/1", nil)
	b.ReportAllocs()
	for b.Loop() {
		tel.decided(req, "GET /orders/{id}", outcomeAllow, 200, "")
	}
}
