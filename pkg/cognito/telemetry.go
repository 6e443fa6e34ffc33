package cognito

import (
	"context"
	"errors"
	"slices"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/cognitokit/cognitokit/gen"
	"github.com/cognitokit/cognitokit/internal/telemetry"
)

// scopeName is the instrumentation scope of this package's meters and tracers.
const scopeName = "github.com/cognitokit/cognitokit/pkg/cognito"

// Span names.
const (
	spanTokenRequest = "cognitokit.token.request"
	spanJWKSFetch    = "cognitokit.jwks.fetch"
	spanVerify       = "cognitokit.verify"
)

// WithMeterProvider makes the authenticator or the authorizer report metrics to mp:
// cognitokit.token.requests, cognitokit.token.request.duration and cognitokit.token.cache
// (authenticator); cognitokit.verifications, cognitokit.verification.duration,
// cognitokit.jwks.fetches and cognitokit.jwks.fetch.duration (authorizer). Attribute values
// are fixed codes and the configured pool ID, never a token, a subject, a client ID taken
// from a token or a path. Nil, the default, records nothing and costs nothing.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return sharedOption(func(o *sharedOptions) { o.meterProvider = mp })
}

// WithTracerProvider makes the authenticator or the authorizer start a client span for
// every token request (cognitokit.token.request) and every JWKS fetch
// (cognitokit.jwks.fetch), children of the span in the caller's context, with the HTTP
// attributes of the OpenTelemetry semantic conventions and no credential. Verify starts
// no span unless [WithVerifySpans] asks for one. Nil, the default, traces nothing.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return sharedOption(func(o *sharedOptions) { o.tracerProvider = tp })
}

// WithVerifySpans makes every Verify start a span (cognitokit.verify) with its outcome,
// token_use, cache and pool attributes, when a [WithTracerProvider] is given. Off by
// default: Verify is on every request's path, and a token seen before is verified in
// less time than a span takes.
func WithVerifySpans(on bool) AuthorizerOption {
	return authorizerOption(func(o *authorizerOptions) { o.verifySpans = on })
}

// traced wraps the generated client's HTTP doer in a span per request when a tracer
// provider is set.
func (o *sharedOptions) traced(d gen.HttpRequestDoer, name string) gen.HttpRequestDoer {
	if o.tracerProvider == nil {
		return d
	}
	return telemetry.TracedDoer{Next: d, Tracer: o.tracerProvider.Tracer(scopeName), Name: name}
}

// Outcomes of a token request (attribute "outcome" of cognitokit.token.requests): "ok",
// the OAuth error code of a 4xx answer when it is one of RFC 6749's, "rejected" for
// another refusal, "throttled" for 429, "unavailable" for 5xx and network errors, and
// "invalid_response" for a 200 that is not a usable token. A closed list, so that a
// server cannot grow the metric's series.
var tokenOutcomes = []string{
	"ok",
	"invalid_request", "invalid_client", "invalid_grant", "unauthorized_client", "unsupported_grant_type", "invalid_scope",
	"rejected", "throttled", "unavailable", "invalid_response",
}

// Indexes in tokenOutcomes; the OAuth error codes are 1 to 6.
const (
	tokenOutcomeOK              = 0
	tokenOutcomeRejected        = 7
	tokenOutcomeThrottled       = 8
	tokenOutcomeUnavailable     = 9
	tokenOutcomeInvalidResponse = 10
)

// Results of a GetToken (attribute "result" of cognitokit.token.cache).
const (
	cacheHit          = iota // the cached token, fresh
	cacheMiss                // no fresh token: the caller waited for a fetch
	cacheRefreshAhead        // the cached token, while a background refresh runs
	cacheStaleServed         // the cached token, after its refresh failed
)

var cacheResults = []string{"hit", "miss", "refresh_ahead", "stale_served"}

// authnTelemetry is an authenticator's instruments; nil without a meter provider.
type authnTelemetry struct {
	cache    *telemetry.Counter
	requests *telemetry.Counter
	duration metric.Float64Histogram
	durOpts  [][]metric.RecordOption // by token outcome
}

func newAuthnTelemetry(mp metric.MeterProvider) (*authnTelemetry, error) {
	if mp == nil {
		return nil, nil
	}
	m := mp.Meter(scopeName)
	t := &authnTelemetry{}
	var err error
	if t.cache, err = telemetry.NewCounter(m, "cognitokit.token.cache",
		"GetToken calls, by whether the cached token answered", sets("result", cacheResults)); err != nil {
		return nil, err
	}
	outcomes := sets("outcome", tokenOutcomes)
	if t.requests, err = telemetry.NewCounter(m, "cognitokit.token.requests",
		"Requests to the token endpoint, retries included, by outcome", outcomes); err != nil {
		return nil, err
	}
	if t.duration, err = telemetry.NewDurationHistogram(m, "cognitokit.token.request.duration",
		"Duration of requests to the token endpoint"); err != nil {
		return nil, err
	}
	t.durOpts = telemetry.RecordOptions(outcomes)
	return t, nil
}

