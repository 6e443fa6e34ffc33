package cognito

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// Defaults of the tuning options.
const (
	// DefaultHTTPTimeout bounds every request this package makes when the caller's context
	// has no earlier deadline and no HTTP client is given.
	DefaultHTTPTimeout = 10 * time.Second

	// DefaultExpiryMargin: a cached token counts as expired this long before its exp,
	// and never later than halfway through its lifetime.
	DefaultExpiryMargin = 60 * time.Second
	// DefaultRefreshAhead is the fraction of a token's lifetime, before the expiry
	// margin, in which a call returns the cached token and starts a background refresh.
	DefaultRefreshAhead = 0.25

	// DefaultRejectionCooldown is how long, after the token endpoint rejected a request
	// (invalid_client, invalid_scope, any 4xx but 429), GetToken fails at once with that
	// answer instead of asking again; it doubles while the rejection repeats.
	DefaultRejectionCooldown = time.Second
	// DefaultMaxRejectionCooldown caps the rejection cool-down.
	DefaultMaxRejectionCooldown = time.Minute
	// DefaultOutageCooldown is the wait, after a fetch failed with network errors, 5xx or
	// 429, before one request probes the endpoint again; it doubles while the probes fail.
	DefaultOutageCooldown = time.Second
	// DefaultMaxOutageCooldown caps the wait between probes, Retry-After included.
	DefaultMaxOutageCooldown = 30 * time.Second
	// DefaultRetryBudget is how many retries an authenticator has in reserve: each retry
	// takes one, each successful request gives one back.
	DefaultRetryBudget = 4

	// DefaultJWKSRefresh is how often the JWKS is refreshed in the background.
	DefaultJWKSRefresh = 15 * time.Minute
	// DefaultUnknownKeyCooldown is how long after an unknown-kid refetch further unknown
	// kids fail fast without a fetch.
	DefaultUnknownKeyCooldown = 10 * time.Second
	// DefaultVerifiedCacheSize is how many verified tokens are remembered.
	DefaultVerifiedCacheSize = 10_000
	// DefaultMaxTokenSize is the largest token Verify decodes.
	DefaultMaxTokenSize = 16 << 10
	// DefaultLeeway is the clock skew allowed on exp, nbf and iat.
	DefaultLeeway = 60 * time.Second
)

// AuthenticatorOption tunes a [ClientCredentialsAuthenticator]. An option of the
// authorizer is not one: passing it to [NewClientCredentialsAuthenticator] does not
// compile.
type AuthenticatorOption interface {
	applyAuthenticator(*authenticatorOptions)
}

// AuthorizerOption tunes a [JWTAuthorizer]. An option of the authenticator is not one:
// passing it to [NewJWTAuthorizer] does not compile.
type AuthorizerOption interface {
	applyAuthorizer(*authorizerOptions)
}

// Option is an option that both constructors take: [WithHTTPClient], [WithClock],
// [WithLogger], [WithMeterProvider] and [WithTracerProvider].
type Option interface {
	AuthenticatorOption
	AuthorizerOption
	RevokerOption
}

// sharedOptions are what both constructors are tuned with.
type sharedOptions struct {
	httpClient *http.Client
	clock      func() time.Time
	logger     *slog.Logger

	meterProvider  metric.MeterProvider // nil: no metrics
	tracerProvider trace.TracerProvider // nil: no spans
}

type authenticatorOptions struct {
	sharedOptions
	expiryMargin time.Duration
	refreshAhead float64
	retry        RetryPolicy
	cooldown     CooldownPolicy
	store        TokenStore
}

type authorizerOptions struct {
	sharedOptions
	endpoint           string
	staticJWKS         []byte
	hasStaticJWKS      bool
	jwksRefresh        time.Duration
	unknownKeyCooldown time.Duration
	verifiedCacheSize  int
	maxTokenSize       int
	poolKeys           []staticPoolJWKS
	checks             []func(context.Context, *Claims) error
	verifySpans        bool
	revocations        RevocationList
}

// staticPoolJWKS is a WithPoolJWKS: static keys for one pool.
type staticPoolJWKS struct {
	pool string
	jwks []byte
}

type sharedOption func(*sharedOptions)

func (f sharedOption) applyAuthenticator(o *authenticatorOptions) { f(&o.sharedOptions) }
func (f sharedOption) applyAuthorizer(o *authorizerOptions)       { f(&o.sharedOptions) }

type authenticatorOption func(*authenticatorOptions)

func (f authenticatorOption) applyAuthenticator(o *authenticatorOptions) { f(o) }

type authorizerOption func(*authorizerOptions)

func (f authorizerOption) applyAuthorizer(o *authorizerOptions) { f(o) }

func defaultSharedOptions() sharedOptions {
	return sharedOptions{clock: time.Now, logger: slog.New(slog.DiscardHandler)}
}

