package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// runMetrics collects the metrics of one command run in memory: an OpenTelemetry SDK
// MeterProvider read once, at the end, by a ManualReader. The SDK packages depend on the
// OpenTelemetry API only; the CLI is where an SDK is chosen.
type runMetrics struct {
	reader   *sdkmetric.ManualReader
	provider *sdkmetric.MeterProvider
}

func newRunMetrics() *runMetrics {
	r := sdkmetric.NewManualReader()
	return &runMetrics{reader: r, provider: sdkmetric.NewMeterProvider(sdkmetric.WithReader(r))}
}

// metricPoint is one series: an instrument, its attributes, and its value (a counter's
// count) or, for a histogram, its count and sum.
type metricPoint struct {
	name, attrs string
	set         attribute.Set
	value       int64
	histogram   bool
	sum         float64
}

// collect reads every series recorded so far, sorted by instrument and attributes.
func (m *runMetrics) collect(ctx context.Context) ([]metricPoint, error) {
	var rm metricdata.ResourceMetrics
	if err := m.reader.Collect(ctx, &rm); err != nil {
		return nil, err
	}
	var points []metricPoint
	for _, sm := range rm.ScopeMetrics {
		for _, mt := range sm.Metrics {
			switch d := mt.Data.(type) {
			case metricdata.Sum[int64]:
				for _, dp := range d.DataPoints {
					points = append(points, metricPoint{name: mt.Name, attrs: encode(dp.Attributes), set: dp.Attributes, value: dp.Value})
				}
			case metricdata.Histogram[float64]:
				for _, dp := range d.DataPoints {
					points = append(points, metricPoint{name: mt.Name, attrs: encode(dp.Attributes), set: dp.Attributes,
						value: int64(dp.Count), histogram: true, sum: dp.Sum})
				}
			}
		}
	}
	slices.SortFunc(points, func(a, b metricPoint) int {
		return strings.Compare(a.name+"\x00"+a.attrs, b.name+"\x00"+b.attrs)
	})
	return points, nil
}

func encode(s attribute.Set) string { return s.Encoded(attribute.DefaultEncoder()) }

// print writes every series as a table.
func (m *runMetrics) print(ctx context.Context, w io.Writer) error {
	points, err := m.collect(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "METRIC\tATTRIBUTES\tVALUE")
	for _, p := range points {
		value := fmt.Sprint(p.value)
		if p.histogram {
			value = fmt.Sprintf("count %d, sum %.6fs", p.value, p.sum)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", p.name, p.attrs, value)
	}
	if len(points) == 0 {
		fmt.Fprintln(tw, "(nothing recorded)\t\t")
	}
	return tw.Flush()
}

// by sums the counter name over its series, by the value of attribute key.
func by(points []metricPoint, name, key string) (total int64, parts map[string]int64) {
	parts = map[string]int64{}
	for _, p := range points {
		if p.name != name || p.histogram {
			continue
		}
		v, _ := p.set.Value(attribute.Key(key))
		parts[v.String()] += p.value
		total += p.value
	}
	return total, parts
}

// describe is "a 3, b 1": the parts, largest first.
func describe(parts map[string]int64) string {
	keys := slices.Collect(maps.Keys(parts))
	slices.SortFunc(keys, func(a, b string) int {
		if parts[a] != parts[b] {
			return int(parts[b] - parts[a])
		}
		return strings.Compare(a, b)
	})
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = fmt.Sprintf("%s %d", k, parts[k])
	}
	return strings.Join(out, ", ")
}

// summary writes the demo's short account of its metrics: token requests, JWKS fetches,
// cache use and decisions by outcome.
func (m *runMetrics) summary(ctx context.Context, w io.Writer) error {
	points, err := m.collect(ctx)
	if err != nil {
		return err
	}
	requests, byOutcome := by(points, "cognitokit.token.requests", "outcome")
	fetches, byTrigger := by(points, "cognitokit.jwks.fetches", "trigger")
	calls, byResult := by(points, "cognitokit.token.cache", "result")
	verifications, byCache := by(points, "cognitokit.verifications", "cache")
	decisions, byDecision := by(points, "cognitokit.policy.decisions", "outcome")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "Metrics of this run (OpenTelemetry, see --metrics):")
	fmt.Fprintf(tw, "  token requests to Cognito\t%d\t(%s)\n", requests, describe(byOutcome))
	fmt.Fprintf(tw, "  JWKS fetches\t%d\t(%s)\n", fetches, describe(byTrigger))
	fmt.Fprintf(tw, "  GetToken calls\t%d\t(cache %s)\n", calls, describe(byResult))
	fmt.Fprintf(tw, "  verifications\t%d\t(verified-token cache %s)\n", verifications, describe(byCache))
	fmt.Fprintf(tw, "  policy decisions\t%d\t(%s)\n", decisions, describe(byDecision))
	return tw.Flush()
}