func sets(key string, values []string) []attribute.Set {
	out := make([]attribute.Set, len(values))
	for i, v := range values {
		out[i] = attribute.NewSet(attribute.String(key, v))
	}
	return out
}

// served counts a GetToken the cached entry e answered.
func (t *authnTelemetry) served(e *cacheEntry) {
	if e.stale {
		t.cache.Inc(cacheStaleServed)
	} else {
		t.cache.Inc(cacheHit)
	}
}

// observedRequest is request, counted and timed.
func (a *ClientCredentialsAuthenticator) observedRequest(ctx context.Context) (*Token, time.Duration, bool, error) {
	if a.tel == nil {
		return a.request(ctx)
	}
	start := time.Now()
	tok, retryAfter, retryable, err := a.request(ctx)
	i := tokenOutcome(err)
	a.tel.requests.Inc(i)
	a.tel.duration.Record(ctx, time.Since(start).Seconds(), a.tel.durOpts[i]...)
	return tok, retryAfter, retryable, err
}

// tokenOutcome is the index in tokenOutcomes of a token request's result.
func tokenOutcome(err error) int {
	var ae *AuthenticationError
	switch {
	case err == nil:
		return tokenOutcomeOK
	case !errors.As(err, &ae):
		return tokenOutcomeUnavailable
	case ae.StatusCode == 429:
		return tokenOutcomeThrottled
	case errors.Is(ae.Reason, ErrTokenEndpointUnavailable):
		return tokenOutcomeUnavailable
	case errors.Is(ae.Reason, ErrInvalidTokenResponse):
		return tokenOutcomeInvalidResponse
	}
	for i, code := range tokenOutcomes[1:7] {
		if ae.ErrorCode == code {
			return 1 + i
		}
	}
	return tokenOutcomeRejected
}

// verifyOutcomes are the values of attribute "outcome" of cognitokit.verifications: "ok"
// or the reason code of the refusal, "other" for an error without one of these codes.
var verifyOutcomes = []string{
	"ok",
	ReasonCode(ErrMalformedToken), ReasonCode(ErrTokenTooLarge), ReasonCode(ErrAlgorithmNotAllowed),
	ReasonCode(ErrMissingKeyID), ReasonCode(ErrUnsupportedHeader), ReasonCode(ErrUnknownKey),
	ReasonCode(ErrInvalidSignature), ReasonCode(ErrInvalidIssuer), ReasonCode(ErrInvalidTokenUse),
	ReasonCode(ErrInvalidClient), ReasonCode(ErrTokenExpired), ReasonCode(ErrTokenNotYetValid),
	ReasonCode(ErrIssuedInFuture), ReasonCode(ErrMissingClaim), ReasonCode(ErrInsufficientScope),
	ReasonCode(ErrNotInGroup), ReasonCode(ErrJWKSUnavailable), ReasonCode(ErrCustomCheck),
	ReasonCode(ErrTokenRevoked), ReasonCode(ErrRevocationUnavailable),
	"other",
}

// verifyOutcomeIndex maps a reason code to its index in verifyOutcomes.
var verifyOutcomeIndex = func() map[string]int {
	m := make(map[string]int, len(verifyOutcomes))
	for i, o := range verifyOutcomes {
		m[o] = i
	}
	return m
}()

// Values of attribute "token_use": "unknown" when the token was refused before its
// signature verified (an unverified token_use is not worth a series) or names no kind.
var tokenUses = []string{string(TokenUseAccess), string(TokenUseID), "unknown"}

// Values of attribute "cache".
var verifyCaches = []string{"hit", "miss"}

// JWKS fetch triggers and outcomes.
var (
	fetchTriggers = []string{"initial", "refresh", "unknown_kid"}
	fetchOutcomes = []string{"ok", ReasonCode(ErrJWKSUnavailable)}
)

const (
	triggerInitial = iota
	triggerRefresh
	triggerUnknownKid
)

// authzTelemetry is an authorizer's instruments; nil without a meter provider or a
// Verify span.
type authzTelemetry struct {
	// pools are the pool IDs the series are built for; poolIndex picks one.
	pools         []string
	verifications *telemetry.Counter // nil without a meter provider
	duration      metric.Float64Histogram
	durOpts       [][]metric.RecordOption // same index as verifications, cache miss only
	fetches       *telemetry.Counter
	fetchDuration metric.Float64Histogram
	fetchOpts     [][]metric.RecordOption
	tracer        trace.Tracer // nil unless Verify spans are on
}

// verifySeries is how many series each pool has.
var verifySeries = len(verifyOutcomes) * len(tokenUses) * len(verifyCaches)

func verifySeriesIndex(pool, outcome, use, cache int) int {
	return ((pool*len(verifyOutcomes)+outcome)*len(tokenUses)+use)*len(verifyCaches) + cache
}