// finish fills what the options left unset.
func (o *sharedOptions) finish() {
	if o.httpClient == nil {
		o.httpClient = &http.Client{Timeout: DefaultHTTPTimeout}
	}
}

func newAuthenticatorOptions(opts []AuthenticatorOption) authenticatorOptions {
	o := authenticatorOptions{
		sharedOptions: defaultSharedOptions(),
		expiryMargin:  DefaultExpiryMargin,
		refreshAhead:  DefaultRefreshAhead,
	}
	for _, opt := range opts {
		if opt != nil {
			opt.applyAuthenticator(&o)
		}
	}
	o.finish()
	o.retry = o.retry.withDefaults()
	return o
}

func newAuthorizerOptions(opts []AuthorizerOption) authorizerOptions {
	o := authorizerOptions{
		sharedOptions:      defaultSharedOptions(),
		jwksRefresh:        DefaultJWKSRefresh,
		unknownKeyCooldown: DefaultUnknownKeyCooldown,
		verifiedCacheSize:  DefaultVerifiedCacheSize,
		maxTokenSize:       DefaultMaxTokenSize,
	}
	for _, opt := range opts {
		if opt != nil {
			opt.applyAuthorizer(&o)
		}
	}
	o.finish()
	return o
}

// RetryPolicy says how failed token requests (network errors, 429, 5xx) are retried:
// exponential backoff from BaseDelay, capped at MaxDelay, with full jitter; a Retry-After
// answer is honoured. No retry outlives the caller's context. Retries are paid from a
// budget that successes refill, and a failed series of attempts holds further requests
// off until a probe is due ([CooldownPolicy]): retries never multiply the load on an
// endpoint that is down.
type RetryPolicy struct {
	// MaxAttempts counts the first request; 1 disables retries. Zero means 3. A probe
	// after an outage is a single attempt.
	MaxAttempts int
	// BaseDelay is the backoff before the second attempt. Zero means 100ms.
	BaseDelay time.Duration
	// MaxDelay caps any single wait. A Retry-After longer than MaxDelay ends the attempts
	// instead, and holds every request off until it has passed. Zero means 2s.
	MaxDelay time.Duration
	// Budget is how many retries the authenticator keeps in reserve: each retry takes
	// one, each successful request gives one back, up to Budget. When none is left, a
	// failed request is not retried. Zero means [DefaultRetryBudget]; negative means no
	// budget (every series may make MaxAttempts attempts).
	Budget int
}

func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = 3
	}
	if p.BaseDelay <= 0 {
		p.BaseDelay = 100 * time.Millisecond
	}
	if p.MaxDelay <= 0 {
		p.MaxDelay = 2 * time.Second
	}
	if p.Budget == 0 {
		p.Budget = DefaultRetryBudget
	}
	return p
}

// WithHTTPClient sets the HTTP client for token and JWKS requests. Nil means a client
// with a [DefaultHTTPTimeout] timeout. Responses are size-limited whatever the client.
func WithHTTPClient(c *http.Client) Option {
	return sharedOption(func(o *sharedOptions) { o.httpClient = c })
}

// WithClock sets the source of the current time, for tests. Nil means time.Now.
func WithClock(now func() time.Time) Option {
	return sharedOption(func(o *sharedOptions) {
		if now != nil {
			o.clock = now
		}
	})
}

// WithLogger sets where warnings (failed refreshes, JWKS errors) are logged. Nothing
// logged contains a secret, a token or a claim value. Nil means no logging.
func WithLogger(l *slog.Logger) Option {
	return sharedOption(func(o *sharedOptions) {
		if l != nil {
			o.logger = l
		}
	})
}

// WithExpiryMargin sets how long before its expiry a cached token stops being served
// (default [DefaultExpiryMargin]); it is never more than half the token's lifetime.
func WithExpiryMargin(d time.Duration) AuthenticatorOption {
	return authenticatorOption(func(o *authenticatorOptions) {
		if d >= 0 {
			o.expiryMargin = d
		}
	})
}

// WithRefreshAhead sets the fraction (0 to 1) of a token's lifetime, before the expiry
// margin, in which a call gets the cached token and starts one background refresh
// (default [DefaultRefreshAhead]). Zero disables refresh ahead.
func WithRefreshAhead(fraction float64) AuthenticatorOption {
	return authenticatorOption(func(o *authenticatorOptions) {
		if fraction >= 0 && fraction < 1 {
			o.refreshAhead = fraction
		}
	})
}

// WithRetry sets how failed token requests are retried; zero fields take their defaults.
func WithRetry(p RetryPolicy) AuthenticatorOption {
	return authenticatorOption(func(o *authenticatorOptions) { o.retry = p })
}

