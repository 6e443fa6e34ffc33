package policy

import (
	"net/http"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/cognitokit/cognitokit/internal/telemetry"
)

// scopeName is the instrumentation scope of this package's meter.
const scopeName = "github.com/cognitokit/cognitokit/pkg/policy"

// outcomeAllow is the outcome of an allowed request (public routes included) in metrics
// and span events; a denied one has its Reason.
const outcomeAllow = "allow"

// WithMeterProvider makes the middleware count its decisions in mp's
// cognitokit.policy.decisions counter, by route (the policy's route pattern, "" when no
// route matched) and outcome ("allow" or the denial's Reason). Nil, the default, counts
// nothing and costs nothing.
func WithMeterProvider(mp metric.MeterProvider) MiddlewareOption {
	return func(c *middlewareConfig) { c.meterProvider = mp }
}

// WithTracerProvider makes the middleware add its decision, as the event
// "cognitokit.policy.decision" (route, outcome, status, token_error), to the span of the
// request's context when that span is recording, such as the one an HTTP server
// instrumentation started. The middleware starts no span of its own. Nil, the default,
// adds nothing.
func WithTracerProvider(tp trace.TracerProvider) MiddlewareOption {
	return func(c *middlewareConfig) { c.tracing = tp != nil }
}

// decisionKey is a series of cognitokit.policy.decisions.
type decisionKey struct{ route, outcome string }

// policyTelemetry is a middleware's instruments; nil without a provider.
type policyTelemetry struct {
	decisions *telemetry.KeyedCounter[decisionKey] // nil without a meter provider
	tracing   bool
}

// newPolicyTelemetry returns nil when c asks for neither. A meter provider that refuses
// the instrument is logged and done without: the middleware has no error to return.
func newPolicyTelemetry(c *middlewareConfig) *policyTelemetry {
	if c.meterProvider == nil && !c.tracing {
		return nil
	}
	t := &policyTelemetry{tracing: c.tracing}
	if c.meterProvider != nil {
		var err error
		t.decisions, err = telemetry.NewKeyedCounter(c.meterProvider.Meter(scopeName), "cognitokit.policy.decisions",
			"Requests the policy middleware decided, by route and outcome",
			func(k decisionKey) attribute.Set {
				return attribute.NewSet(attribute.String("route", k.route), attribute.String("outcome", k.outcome))
			})
		if err != nil {
			c.logger.Warn("policy: no decision metrics: the meter provider refused the instrument", "error", err.Error())
			t.decisions = nil
		}
	}
	if t.decisions == nil && !t.tracing {
		return nil
	}
	return t
}

// decided records one decision on route: outcome is "allow" or the denial's reason.
func (t *policyTelemetry) decided(r *http.Request, route, outcome string, status int, tokenError string) {
	if t.decisions != nil {
		t.decisions.Inc(decisionKey{route, outcome})
	}
	if !t.tracing {
		return
	}
	if span := trace.SpanFromContext(r.Context()); span.IsRecording() {
		attrs := []attribute.KeyValue{attribute.String("route", route), attribute.String("outcome", outcome),
			attribute.Int("http.response.status_code", status)}
		if tokenError != "" {
			attrs = append(attrs, attribute.String("token_error", tokenError))
		}
		span.AddEvent("cognitokit.policy.decision", trace.WithAttributes(attrs...))
	}
}