func newAuthzTelemetry(o *authorizerOptions, pools []string) (*authzTelemetry, error) {
	if len(pools) > 1 {
		// A token refused before its pool is known (another issuer, a bad signature).
		pools = append(slices.Clone(pools), "unknown")
	}
	t := &authzTelemetry{pools: pools}
	if o.verifySpans && o.tracerProvider != nil {
		t.tracer = o.tracerProvider.Tracer(scopeName)
	}
	if o.meterProvider == nil {
		if t.tracer == nil {
			return nil, nil
		}
		return t, nil
	}
	m := o.meterProvider.Meter(scopeName)
	series := make([]attribute.Set, 0, len(pools)*verifySeries)
	for _, p := range pools {
		for _, out := range verifyOutcomes {
			for _, use := range tokenUses {
				for _, cache := range verifyCaches {
					series = append(series, attribute.NewSet(attribute.String("outcome", out),
						attribute.String("token_use", use), attribute.String("cache", cache), attribute.String("pool", p)))
				}
			}
		}
	}
	var err error
	if t.verifications, err = telemetry.NewCounter(m, "cognitokit.verifications",
		"Tokens verified, by outcome, token_use, verified-token cache use and user pool", series); err != nil {
		return nil, err
	}
	if t.duration, err = telemetry.NewDurationHistogram(m, "cognitokit.verification.duration",
		"Duration of verifications that checked a signature (verified-token cache misses)"); err != nil {
		return nil, err
	}
	t.durOpts = telemetry.RecordOptions(series)
	fetchSeries := make([]attribute.Set, 0, len(fetchTriggers)*len(fetchOutcomes))
	for _, trig := range fetchTriggers {
		for _, out := range fetchOutcomes {
			fetchSeries = append(fetchSeries, attribute.NewSet(attribute.String("outcome", out), attribute.String("trigger", trig)))
		}
	}
	if t.fetches, err = telemetry.NewCounter(m, "cognitokit.jwks.fetches",
		"JWKS fetches, by what caused them and outcome", fetchSeries); err != nil {
		return nil, err
	}
	if t.fetchDuration, err = telemetry.NewDurationHistogram(m, "cognitokit.jwks.fetch.duration",
		"Duration of JWKS fetches"); err != nil {
		return nil, err
	}
	t.fetchOpts = telemetry.RecordOptions(fetchSeries)
	return t, nil
}

// poolIndex is the index in t.pools of the pool whose metrics a verification counts in:
// the pool that matched (claims of a token whose signature verified, refused or not);
// with one pool, that pool; with several and no verified claims, "unknown", the last.
func (t *authzTelemetry) poolIndex(c *Claims) int {
	if len(t.pools) == 1 {
		return 0
	}
	if c != nil {
		if i := slices.Index(t.pools, c.UserPoolID); i >= 0 {
			return i
		}
	}
	return len(t.pools) - 1
}

// refusedClaims are the claims of a token refused after its signature verified, or nil.
// A function of its own so that its error target escapes only on the refusal path.
func refusedClaims(err error) *Claims {
	var ae *AuthorizationError
	if errors.As(err, &ae) {
		return ae.Claims
	}
	return nil
}

// verifyObserved is Verify with metrics and, if asked for, a span.
func (z *JWTAuthorizer) verifyObserved(ctx context.Context, token string, now time.Time) (*Claims, error) {
	t := z.tel
	var span trace.Span
	if t.tracer != nil {
		ctx, span = t.tracer.Start(ctx, spanVerify)
	}
	claims, hit, err := z.check(ctx, token, now)
	seen := claims // or the claims a refused token had, once its signature verified
	if err != nil {
		seen = refusedClaims(err)
	}
	outcome := 0
	if err != nil {
		var ok bool
		if outcome, ok = verifyOutcomeIndex[ReasonCode(err)]; !ok {
			outcome = len(verifyOutcomes) - 1
		}
	}
	use := 2
	if seen != nil {
		switch seen.TokenUse {
		case TokenUseAccess:
			use = 0
		case TokenUseID:
			use = 1
		}
	}
	cache := 1
	if hit {
		cache = 0
	}
	pool := t.poolIndex(seen)
	i := verifySeriesIndex(pool, outcome, use, cache)
	if t.verifications != nil {
		t.verifications.Inc(i)
		if !hit {
			// A hit is counted, not timed: reading the clock again would cost a good
			// share of what the hit does.
			t.duration.Record(ctx, z.clock().Sub(now).Seconds(), t.durOpts[i]...)
		}
	}
	if span != nil {
		span.SetAttributes(attribute.String("outcome", verifyOutcomes[outcome]), attribute.String("token_use", tokenUses[use]),
			attribute.String("cache", verifyCaches[cache]), attribute.String("pool", t.pools[pool]))
		if err != nil {
			span.SetStatus(codes.Error, verifyOutcomes[outcome])
		}
		span.End()
	}
	if err != nil {
		return nil, err
	}
	return claims, nil
}

// fetched counts and times a JWKS fetch that started at start.
func (t *authzTelemetry) fetched(initial, unknownKid bool, err error, start time.Time) {
	if t.fetches == nil {
		return
	}
	trig := triggerRefresh
	switch {
	case unknownKid:
		trig = triggerUnknownKid
	case initial:
		trig = triggerInitial
	}
	i := trig * len(fetchOutcomes)
	if err != nil {
		i++
	}
	t.fetches.Inc(i)
	t.fetchDuration.Record(context.Background(), time.Since(start).Seconds(), t.fetchOpts[i]...)
}
