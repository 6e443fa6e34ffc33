package cognito

import (
	"context"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cognitokit/cognitokit/gen"
	"github.com/cognitokit/cognitokit/internal/flight"
)

const (
	// storeTimeout bounds a store call made where no caller context exists (Invalidate).
	storeTimeout = 5 * time.Second
	// rejectCooldown is the least time between two invalidations caused by a downstream
	// 401 (see Transport), so that a service that rejects every token cannot turn each of
	// its calls into a billed token request.
	rejectCooldown = 5 * time.Second
)

// ClientCredentialsAuthenticator obtains access tokens from a Cognito token endpoint with
// the OAuth 2.0 client-credentials grant, for calling other services, and caches them.
//
// A cached token is served until its expiry minus a margin (default 60s, at most half
// the token's lifetime); serving it takes one atomic load and no lock. However many
// goroutines miss the cache at once, one token request is in flight; each waits on its
// own context. In the last part of a token's life (default: the last 25% before the
// margin) the cached token is still served and one background refresh runs. Network
// errors, 429 and 5xx answers are retried with backoff, within a retry budget; if the
// refresh of a token that has not expired yet fails, that token keeps being served, the
// failure is logged, and the refresh is tried again 5s later, then after twice as long
// each time, up to a minute.
//
// It never storms the token endpoint: after a rejection (a 4xx other than 429) calls
// fail at once with that answer, making no request, for a cool-down of a second doubling
// to a minute while the rejection repeats; after an outage (network errors, 5xx, 429)
// they fail at once, or get the cached token while it is valid, until a single probe is
// due. A [CooldownStore] shares these cool-downs with the rest of a fleet. See
// [CooldownPolicy] and [RetryPolicy].
//
// It is safe for concurrent use. Its String, GoString, Format and LogValue never show the
// client secret or a token.
type ClientCredentialsAuthenticator struct {
	// cur and now are read on every GetToken: keep them first and rarely written.
	cur atomic.Pointer[cacheEntry]
	now func() time.Time

	cfg          ClientCredentialsConfig
	key          string
	store        TokenStore
	logger       *slog.Logger
	margin       time.Duration
	refreshAhead float64
	retry        retrier
	circuit      *circuit
	tel          *authnTelemetry // nil without a meter provider

	client   *gen.ClientWithResponses
	basic    secretString // "Basic " + base64(urlencode(id) ":" urlencode(secret))
	tokenURL *url.URL     // set when the generated client's URL for TokenURL is not TokenURL
	form     gen.TokenRequest

	attemptTimeout time.Duration // one token request
	flightTimeout  time.Duration // one fetch, retries included

	mu       sync.Mutex
	inflight *flight.Call[*cacheEntry] // the fetch running, if any; its result is what its callers get
	failures int                       // consecutive failed fetches; written by the fetch goroutine only

	rejected   atomic.Pointer[Token] // the last token Invalidate dropped; never taken back from the store
	lastReject atomic.Int64          // a.now() in Unix nanoseconds of the last 401-driven invalidation
}

// NewClientCredentialsAuthenticator returns an authenticator for the app client cfg
// describes. It checks cfg (client ID and secret present, TokenURL an absolute https URL,
// or http to a loopback host) and returns an error matching [ErrInvalidConfig] otherwise; it makes no
// request.
//
// Options: [WithHTTPClient], [WithClock], [WithLogger], [WithMeterProvider],
// [WithTracerProvider], [WithExpiryMargin], [WithRefreshAhead], [WithRetry],
// [WithCooldown] and [WithTokenStore].
func NewClientCredentialsAuthenticator(cfg ClientCredentialsConfig, opts ...AuthenticatorOption) (*ClientCredentialsAuthenticator, error) {
	if cfg.ClientID == "" {
		return nil, configError("client ID is empty")
	}
	if cfg.ClientSecret == "" {
		return nil, configError("client secret is empty")
	}
	tokenURL, err := parseTokenURL(cfg.TokenURL)
	if err != nil {
		return nil, err
	}
	o := newAuthenticatorOptions(opts)
	a := &ClientCredentialsAuthenticator{
		now:          o.clock,
		cfg:          cfg,
		key:          TokenKey(cfg),
		store:        o.store,
		logger:       o.logger,
		margin:       o.expiryMargin,
		refreshAhead: o.refreshAhead,
		retry:        newRetrier(o.retry),
		circuit:      newCircuit(o.cooldown),
		basic: secretString("Basic " + base64.StdEncoding.EncodeToString(
			[]byte(url.QueryEscape(cfg.ClientID)+":"+url.QueryEscape(cfg.ClientSecret)))),
		form: gen.TokenRequest{GrantType: gen.ClientCredentials, Scope: cfg.Scope},
	}
	if a.store == nil {
		a.store = NewMemoryStore()
	}
	if a.tel, err = newAuthnTelemetry(o.meterProvider); err != nil {
		return nil, configError("meter provider: %v", err)
	}
	a.attemptTimeout = o.httpClient.Timeout
	if a.attemptTimeout <= 0 {
		a.attemptTimeout = DefaultHTTPTimeout
	}
	p := a.retry.policy
	a.flightTimeout = time.Duration(p.MaxAttempts)*a.attemptTimeout + time.Duration(p.MaxAttempts-1)*p.MaxDelay

	server, exact := tokenServer(tokenURL)
	if !exact {
		a.tokenURL = tokenURL
	}
	// A token endpoint answers; it never redirects. Following a redirect would send the
	// Basic credential wherever it points (http.Client keeps it on the same host).
	noRedirects := *o.httpClient
	noRedirects.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	a.client, err = gen.NewClientWithResponses(server,
		gen.WithHTTPClient(o.traced(limitedDoer{client: &noRedirects, limit: maxResponseBody}, spanTokenRequest)),
		gen.WithRequestEditorFn(a.editRequest))
	if err != nil {
		return nil, configError("token URL: %v", err)
	}
	return a, nil
}

