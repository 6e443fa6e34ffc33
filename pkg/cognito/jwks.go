package cognito

import (
	"context"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"

	"github.com/cognitokit/cognitokit/gen"
	"github.com/cognitokit/cognitokit/internal/backoff"
	"github.com/cognitokit/cognitokit/internal/flight"
)

// Key-set timing that is not an option.
const (
	// jwksFirstBackoff is the wait after the first failed fetch; it doubles with each
	// failure in a row, up to the refresh interval.
	jwksFirstBackoff = time.Second
	// jwksMaxColdBackoff caps the backoff while no key set was ever loaded, so a service
	// that started during an outage recovers quickly once the JWKS answers again.
	jwksMaxColdBackoff = 30 * time.Second
	// minRSABits is the smallest RSA modulus accepted (RFC 7518 section 3.3).
	minRSABits = 2048
)

// keySet is one loaded JWKS: the keys that can verify RS256 by kid, and the kids of keys
// that cannot, with why. An immutable value: a refresh installs a new one.
type keySet struct {
	keys    map[string]*rsa.PublicKey
	refused map[string]string
	// gen changes whenever the keys change; verified-token cache entries remember the
	// generation they were verified under.
	gen uint64
}

// jwksCache holds the key set of one issuer. Verify never waits for it except on the first
// load and on an unknown kid outside the cooldown; every other fetch runs in the
// background while the current keys keep serving.
//
// There is no timer goroutine: a Verify that finds the set older than the refresh interval
// starts one background fetch, so an idle authorizer costs nothing and needs no Close.
type jwksCache struct {
	issuer  string
	jwksURL string
	poolID  string                   // path parameter of the generated client's GetJWKS
	pool    *userPool                // the pool whose rules the issuer's tokens are checked by
	client  *gen.ClientWithResponses // nil for a static key set
	static  bool

	clock        func() time.Time
	logger       *slog.Logger
	refresh      time.Duration
	cooldown     time.Duration
	fetchTimeout time.Duration
	gens         *atomic.Uint64   // shared by the authorizer's issuers
	onChange     func(*jwksCache) // called after the key set changed (not on the first load)
	tel          *authzTelemetry  // nil without a meter provider
	parse        func([]byte) (*keySet, error)

	set atomic.Pointer[keySet]
	// refreshAt is when (Unix ns, by clock) the next Verify starts a background fetch:
	// the refresh interval after a success, the backoff after a failure, never while a
	// fetch is in flight. Read on every Verify, hence atomic.
	refreshAt atomic.Int64

	mu       sync.Mutex
	flight   *jwksFlight // the fetch in progress, if any
	failures int         // failed fetches in a row
	retryAt  time.Time   // before it, a cold cache fails fast instead of fetching
	lastErr  error
	// cooldownUntil: unknown kids before it fail fast. Started by a fetch an unknown kid
	// waited for; the first load and periodic refreshes leave it alone.
	cooldownUntil time.Time
}

// jwksFlight is one fetch; its call finishes after the result is installed.
type jwksFlight struct {
	call *flight.Call[struct{}]
	// unknownKid: some caller waits for this fetch because of a kid it did not know.
	// Guarded by jwksCache.mu.
	unknownKid bool
	started    time.Time // for the fetch duration metric; zero without one
}

// key returns the public key for kid from the issuer's key set, loading or refetching the
// set as the cache rules say, and the set it came from. Errors are *AuthorizationError.
func (c *jwksCache) key(ctx context.Context, kid string, now time.Time) (*rsa.PublicKey, *keySet, error) {
	set := c.set.Load()
	fresh := false
	if set == nil {
		if err := c.load(ctx, now, false); err != nil {
			return nil, nil, err
		}
		set, fresh = c.set.Load(), true
	} else {
		c.refreshIfDue(ctx, now)
	}
	if pub, found, err := set.lookup(kid); found {
		return pub, set, err
	}
	if c.static || fresh {
		return nil, nil, refuse(ErrUnknownKey, "no key of the JWKS has the token's kid")
	}

	c.mu.Lock()
	// A fetch may have ended since the lookup above; its keys may hold the kid.
	if set = c.set.Load(); set != nil {
		if pub, found, err := set.lookup(kid); found {
			c.mu.Unlock()
			return pub, set, err
		}
	}
	// Inside the cooldown an unknown kid fails fast, even while a periodic refresh is in
	// flight: an attacker's stream of made-up kids must never make callers wait.
	if now.Before(c.cooldownUntil) {
		c.mu.Unlock()
		return nil, nil, refuse(ErrUnknownKey, "no key of the JWKS has the token's kid (JWKS refetch cooling down)")
	}
	f := c.flight
	if f == nil {
		f = c.startLocked(ctx)
	}
	f.unknownKid = true
	c.mu.Unlock()

	if err := c.wait(ctx, f); err != nil {
		return nil, nil, err
	}
	set = c.set.Load()
	if pub, found, err := set.lookup(kid); found {
		return pub, set, err
	}
	return nil, nil, refuse(ErrUnknownKey, "no key of the refetched JWKS has the token's kid")
}

