package cognito

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cognitokit/cognitokit/gen"
)

const (
	// storeTimeout bounds a store call made where no caller context exists (Invalidate).
	storeTimeout = 5 * time.Second
	// rejectCooldown is the least time between two invalidations caused by a downstream
	// 401 (see Transport), so that a service that rejects every token cannot turn each of
	// its calls into a billed token request.
	rejectCooldown = 5 * time.Second
	// After a failed refresh, while the cached token has not expired, the next refresh
	// is tried this long later, doubling with each failure up to refreshBackoffMax: a
	// throttled or failing endpoint is not hammered by every instance of a service.
	refreshBackoffMin = 5 * time.Second
	refreshBackoffMax = time.Minute
)

// ClientCredentialsAuthenticator obtains access tokens from a Cognito token endpoint with
// the OAuth 2.0 client-credentials grant, for calling other services, and caches them.
//
// A cached token is served until its expiry minus a margin (default 60s, at most half
// the token's lifetime); serving it takes one atomic load and no lock. However many
// goroutines miss the cache at once, one token request is in flight; each waits on its
// own context. In the last part of a token's life (default: the last 25% before the
// margin) the cached token is still served and one background refresh runs. Network
// errors, 429 and 5xx answers are retried with backoff; if the refresh of a token that
// has not expired yet fails, that token keeps being served, the failure is logged, and
// the refresh is tried again 5s later, then after twice as long each time, up to a
// minute.
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

	client   *gen.ClientWithResponses
	basic    secretString // "Basic " + base64(urlencode(id) ":" urlencode(secret))
	tokenURL *url.URL     // set when the generated client's URL for TokenURL is not TokenURL
	form     gen.TokenRequest

	attemptTimeout time.Duration // one token request
	flightTimeout  time.Duration // one fetch, retries included

	mu       sync.Mutex
	inflight *flight
	failures int // consecutive failed fetches; written by the fetch goroutine only

	rejected   atomic.Pointer[Token] // the last token Invalidate dropped; never taken back from the store
	lastReject atomic.Int64          // a.now() in Unix nanoseconds of the last 401-driven invalidation
}

// cacheEntry is a token with its precomputed schedule. It is never modified once
// published, except for the refreshing flag.
type cacheEntry struct {
	tok *Token
	schedule
	refreshing atomic.Bool // a background refresh was started for this entry
}

// flight is one token fetch, shared by every caller that needs a token while it runs.
type flight struct {
	done chan struct{}
	e    *cacheEntry // what callers get: the new token, or a still-valid old one
	err  error       // when e is nil
}

// NewClientCredentialsAuthenticator returns an authenticator for the app client cfg
// describes. It checks cfg (client ID and secret present, TokenURL an absolute http or
// https URL) and returns an error matching [ErrInvalidConfig] otherwise; it makes no
// request.
//
// Options: [WithHTTPClient], [WithClock], [WithLogger], [WithExpiryMargin],
// [WithRefreshAhead], [WithRetry] and [WithTokenStore].
func NewClientCredentialsAuthenticator(cfg ClientCredentialsConfig, opts ...Option) (*ClientCredentialsAuthenticator, error) {
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
	o := newOptions(opts)
	a := &ClientCredentialsAuthenticator{
		now:          o.clock,
		cfg:          cfg,
		key:          TokenKey(cfg),
		store:        o.store,
		logger:       o.logger,
		margin:       o.expiryMargin,
		refreshAhead: o.refreshAhead,
		retry:        newRetrier(o.retry),
		basic: secretString("Basic " + base64.StdEncoding.EncodeToString(
			[]byte(url.QueryEscape(cfg.ClientID)+":"+url.QueryEscape(cfg.ClientSecret)))),
		form: gen.TokenRequest{GrantType: gen.ClientCredentials, Scope: cfg.Scope},
	}
	if a.store == nil {
		a.store = NewMemoryStore()
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
	a.client, err = gen.NewClientWithResponses(server,
		gen.WithHTTPClient(limitedDoer{client: o.httpClient, limit: maxResponseBody}),
		gen.WithRequestEditorFn(a.editRequest))
	if err != nil {
		return nil, configError("token URL: %v", err)
	}
	return a, nil
}

// parseTokenURL accepts an absolute http or https URL without user info (credentials
// belong in ClientSecret, and would otherwise end up in error messages).
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
	u.Fragment, u.RawFragment = "", ""
	return u, nil
}

