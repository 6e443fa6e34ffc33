package redisstore

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/cognitokit/cognitokit/internal/telemetry"
)

// scopeName is the instrumentation scope of this package's meter and tracer.
const scopeName = "github.com/cognitokit/cognitokit/pkg/redisstore"

// WithMeterProvider makes the store report its [Stats] to mp as observable counters:
// cognitokit.fleet.hits, .misses, .stores, .locks, .lock_waits, .shared, .fallbacks,
// .lost_locks, .held_off and .cooldowns, read when mp collects. Nil, the default, reports nothing.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return func(o *options) { o.meterProvider = mp }
}

// WithTracerProvider makes the store start a span for every Redis call it makes,
// "cognitokit.fleet.<op>" (load, store, delete, lock, release, renew, wait), with the
// database attributes of the OpenTelemetry semantic conventions and no key or token.
// Nil, the default, traces nothing.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(o *options) { o.tracerProvider = tp }
}

// registerMetrics registers the observable counters of s's Stats.
func (s *Store) registerMetrics(mp metric.MeterProvider) error {
	m := mp.Meter(scopeName)
	for _, c := range []struct {
		name, description string
		value             func(Stats) uint64
	}{
		{"hits", "Token reads that found a token in Redis", func(st Stats) uint64 { return st.Hits }},
		{"misses", "Token reads that found no token in Redis", func(st Stats) uint64 { return st.Misses }},
		{"stores", "Tokens written to Redis", func(st Stats) uint64 { return st.Stores }},
		{"locks", "Fetches this instance ran holding the fleet's lock", func(st Stats) uint64 { return st.Locks }},
		{"lock_waits", "Waits for another instance's fetch", func(st Stats) uint64 { return st.LockWaits }},
		{"shared", "Waits that ended with another instance's token", func(st Stats) uint64 { return st.Shared }},
		{"fallbacks", "Calls that did without Redis (failed, slow, cooling down, waited too long)", func(st Stats) uint64 { return st.Fallbacks }},
		{"lost_locks", "Fetches whose lock expired or was taken over before they ended", func(st Stats) uint64 { return st.LostLocks }},
		{"held_off", "Calls that found a fleet cool-down in force and made no token request", func(st Stats) uint64 { return st.HeldOff }},
		{"cooldowns", "Cool-downs this instance recorded for the fleet", func(st Stats) uint64 { return st.Cooldowns }},
	} {
		err := telemetry.Observe(m, "cognitokit.fleet."+c.name, c.description, func(o metric.Observer, inst metric.Int64Observable) {
			o.ObserveInt64(inst, int64(c.value(s.Stats())))
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// call is doCall in a span when the store traces.
func (s *Store) call(ctx context.Context, op string, bound time.Duration, f func(context.Context) error) error {
	if s.tracer == nil {
		return s.doCall(ctx, op, bound, f)
	}
	ctx, span := s.tracer.Start(ctx, "cognitokit.fleet."+op, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("db.system.name", "redis"), attribute.String("db.operation.name", op)))
	defer span.End()
	err := s.doCall(ctx, op, bound, f)
	if err != nil {
		span.SetStatus(codes.Error, "redis call failed")
		span.SetAttributes(attribute.String("error.type", "unavailable"))
	}
	return err
}
