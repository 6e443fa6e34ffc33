package main

import (
	"context"
	"fmt"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
)

// serveMetrics are the instruments of cognitokit serve (verifications, JWKS fetches,
// policy decisions) exposed on /metrics through the OpenTelemetry Prometheus exporter,
// on a registry of serve's own: nothing global.
type serveMetrics struct {
	provider *sdkmetric.MeterProvider
	handler  http.Handler
}

func newServeMetrics() (*serveMetrics, error) {
	registry := prometheus.NewRegistry()
	exporter, err := otelprom.New(otelprom.WithRegisterer(registry))
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	return &serveMetrics{
		provider: sdkmetric.NewMeterProvider(sdkmetric.WithReader(exporter)),
		handler:  promhttp.HandlerFor(registry, promhttp.HandlerOpts{}),
	}, nil
}

func (m *serveMetrics) shutdown() { _ = m.provider.Shutdown(context.Background()) }