// tokenServer returns the server URL to give the generated client, which appends
// "/oauth2/token" to it, and whether the client then posts to exactly u. A token URL
// with another path, a query or an unusual encoding is posted to as is, through
// editRequest.
func tokenServer(u *url.URL) (server string, exact bool) {
	s := *u
	s.RawQuery, s.ForceQuery = "", false
	s.Path, s.RawPath = strings.TrimSuffix(u.Path, "/oauth2/token"), ""
	server = s.String()
	// As gen.NewClient does, so that the probe resolves the path as the client will.
	withSlash := server
	if !strings.HasSuffix(withSlash, "/") {
		withSlash += "/"
	}
	probe, err := gen.NewPostTokenRequestWithBody(withSlash, "", nil)
	return server, err == nil && probe.URL.String() == u.String()
}

// editRequest authenticates a token request (RFC 6749 §2.3.1: HTTP Basic of the
// form-urlencoded client ID and secret) and aims it at TokenURL.
func (a *ClientCredentialsAuthenticator) editRequest(_ context.Context, req *http.Request) error {
	req.Header.Set("Authorization", string(a.basic))
	req.Header.Set("Accept", "application/json")
	if a.tokenURL != nil {
		u := *a.tokenURL
		req.URL, req.Host = &u, ""
	}
	return nil
}

// GetToken returns a valid access token: the cached one while it is fresh, else a new
// one. Concurrent callers share one request; a caller whose ctx ends while waiting gets
// an error matching ctx.Err() with [errors.Is], and the request goes on for the others.
//
// Failures are an [*AuthenticationError] whose Reason is [ErrTokenRequestRejected],
// [ErrTokenEndpointUnavailable] or [ErrInvalidTokenResponse]. The returned Token is
// shared: do not modify it.
func (a *ClientCredentialsAuthenticator) GetToken(ctx context.Context) (*Token, error) {
	e, err := a.entry(ctx)
	if err != nil {
		return nil, err
	}
	return e.tok, nil
}

// entry is GetToken returning the cache entry, whose schedule the adapters need. The
// cache-hit path is an atomic load and a clock reading: no lock, no allocation.
func (a *ClientCredentialsAuthenticator) entry(ctx context.Context) (*cacheEntry, error) {
	if e := a.cur.Load(); e != nil {
		now := a.now()
		if now.Before(e.refreshAt) {
			return e, nil
		}
		if now.Before(e.freshUntil) {
			a.startRefresh(ctx, e)
			return e, nil
		}
	}
	return a.wait(ctx)
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

// startRefresh starts one background refresh of e, unless one was already started for it.
func (a *ClientCredentialsAuthenticator) startRefresh(ctx context.Context, e *cacheEntry) {
	if e.refreshing.Load() || !e.refreshing.CompareAndSwap(false, true) {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.inflight == nil && a.cur.Load() == e {
		a.inflight = &flight{done: make(chan struct{})}
		go a.run(ctx, a.inflight, e)
	}
}

// wait joins the running fetch, or starts one, and waits for it or for ctx.
func (a *ClientCredentialsAuthenticator) wait(ctx context.Context) (*cacheEntry, error) {
	if err := ctx.Err(); err != nil {
		return nil, waitError(err)
	}
	a.mu.Lock()
	if e := a.cur.Load(); e != nil && a.now().Before(e.freshUntil) {
		// A fetch finished between the caller's look at the cache and the lock.
		a.mu.Unlock()
		return e, nil
	}
	f := a.inflight
	if f == nil {
		f = &flight{done: make(chan struct{})}
		a.inflight = f
		go a.run(ctx, f, a.cur.Load())
	}
	a.mu.Unlock()
	select {
	case <-f.done:
		if f.e != nil {
			return f.e, nil
		}
		return nil, f.err
	case <-ctx.Done():
		return nil, waitError(ctx.Err())
	}
}

func waitError(err error) error { return fmt.Errorf("cognito: waiting for a token: %w", err) }

// run is one fetch, in its own goroutine: its context keeps the values of the caller that
// started it but not its cancellation, so that one caller giving up does not fail the
// others; it is bounded by flightTimeout instead. old is the entry being replaced.
func (a *ClientCredentialsAuthenticator) run(ctx context.Context, f *flight, old *cacheEntry) {
	defer func() {
		a.mu.Lock()
		a.inflight = nil
		a.mu.Unlock()
		close(f.done)
	}()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), a.flightTimeout)
	defer cancel()

	tok, err := a.obtain(ctx, old)
	now := a.now()
	if err == nil {
		a.failures = 0
		e := &cacheEntry{tok: tok, schedule: scheduleFor(tok, now, a.margin, a.refreshAhead)}
		a.cur.Store(e)
		f.e = e
		return
	}
	a.failures++
	if old != nil && now.Before(old.tok.ExpiresAt) {
		// Keep serving a token that still works rather than fail callers, and try again
		// after a backoff rather than on the next call.
		until := now.Add(refreshBackoff(a.failures))
		if until.After(old.tok.ExpiresAt) {
			until = old.tok.ExpiresAt
		}
		e := &cacheEntry{tok: old.tok, schedule: schedule{refreshAt: until, freshUntil: old.freshUntil}}
		if until.After(e.freshUntil) {
			e.freshUntil = until
		}
		if a.cur.CompareAndSwap(old, e) {
			f.e = e
			a.logger.LogAttrs(ctx, slog.LevelWarn, "cognito: token refresh failed; serving the cached token until it expires",
				slog.String("client_id", a.cfg.ClientID), slog.String("reason", ReasonCode(err)),
				slog.String("error", err.Error()), slog.Time("expires_at", old.tok.ExpiresAt))
			return
		}
	}
	f.err = err
	a.warn(ctx, "cognito: token request failed", err)
}

