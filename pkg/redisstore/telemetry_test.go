package redisstore_test

import (
	"context"
	"testing"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/cognitokit/cognitokit/pkg/redisstore"
)

// TestFleetTelemetry: the cognitokit.fleet.* counters are the store's Stats, and every
// Redis call has a span without a key.
func TestFleetTelemetry(t *testing.T) {
	r := startRedis(t)
	_, cfg := startCognito(t, nil)
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	spans := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans))
	opts := []redisstore.Option{redisstore.WithMeterProvider(mp), redisstore.WithTracerProvider(tp)}
	first := newInstance(t, r.Addr(), cfg, opts)
	if _, err := first.auth.GetToken(context.Background()); err != nil {
		t.Fatal(err)
	}
	late := newInstance(t, r.Addr(), cfg, nil)
	if _, err := late.auth.GetToken(context.Background()); err != nil {
		t.Fatal(err)
	}

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
				if dp.Attributes.Len() != 0 {
					t.Errorf("%s has attributes %v", m.Name, dp.Attributes.ToSlice())
				}
				got[m.Name] = dp.Value
			}
		}
	}
	s := first.store.Stats()
	want := map[string]int64{
		"cognitokit.fleet.hits": int64(s.Hits), "cognitokit.fleet.misses": int64(s.Misses),
		"cognitokit.fleet.stores": int64(s.Stores), "cognitokit.fleet.locks": int64(s.Locks),
		"cognitokit.fleet.lock_waits": int64(s.LockWaits), "cognitokit.fleet.shared": int64(s.Shared),
		"cognitokit.fleet.fallbacks": int64(s.Fallbacks), "cognitokit.fleet.lost_locks": int64(s.LostLocks),
		"cognitokit.fleet.held_off": int64(s.HeldOff), "cognitokit.fleet.cooldowns": int64(s.Cooldowns),
	}
	for name, v := range want {
		if g, ok := got[name]; !ok || g != v {
			t.Errorf("%s = %d (reported: %v); want %d", name, g, ok, v)
		}
	}
	if len(got) != len(want) || s.Locks != 1 || s.Stores != 1 {
		t.Errorf("instruments %v; stats %+v", got, s)
	}

	ops := map[string]int{}
	for _, sp := range spans.GetSpans() {
		ops[sp.Name]++
		for _, kv := range sp.Attributes {
			if v := kv.Value.String(); len(v) > 20 {
				t.Errorf("span %s attribute %s = %q: a key?", sp.Name, kv.Key, v)
			}
		}
	}
	if ops["cognitokit.fleet.lock"] != 1 || ops["cognitokit.fleet.release"] != 1 {
		t.Errorf("spans %v; want one lock and one release", ops)
	}
}