// parseTokenURL accepts an absolute https URL without user info (credentials belong in
// ClientSecret, and would otherwise end up in error messages), or http to a loopback host.
func parseTokenURL(raw string) (*url.URL, error) {
	if raw == "" {
		return nil, configError("token URL is empty")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, configError("token URL is not a URL")
	}
	if u.User != nil {
		return nil, configError("token URL %q must not hold credentials", u.Redacted())
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Opaque != "" {
		return nil, configError("token URL %q is not an absolute http or https URL", u.Redacted())
	}
	if u.Scheme == "http" && !plainHTTPAllowed(u) {
		return nil, configError("token URL %q is plain http on a non-loopback host: the client secret would travel in clear", u.Redacted())
	}
	u.Fragment, u.RawFragment = "", ""
	return u, nil
}

// GetToken returns a valid access token: the cached one while it is fresh, else a new
// one. Concurrent callers share one request; a caller whose ctx ends while waiting gets
// an error matching ctx.Err() with [errors.Is], and the request goes on for the others.
//
// Failures are an [*AuthenticationError] whose Reason is [ErrTokenRequestRejected],
// [ErrTokenEndpointUnavailable] or [ErrInvalidTokenResponse]; during a cool-down after
// such a failure, GetToken returns the same error at once, marked HeldOff, without a
// request. The returned Token is shared: do not modify it.
func (a *ClientCredentialsAuthenticator) GetToken(ctx context.Context) (*Token, error) {
	e, err := a.entry(ctx)
	if err != nil {
		return nil, err
	}
	return e.tok, nil
}

// GetHeaders returns the headers that authenticate a request to another service: only
// "Authorization: Bearer <token>". It fails as GetToken does.
func (a *ClientCredentialsAuthenticator) GetHeaders(ctx context.Context) (http.Header, error) {
	t, err := a.GetToken(ctx)
	if err != nil {
		return nil, err
	}
	return http.Header{"Authorization": {"Bearer " + t.Token}}, nil
}

// Invalidate drops the cached token, from the authenticator and from its [TokenStore] if
// the store still holds that token, so that the next GetToken fetches a new one. Call it
// when a service rejects the token (HTTP 401); [ClientCredentialsAuthenticator.Transport]
// does.
func (a *ClientCredentialsAuthenticator) Invalidate() {
	if e := a.cur.Swap(nil); e != nil {
		a.forget(e.tok)
	}
}

// forget keeps t from being served again, even if a store fails to delete it.
func (a *ClientCredentialsAuthenticator) forget(t *Token) {
	a.rejected.Store(t)
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	if err := a.store.Delete(ctx, a.key, t); err != nil {
		a.warn(ctx, "cognito: token store failed to delete a token", err)
	}
}

// invalidateRejected is Invalidate for a token a service answered 401 to. It reports
// whether a retry may succeed with another token: true when t was dropped or is no longer
// the cached token, false when t is still cached because a 401-driven invalidation
// happened less than rejectCooldown ago.
func (a *ClientCredentialsAuthenticator) invalidateRejected(t *Token) bool {
	e := a.cur.Load()
	if e == nil || e.tok.Token != t.Token {
		return true
	}
	now := a.now().UnixNano()
	if last := a.lastReject.Load(); last != 0 && now-last < int64(rejectCooldown) {
		return false
	}
	if !a.cur.CompareAndSwap(e, nil) {
		return true
	}
	a.lastReject.Store(now)
	a.forget(e.tok)
	return true
}

func (a *ClientCredentialsAuthenticator) warn(ctx context.Context, msg string, err error) {
	a.logger.LogAttrs(ctx, slog.LevelWarn, msg, slog.String("client_id", a.cfg.ClientID),
		slog.String("reason", ReasonCode(err)), slog.String("error", err.Error()))
}

// String describes the authenticator without the secret or a token.
func (a *ClientCredentialsAuthenticator) String() string {
	return "ClientCredentialsAuthenticator{ClientID: " + a.cfg.ClientID + ", TokenURL: " + a.cfg.TokenURL +
		", Scope: " + a.cfg.Scope + "}"
}

// GoString keeps the secret and the token out of %#v.
func (a *ClientCredentialsAuthenticator) GoString() string { return "&cognito." + a.String() }

// Format keeps the secret and the token out of every fmt verb.
func (a *ClientCredentialsAuthenticator) Format(f fmt.State, verb rune) {
	formatRedacted(f, verb, a.String(), a.GoString())
}

// LogValue describes the authenticator to slog without the secret or a token.
func (a *ClientCredentialsAuthenticator) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("client_id", a.cfg.ClientID),
		slog.String("token_url", a.cfg.TokenURL),
		slog.String("scope", a.cfg.Scope),
	)
}