// refreshBackoff is the wait after the given number of consecutive failed fetches
// before a cached token is refreshed again.
func refreshBackoff(failures int) time.Duration {
	d := refreshBackoffMin
	for i := 1; i < failures && d < refreshBackoffMax; i++ {
		d *= 2
	}
	return min(d, refreshBackoffMax)
}

func (a *ClientCredentialsAuthenticator) warn(ctx context.Context, msg string, err error) {
	a.logger.LogAttrs(ctx, slog.LevelWarn, msg, slog.String("client_id", a.cfg.ClientID),
		slog.String("reason", ReasonCode(err)), slog.String("error", err.Error()))
}

// obtain returns a token to replace old: one from the store if another authenticator
// stored a fresh one, else a new one from the token endpoint, which it stores.
func (a *ClientCredentialsAuthenticator) obtain(ctx context.Context, old *cacheEntry) (*Token, error) {
	var own atomic.Pointer[Token] // what fetch got, when it ran for this authenticator
	fetch := func(ctx context.Context) (*Token, error) {
		t, err := a.loadOrFetch(ctx, old)
		own.Store(t)
		return t, err
	}
	c, ok := a.store.(CoalescingStore)
	if !ok {
		return fetch(ctx)
	}
	t, err := c.Coalesce(ctx, a.key, fetch)
	var ae *AuthenticationError
	switch {
	case own.Load() != nil:
		if err != nil {
			a.warn(ctx, "cognito: token store failed after a fetch", err)
		}
		return own.Load(), nil
	case err == nil && a.replaces(t, old, false):
		return t, nil // another authenticator's fetch
	case err == nil:
		// Another authenticator settled for a token this one would not (other options,
		// or one it invalidated): fetch for ourselves.
	case errors.As(err, &ae) || ctx.Err() != nil:
		return nil, err
	default:
		a.warn(ctx, "cognito: token store failed to coalesce a fetch", err)
	}
	return fetch(ctx)
}

// loadOrFetch returns the stored token if it can replace old, else a new one, which it
// stores.
func (a *ClientCredentialsAuthenticator) loadOrFetch(ctx context.Context, old *cacheEntry) (*Token, error) {
	stored, err := a.store.Load(ctx, a.key)
	if err != nil {
		a.warn(ctx, "cognito: token store failed to load a token", err)
	} else if a.replaces(stored, old, true) {
		return stored, nil
	}
	t, err := a.fetch(ctx)
	if err != nil {
		return nil, err
	}
	if err := a.store.Store(ctx, a.key, t); err != nil {
		a.warn(ctx, "cognito: token store failed to save a token", err)
	}
	return t, nil
}

// replaces reports whether t may replace old: another token, not invalidated, and still
// fresh. A token found in the store must, strictly, not be due for a refresh itself
// either; one that another authenticator has just fetched is taken while fresh.
func (a *ClientCredentialsAuthenticator) replaces(t *Token, old *cacheEntry, strict bool) bool {
	if t == nil || t.Token == "" || (old != nil && t.Token == old.tok.Token) {
		return false
	}
	if r := a.rejected.Load(); r != nil && r.Token == t.Token {
		return false
	}
	now := a.now()
	sched := scheduleFor(t, now, a.margin, a.refreshAhead)
	if strict {
		return now.Before(sched.refreshAt)
	}
	return now.Before(sched.freshUntil)
}