func (s *keySet) lookup(kid string) (pub *rsa.PublicKey, found bool, err error) {
	if pub, ok := s.keys[kid]; ok {
		return pub, true, nil
	}
	if why, ok := s.refused[kid]; ok {
		return nil, true, refuse(ErrAlgorithmNotAllowed, "RS256 is not allowed with the key the kid names: "+why)
	}
	return nil, false, nil
}

// refreshIfDue starts one background fetch when the set is due for a refresh (or a retry
// after a failed one). It never waits.
func (c *jwksCache) refreshIfDue(ctx context.Context, now time.Time) {
	if now.UnixNano() < c.refreshAt.Load() {
		return
	}
	c.mu.Lock()
	if c.flight == nil && now.UnixNano() >= c.refreshAt.Load() {
		c.startLocked(ctx)
	}
	c.mu.Unlock()
}

// load waits until the set is loaded. Unless force is set, a cold cache whose last fetch
// failed less than the backoff ago fails fast rather than fetching again.
func (c *jwksCache) load(ctx context.Context, now time.Time, force bool) error {
	c.mu.Lock()
	if c.set.Load() != nil {
		c.mu.Unlock()
		return nil
	}
	f := c.flight
	if f == nil {
		if !force && now.Before(c.retryAt) {
			err := c.lastErr
			c.mu.Unlock()
			return c.unavailable("the last fetch failed; the next is after a backoff", err)
		}
		f = c.startLocked(ctx)
	}
	c.mu.Unlock()
	return c.wait(ctx, f)
}

// wait waits for f or the caller's context, whichever ends first. The fetch itself is not
// cancelled: other callers may be waiting for it.
func (c *jwksCache) wait(ctx context.Context, f *jwksFlight) error {
	if !f.call.Await(ctx) {
		return c.unavailable("gave up waiting for the fetch", ctx.Err())
	}
	if _, err := f.call.Result(); err != nil {
		return c.unavailable("fetch failed", err)
	}
	return nil
}

func (c *jwksCache) unavailable(detail string, err error) error {
	return &AuthorizationError{Reason: ErrJWKSUnavailable, Detail: "JWKS of " + c.issuer + ": " + detail, Err: err}
}

// startLocked starts a fetch in its own goroutine. Its context keeps the values of the
// caller's (tracing) but not its cancellation, since other callers may come to wait for
// it; fetchTimeout bounds it. c.mu must be held.
func (c *jwksCache) startLocked(ctx context.Context) *jwksFlight {
	f := &jwksFlight{}
	if c.tel != nil {
		f.started = time.Now()
	}
	c.flight = f
	c.refreshAt.Store(math.MaxInt64)
	f.call = flight.Start(ctx, c.fetchTimeout, func(ctx context.Context) (struct{}, error) {
		// Installed even if fetch panics, so that the cache is not left with a fetch that
		// never ends (the waiters get the panic).
		set, err := (*keySet)(nil), errFetchPanicked
		defer func() { c.finish(f, set, err) }()
		set, err = c.fetch(ctx)
		return struct{}{}, err
	})
	return f
}

var errFetchPanicked = errors.New("the fetch panicked")

// finish installs the result of f, before its waiters are woken.
func (c *jwksCache) finish(f *jwksFlight, set *keySet, err error) {
	c.mu.Lock()
	now := c.clock()
	changed := false
	if c.tel != nil {
		c.tel.fetched(c.set.Load() == nil, f.unknownKid, err, f.started)
	}
	if err == nil {
		old := c.set.Load()
		if old != nil && old.sameKeys(set) {
			set.gen = old.gen
		} else {
			set.gen = c.gens.Add(1)
			changed = old != nil
		}
		c.set.Store(set)
		c.failures, c.lastErr, c.retryAt = 0, nil, time.Time{}
		c.refreshAt.Store(now.Add(c.refresh).UnixNano())
		c.logger.Debug("cognito: JWKS loaded", "issuer", c.issuer, "keys", len(set.keys), "changed", changed)
	} else {
		c.failures++
		limit := c.refresh
		if c.set.Load() == nil {
			limit = min(limit, jwksMaxColdBackoff)
		}
		wait := backoff.Exponential{First: jwksFirstBackoff, Max: limit}.After(c.failures)
		c.retryAt, c.lastErr = now.Add(wait), err
		c.refreshAt.Store(c.retryAt.UnixNano())
		if c.set.Load() != nil {
			c.logger.Warn("cognito: JWKS refresh failed; keeping the last good keys",
				"issuer", c.issuer, "error", err.Error(), "failures", c.failures, "retry_in", wait)
		} else {
			c.logger.Warn("cognito: JWKS fetch failed; no keys loaded yet",
				"issuer", c.issuer, "error", err.Error(), "failures", c.failures, "retry_in", wait)
		}
	}
	if f.unknownKid {
		c.cooldownUntil = now.Add(c.cooldown)
	}
	c.flight = nil
	c.mu.Unlock()
	// Purge before waking the waiters, so whoever waited for a key change finds the
	// tokens of the old keys gone, not just dead.
	if changed && c.onChange != nil {
		c.onChange(c)
	}
}

