// Package telemetry is what the SDK's packages share to report OpenTelemetry metrics and
// spans through the OpenTelemetry API alone (never an SDK or an exporter).
//
// Counts are kept in atomics and read by observable counters when the MeterProvider
// collects: counting on a hot path (a cached token served, a verified token seen again,
// a policy decision) is then one atomic add, with no attribute set built and no
// allocation, where a synchronous counter of the SDK would look its attribute set up on
// every call. Durations are synchronous histograms, recorded only on paths that already
// cost a network request or a signature check.
package telemetry

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// Counter is a monotonic count per attribute set, fixed when it is built, exported as an
// observable counter. Series that were never counted are not reported.
type Counter struct {
	opts []metric.ObserveOption
	n    []atomic.Int64
}

// NewCounter registers an observable counter on m whose series are sets; Inc(i) counts
// in sets[i].
func NewCounter(m metric.Meter, name, description string, sets []attribute.Set) (*Counter, error) {
	c := &Counter{opts: make([]metric.ObserveOption, len(sets)), n: make([]atomic.Int64, len(sets))}
	for i, s := range sets {
		c.opts[i] = metric.WithAttributeSet(s)
	}
	err := observe(m, name, description, func(o metric.Observer, inst metric.Int64Observable) {
		for i := range c.n {
			if v := c.n[i].Load(); v > 0 {
				o.ObserveInt64(inst, v, c.opts[i])
			}
		}
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// observe registers the observable counter name on m, if it is not there yet, and f as
// one more callback of it. Several authenticators (or authorizers, middlewares) given the
// same MeterProvider then each report their counts, and the SDK adds up what they observe
// in the same series; a callback given with the instrument
// (metric.WithInt64Callback) would be dropped for all but the first of them.
func observe(m metric.Meter, name, description string, f func(metric.Observer, metric.Int64Observable)) error {
	inst, err := m.Int64ObservableCounter(name, metric.WithDescription(description), metric.WithUnit("{"+unitOf(name)+"}"))
	if err != nil {
		return err
	}
	_, err = m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		f(o, inst)
		return nil
	}, inst)
	return err
}

// Inc counts one in the i-th attribute set.
func (c *Counter) Inc(i int) { c.n[i].Add(1) }

// unitOf is the annotation of a count's unit: the instrument name's last part.
func unitOf(name string) string {
	for i := len(name) - 1; i >= 0; i-- {
		if name[i] == '.' {
			return name[i+1:]
		}
	}
	return name
}

// KeyedCounter is a monotonic count per key, for attribute sets not known in advance but
// bounded (the route patterns of a policy): the key's attribute set is built the first
// time the key is counted. Lookups read an immutable map behind an atomic pointer, so the
// counting path takes no lock and allocates nothing once the key is known.
type KeyedCounter[K comparable] struct {
	attrs func(K) attribute.Set
	m     atomic.Pointer[map[K]*keyedEntry]
	mu    sync.Mutex // serialises adding keys
}

type keyedEntry struct {
	n   atomic.Int64
	opt metric.ObserveOption
}

// Observe registers the observable counter name on m, if it is not there yet, with f as
// one more of its callbacks (see observe).
func Observe(m metric.Meter, name, description string, f func(metric.Observer, metric.Int64Observable)) error {
	return observe(m, name, description, f)
}

// NewKeyedCounter registers an observable counter on m whose series are the keys counted
// so far, each with the attribute set attrs returns for it.
func NewKeyedCounter[K comparable](m metric.Meter, name, description string, attrs func(K) attribute.Set) (*KeyedCounter[K], error) {
	c := &KeyedCounter[K]{attrs: attrs}
	empty := map[K]*keyedEntry{}
	c.m.Store(&empty)
	err := observe(m, name, description, func(o metric.Observer, inst metric.Int64Observable) {
		for _, e := range *c.m.Load() {
			o.ObserveInt64(inst, e.n.Load(), e.opt)
		}
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// Inc counts one for k.
func (c *KeyedCounter[K]) Inc(k K) {
	if e := (*c.m.Load())[k]; e != nil {
		e.n.Add(1)
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	old := *c.m.Load()
	e := old[k]
	if e == nil {
		e = &keyedEntry{opt: metric.WithAttributeSet(c.attrs(k))}
		next := make(map[K]*keyedEntry, len(old)+1)
		for k, v := range old {
			next[k] = v
		}
		next[k] = e
		c.m.Store(&next)
	}
	e.n.Add(1)
}

// RecordOptions returns, for each set, the options that record a measurement in it, as a
// slice ready to pass with "...", so that recording allocates nothing.
func RecordOptions(sets []attribute.Set) [][]metric.RecordOption {
	out := make([][]metric.RecordOption, len(sets))
	for i, s := range sets {
		out[i] = []metric.RecordOption{metric.WithAttributeSet(s)}
	}
	return out
}

// DurationBuckets are the histogram bucket bounds, in seconds, of the SDK's durations:
// from the tens of microseconds of a signature check to the seconds of a slow token
// endpoint.
var DurationBuckets = []float64{0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// NewDurationHistogram registers a histogram of durations in seconds.
func NewDurationHistogram(m metric.Meter, name, description string) (metric.Float64Histogram, error) {
	return m.Float64Histogram(name, metric.WithDescription(description), metric.WithUnit("s"),
		metric.WithExplicitBucketBoundaries(DurationBuckets...))
}

// Doer is the HTTP client interface of the generated client (gen.HttpRequestDoer).
type Doer interface {
	Do(*http.Request) (*http.Response, error)
}

// TracedDoer starts a client span named name around every request next makes, with the
// HTTP attributes of the OpenTelemetry semantic conventions: the method, the server's
// address and port, the URL without user info, query or fragment, and the response
// status. It records no header, so no credential.
type TracedDoer struct {
	Next   Doer
	Tracer trace.Tracer
	Name   string
}

// Do makes the request inside its span. The span ends when the response headers are in
// (the SDK's bodies are small and capped).
func (d TracedDoer) Do(req *http.Request) (*http.Response, error) {
	ctx, span := d.Tracer.Start(req.Context(), d.Name, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(HTTPAttributes(req.Method, req.URL)...))
	defer span.End()
	resp, err := d.Next.Do(req.WithContext(ctx))
	if err != nil {
		span.SetStatus(codes.Error, "request failed")
		span.SetAttributes(attribute.String("error.type", errorType(err)))
		return resp, err
	}
	span.SetAttributes(attribute.Int("http.response.status_code", resp.StatusCode))
	if resp.StatusCode >= 400 {
		span.SetStatus(codes.Error, "HTTP "+strconv.Itoa(resp.StatusCode))
		span.SetAttributes(attribute.String("error.type", strconv.Itoa(resp.StatusCode)))
	}
	return resp, err
}

// errorType is a low-cardinality name for a failed request, as error.type wants.
func errorType(err error) string {
	if ue, ok := err.(*url.Error); ok {
		if ue.Timeout() {
			return "timeout"
		}
	}
	return "request_failed"
}

// HTTPAttributes are the semantic-convention attributes of a request to u: never its
// user info, query or fragment, where credentials could hide.
func HTTPAttributes(method string, u *url.URL) []attribute.KeyValue {
	clean := url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path, RawPath: u.RawPath}
	attrs := []attribute.KeyValue{
		attribute.String("http.request.method", method),
		attribute.String("server.address", u.Hostname()),
		attribute.String("url.full", clean.String()),
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	if p, err := strconv.Atoi(port); err == nil {
		attrs = append(attrs, attribute.Int("server.port", p))
	}
	return attrs
}