// fetch requests a token, with retries.
func (a *ClientCredentialsAuthenticator) fetch(ctx context.Context) (*Token, error) {
	var tok *Token
	attempts, err := a.retry.do(ctx, func(ctx context.Context) (time.Duration, bool, error) {
		t, retryAfter, retryable, err := a.request(ctx)
		tok = t
		return retryAfter, retryable, err
	})
	if err != nil {
		var ae *AuthenticationError
		if errors.As(err, &ae) {
			ae.Attempts = attempts
		}
		return nil, err
	}
	return tok, nil
}

// request makes one token request and sorts out the answer.
func (a *ClientCredentialsAuthenticator) request(ctx context.Context) (tok *Token, retryAfter time.Duration, retryable bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, a.attemptTimeout)
	defer cancel()
	sent := a.now()
	// The raw response, not PostTokenWithFormdataBodyWithResponse: its parser drops the
	// status when a body does not decode, and a 4xx must never be mistaken for a
	// retryable failure.
	resp, err := a.client.PostTokenWithFormdataBody(ctx, a.form)
	if err != nil {
		if errors.Is(err, errBodyTooLarge) {
			return nil, 0, false, &AuthenticationError{Reason: ErrInvalidTokenResponse, Err: errBodyTooLarge}
		}
		return nil, 0, true, &AuthenticationError{Reason: ErrTokenEndpointUnavailable, Err: err}
	}
	defer resp.Body.Close()
	body, readErr := io.ReadAll(resp.Body)
	status := resp.StatusCode
	if readErr != nil && !errors.Is(readErr, errBodyTooLarge) {
		return nil, 0, true, &AuthenticationError{Reason: ErrTokenEndpointUnavailable, StatusCode: status, Err: readErr}
	}
	switch {
	case status == http.StatusOK:
		if readErr != nil {
			return nil, 0, false, &AuthenticationError{Reason: ErrInvalidTokenResponse, StatusCode: status, Err: errBodyTooLarge}
		}
		t, err := tokenFromAnswer(body, resp.Header.Get("Content-Type"), sent, a.now(), a.cfg.Scope)
		var oe *oauthAnswerError
		switch {
		case errors.As(err, &oe):
			return nil, 0, false, a.rejection(status, oe.code, oe.description)
		case err != nil:
			return nil, 0, false, &AuthenticationError{Reason: ErrInvalidTokenResponse, StatusCode: status, Err: err}
		}
		return t, 0, false, nil
	case status == http.StatusTooManyRequests || status >= 500:
		retryAfter, _ = parseRetryAfter(resp.Header.Get("Retry-After"), a.now())
		oe, _ := oauthError(body)
		return nil, retryAfter, true, &AuthenticationError{Reason: ErrTokenEndpointUnavailable, StatusCode: status,
			ErrorCode: a.scrub(string(oe.Error), 64), ErrorDescription: a.scrub(oe.ErrorDescription, 512)}
	case status >= 400:
		oe, _ := oauthError(body)
		return nil, 0, false, a.rejection(status, string(oe.Error), oe.ErrorDescription)
	default:
		return nil, 0, false, &AuthenticationError{Reason: ErrInvalidTokenResponse, StatusCode: status,
			Err: fmt.Errorf("unexpected HTTP status %d", status)}
	}
}

// rejection is the error for an OAuth error answer.
func (a *ClientCredentialsAuthenticator) rejection(status int, code, description string) *AuthenticationError {
	return &AuthenticationError{Reason: ErrTokenRequestRejected, StatusCode: status,
		ErrorCode: a.scrub(code, 64), ErrorDescription: a.scrub(description, 512)}
}

// oauthError decodes an OAuth error body (RFC 6749 §5.2).
func oauthError(body []byte) (oe gen.OAuthError, ok bool) {
	if len(body) == 0 || json.Unmarshal(body, &oe) != nil || oe.Error == "" {
		return gen.OAuthError{}, false
	}
	return oe, true
}

// scrub makes a server-supplied string safe for an error: cut to n bytes, and with the
// client secret removed should the server echo it.
func (a *ClientCredentialsAuthenticator) scrub(s string, n int) string {
	for _, secret := range []string{a.cfg.ClientSecret, url.QueryEscape(a.cfg.ClientSecret), strings.TrimPrefix(string(a.basic), "Basic ")} {
		if secret != "" {
			s = strings.ReplaceAll(s, secret, "REDACTED")
		}
	}
	if len(s) > n {
		s = strings.ToValidUTF8(s[:n], "") + "…"
	}
	return s
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