// fetch downloads and parses the JWKS through the generated client. It reads the raw
// answer (GetJWKS rather than GetJWKSWithResponse) because the generated parser decodes the
// whole set into gen.JWKS at once, so one key with a member of the wrong type would throw
// the whole set away; parseJWKS takes the keys one by one instead. The limitedDoer caps the
// body at 1 MiB.
func (c *jwksCache) fetch(ctx context.Context) (*keySet, error) {
	resp, err := c.client.GetJWKS(ctx, c.poolID)
	if err != nil {
		return nil, fmt.Errorf("fetch %s: %w", c.jwksURL, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		return nil, fmt.Errorf("fetch %s: HTTP %d", c.jwksURL, resp.StatusCode)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("fetch %s: %w", c.jwksURL, err)
	}
	set, err := c.parse(body)
	if err != nil {
		return nil, fmt.Errorf("fetch %s: %w", c.jwksURL, err)
	}
	return set, nil
}

// parseJWKS reads a JWKS key by key, so one malformed key does not throw away the others.
// It keeps RSA keys with a kid, meant for signatures, of at least 2048 bits and for RS256
// (or no alg); other keys with a kid are remembered as refused, so a token naming one gets
// ErrAlgorithmNotAllowed without causing a refetch. Malformed keys and keys without a kid are
// skipped; of two keys with one kid the first is kept. Skipped keys are logged (kid and
// reason only). A set without one usable key is an error, so a refresh answering one keeps
// the last good set.
func parseJWKS(body []byte, logger *slog.Logger, issuer string) (*keySet, error) {
	var doc struct {
		Keys *[]json.RawMessage `json:"keys"`
	}
	if !isJSONObject(body) || json.Unmarshal(body, &doc) != nil {
		return nil, errors.New("JWKS is not a JSON object")
	}
	if doc.Keys == nil {
		return nil, errors.New("JWKS has no keys array")
	}
	set := &keySet{keys: map[string]*rsa.PublicKey{}, refused: map[string]string{}}
	skip := func(i int, kid, why string) {
		logger.Warn("cognito: JWKS key skipped", "issuer", issuer, "index", i, "kid", kid, "reason", why)
	}
	for i, raw := range *doc.Keys {
		k, err := jwk.ParseKey(raw)
		if err != nil {
			skip(i, "", "malformed key")
			continue
		}
		kid := k.KeyID()
		if kid == "" {
			skip(i, "", "no kid")
			continue
		}
		if _, dup := set.keys[kid]; dup {
			skip(i, kid, "duplicate kid; the first key is kept")
			continue
		}
		if _, dup := set.refused[kid]; dup {
			skip(i, kid, "duplicate kid; the first key is kept")
			continue
		}
		pub, why := rsaVerificationKey(k)
		if why != "" {
			set.refused[kid] = why
			skip(i, kid, why)
			continue
		}
		set.keys[kid] = pub
	}
	if len(set.keys) == 0 {
		return nil, fmt.Errorf("JWKS has no usable RSA signing key (%d keys)", len(*doc.Keys))
	}
	return set, nil
}

// rsaVerificationKey returns the RSA public key of k if k may verify RS256 signatures, or
// why not.
func rsaVerificationKey(k jwk.Key) (*rsa.PublicKey, string) {
	if k.KeyType() != jwa.RSA {
		return nil, "it is not an RSA key"
	}
	if use := k.KeyUsage(); use != "" && use != string(jwk.ForSignature) {
		return nil, "it is not a signature key"
	}
	if ops := k.KeyOps(); len(ops) > 0 && !slices.Contains(ops, jwk.KeyOpVerify) {
		return nil, "its key_ops exclude verify"
	}
	if alg := k.Algorithm().String(); alg != "" && alg != jwa.RS256.String() {
		return nil, "it is for another algorithm"
	}
	pk, err := k.PublicKey()
	if err != nil {
		return nil, "it is not a valid RSA key"
	}
	var pub rsa.PublicKey
	if err := pk.Raw(&pub); err != nil || pub.N == nil {
		return nil, "it is not a valid RSA key"
	}
	if pub.N.BitLen() < minRSABits {
		return nil, "it is shorter than 2048 bits"
	}
	// Go's crypto/rsa verifies nothing with an exponent above 2^31-1 and BoringSSL accepts
	// up to 2^33-1: refusing them here keeps the default and BoringCrypto builds' answers
	// the same (FuzzRS256).
	if pub.E < 3 || pub.E%2 == 0 || pub.E > 1<<31-1 {
		return nil, "its exponent is unusable"
	}
	return &pub, ""
}

func (s *keySet) sameKeys(o *keySet) bool {
	return maps.EqualFunc(s.keys, o.keys, func(a, b *rsa.PublicKey) bool { return a.Equal(b) }) &&
		maps.Equal(s.refused, o.refused)
}