// WithCooldown sets how long token requests are held off after the token endpoint
// rejected one or failed; zero fields take their defaults ([DefaultRejectionCooldown],
// [DefaultOutageCooldown] and their maximums).
func WithCooldown(p CooldownPolicy) AuthenticatorOption {
	return authenticatorOption(func(o *authenticatorOptions) { o.cooldown = p })
}

// WithTokenStore sets where tokens are cached, such as a store shared by a fleet. Nil
// means the process's in-memory cache.
func WithTokenStore(s TokenStore) AuthenticatorOption {
	return authenticatorOption(func(o *authenticatorOptions) { o.store = s })
}

// WithEndpoint points the authorizer at a Cognito-compatible server other than AWS's
// (cognitokit local, LocalStack): the issuer becomes "<baseURL>/<user pool ID>" and the
// JWKS "<issuer>/.well-known/jwks.json". The pool ID is then not checked against the
// Region.
func WithEndpoint(baseURL string) AuthorizerOption {
	return authorizerOption(func(o *authorizerOptions) { o.endpoint = baseURL })
}

// WithJWKS gives the authorizer a fixed key set (the JSON of a JWKS) instead of fetching
// it: no network, for offline use and tests.
func WithJWKS(jwksJSON []byte) AuthorizerOption {
	return authorizerOption(func(o *authorizerOptions) {
		o.staticJWKS = append([]byte(nil), jwksJSON...)
		o.hasStaticJWKS = true
	})
}

// WithJWKSRefresh sets how often the JWKS is refreshed in the background (default
// [DefaultJWKSRefresh]).
func WithJWKSRefresh(d time.Duration) AuthorizerOption {
	return authorizerOption(func(o *authorizerOptions) {
		if d > 0 {
			o.jwksRefresh = d
		}
	})
}

// WithUnknownKeyCooldown sets how long, after a token with an unknown kid caused a JWKS
// refetch, further unknown kids are refused without fetching (default
// [DefaultUnknownKeyCooldown]).
func WithUnknownKeyCooldown(d time.Duration) AuthorizerOption {
	return authorizerOption(func(o *authorizerOptions) {
		if d >= 0 {
			o.unknownKeyCooldown = d
		}
	})
}

// WithVerifiedCacheSize sets how many verified tokens are remembered so that a token seen
// again skips the signature check (default [DefaultVerifiedCacheSize]); exp and nbf are
// still checked on every call. Zero disables the cache.
func WithVerifiedCacheSize(n int) AuthorizerOption {
	return authorizerOption(func(o *authorizerOptions) {
		if n >= 0 {
			o.verifiedCacheSize = n
		}
	})
}

// WithMaxTokenSize sets the largest token, in bytes, Verify decodes (default
// [DefaultMaxTokenSize]).
func WithMaxTokenSize(n int) AuthorizerOption {
	return authorizerOption(func(o *authorizerOptions) {
		if n > 0 {
			o.maxTokenSize = n
		}
	})
}

// WithPoolJWKS gives the pool whose UserPoolID is userPoolID a fixed key set (the JSON of
// a JWKS) instead of fetching it, as [WithJWKS] does for a single pool; with
// [NewMultiPoolAuthorizer], give it once per pool that is to use static keys. Naming a pool
// that is not configured is a configuration error.
func WithPoolJWKS(userPoolID string, jwksJSON []byte) AuthorizerOption {
	return authorizerOption(func(o *authorizerOptions) {
		o.poolKeys = append(o.poolKeys, staticPoolJWKS{pool: userPoolID, jwks: append([]byte(nil), jwksJSON...)})
	})
}

// WithCustomCheck adds a check that runs after every built-in check of
// [JWTAuthorizer.Verify] passed, with the caller's context and the verified claims, on
// every call (a verified-token cache hit included: its answer may change, such as "is this
// user's organisation still active?"). Checks run in the order given; the first error
// refuses the token with an [*AuthorizationError] whose reason is [ErrCustomCheck], which
// also unwraps to check's error and carries the claims. A context that ended before a
// check runs refuses the token the same way, unwrapping to the context's error, without
// calling the check. A nil check is ignored.
//
// The check must not modify the claims, which are shared with other callers of the same
// token, and should be fast: it runs on every Verify. Its error's text appears in the
// AuthorizationError's Error(): keep tokens and claim values out of it.
func WithCustomCheck(check func(ctx context.Context, c *Claims) error) AuthorizerOption {
	return authorizerOption(func(o *authorizerOptions) {
		if check != nil {
			o.checks = append(o.checks, check)
		}
	})
}

// WithRevocationList makes Verify refuse, with [ErrTokenRevoked], the tokens list holds,
// once their signature and built-in claim checks passed and before the custom checks run,
// on verified-cache hits too. When the list cannot tell, Verify refuses with
// [ErrRevocationUnavailable]. Nil means no list.
func WithRevocationList(list RevocationList) AuthorizerOption {
	return authorizerOption(func(o *authorizerOptions) { o.revocations = list })
}
