package cognito

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/cognitokit/cognitokit/internal/backoff"
	"github.com/cognitokit/cognitokit/internal/flight"
)

const (
	// After a failed refresh, while the cached token has not expired, the next refresh
	// is tried this long later, doubling with each failure up to refreshBackoffMax: a
	// throttled or failing endpoint is not hammered by every instance of a service.
	refreshBackoffMin = 5 * time.Second
	refreshBackoffMax = time.Minute
)

// cacheEntry is a token with its precomputed schedule. It is never modified once
// published, except for the refreshing flag.
type cacheEntry struct {
	tok *Token
	schedule
	refreshing atomic.Bool // a background refresh was started for this entry
	stale      bool        // the token kept after its refresh failed
}

// entry is GetToken returning the cache entry, whose schedule the adapters need. The
// cache-hit path is an atomic load and a clock reading: no lock, no allocation.
func (a *ClientCredentialsAuthenticator) entry(ctx context.Context) (*cacheEntry, error) {
	if e := a.cur.Load(); e != nil {
		now := a.now()
		if now.Before(e.refreshAt) {
			if a.tel != nil {
				a.tel.served(e)
			}
			return e, nil
		}
		if now.Before(e.freshUntil) {
			if a.tel != nil {
				a.tel.cache.Inc(cacheRefreshAhead)
			}
			a.startRefresh(ctx, e)
			return e, nil
		}
	}
	if a.tel != nil {
		a.tel.cache.Inc(cacheMiss)
	}
	return a.wait(ctx)
}

// startRefresh starts one background refresh of e, unless one was already started for it.
func (a *ClientCredentialsAuthenticator) startRefresh(ctx context.Context, e *cacheEntry) {
	if e.refreshing.Load() || !e.refreshing.CompareAndSwap(false, true) {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.inflight != nil || a.cur.Load() != e {
		return
	}
	if until := a.circuit.holdUntil(a.now()); !until.IsZero() {
		// Held off: keep serving e, and refresh when the cool-down ends.
		a.keep(e, until)
		return
	}
	a.inflight = a.startFetch(ctx, e)
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
		// A cool-down after a failure: fail at once, making no request and starting no
		// fetch, or serve the cached token while it has not expired.
		now := a.now()
		if ae := a.heldOff(now); ae != nil {
			old := a.cur.Load()
			var kept *cacheEntry
			if old != nil && now.Before(old.tok.ExpiresAt) {
				kept, _ = a.keep(old, ae.RetryAt)
			}
			a.mu.Unlock()
			if kept != nil {
				return kept, nil
			}
			return nil, ae
		}
		f = a.startFetch(ctx, a.cur.Load())
		a.inflight = f
	}
	a.mu.Unlock()
	if !f.Await(ctx) {
		return nil, waitError(ctx.Err())
	}
	return f.Result()
}

func waitError(err error) error { return fmt.Errorf("cognito: waiting for a token: %w", err) }

// startFetch starts one fetch, to replace old, in its own goroutine: its context keeps
// the values of the caller that started it but not its cancellation, so that one caller
// giving up does not fail the others; it is bounded by flightTimeout instead. a.mu must
// be held.
func (a *ClientCredentialsAuthenticator) startFetch(ctx context.Context, old *cacheEntry) *flight.Call[*cacheEntry] {
	return flight.Start(ctx, a.flightTimeout, func(ctx context.Context) (*cacheEntry, error) {
		defer func() {
			a.mu.Lock()
			a.inflight = nil
			a.mu.Unlock()
		}()
		return a.run(ctx, old)
	})
}

// run is one fetch. It returns what its callers get: the new token, or, when the fetch
// failed, a still-valid old one.
func (a *ClientCredentialsAuthenticator) run(ctx context.Context, old *cacheEntry) (*cacheEntry, error) {
	tok, err := a.obtain(ctx, old)
	now := a.now()
	if err == nil {
		a.failures = 0
		e := &cacheEntry{tok: tok, schedule: scheduleFor(tok, now, a.margin, a.refreshAhead)}
		a.cur.Store(e)
		return e, nil
	}
	// A call held off made no request: there is nothing new to count or log.
	var ae *AuthenticationError
	heldOff := errors.As(err, &ae) && ae.HeldOff
	if !heldOff {
		a.failures++
	}
	if old != nil && now.Before(old.tok.ExpiresAt) {
		// Keep serving a token that still works rather than fail callers, and try again
		// after a backoff, and not before the cool-down ends, rather than on the next call.
		until := a.circuit.holdUntil(now)
		if !heldOff || until.IsZero() {
			until = later(until, now.Add(refreshBackoff(a.failures)))
		}
		if e, ok := a.keep(old, until); ok {
			if !heldOff {
				a.logger.LogAttrs(ctx, slog.LevelWarn, "cognito: token refresh failed; serving the cached token until it expires",
					slog.String("client_id", a.cfg.ClientID), slog.String("reason", ReasonCode(err)),
					slog.String("error", err.Error()), slog.Time("expires_at", old.tok.ExpiresAt))
			}
			return e, nil
		}
	}
	if !heldOff && (ae == nil || ae.cooldown == nil) {
		// A failure that started a cool-down was logged by the circuit.
		a.warn(ctx, "cognito: token request failed", err)
	}
	return nil, err
}

// keep publishes old, a token that has not expired, to be served until until (at most
// its expiry), when a refresh is due. It reports whether old was still the current entry.
func (a *ClientCredentialsAuthenticator) keep(old *cacheEntry, until time.Time) (*cacheEntry, bool) {
	if until.After(old.tok.ExpiresAt) {
		until = old.tok.ExpiresAt
	}
	e := &cacheEntry{tok: old.tok, schedule: schedule{refreshAt: until, freshUntil: later(old.freshUntil, until)}, stale: true}
	if a.cur.CompareAndSwap(old, e) {
		return e, true
	}
	return nil, false
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// refreshBackoff is the wait after the given number of consecutive failed fetches
// before a cached token is refreshed again.
func refreshBackoff(failures int) time.Duration {
	return backoff.Exponential{First: refreshBackoffMin, Max: refreshBackoffMax}.After(failures)
}

// obtain returns a token to replace old: one from the store if another authenticator
// stored a fresh one, else a new one from the token endpoint, which the store keeps.
func (a *ClientCredentialsAuthenticator) obtain(ctx context.Context, old *cacheEntry) (*Token, error) {
	c, ok := a.store.(CoalescingStore)
	if !ok {
		return a.loadOrFetch(ctx, old)
	}
	var own atomic.Pointer[Token] // what this authenticator's fetch returned, when Coalesce ran it
	var ran atomic.Bool           // Coalesce ran this authenticator's fetch
	t, err := c.Coalesce(ctx, a.key, func(ctx context.Context, stored *Token) (*Token, error) {
		ran.Store(true)
		t, err := a.reuseOrFetch(ctx, stored, old)
		own.Store(t)
		return t, err
	})
	var ae *AuthenticationError
	var cd *Cooldown
	switch {
	case own.Load() != nil:
		if err != nil {
			a.warn(ctx, "cognito: token store failed after a fetch", err)
		}
		return own.Load(), nil
	case !errors.As(err, &ae) && errors.As(err, &cd):
		// A cool-down another authenticator recorded: no request, but a token it stored
		// that is still fresh does.
		heldOff := a.adopt(ctx, cd)
		if a.replaces(t, old, false) {
			return t, nil
		}
		return nil, heldOff
	case err == nil && a.replaces(t, old, false):
		return t, nil // another authenticator's fetch
	case err == nil:
		// Another authenticator settled for a token this one would not (other options,
		// or one it invalidated): fetch for ourselves.
	case errors.As(err, &ae):
		if !ran.Load() && errors.As(err, &cd) {
			// Another authenticator's answer, shared by the store: its cool-down holds
			// this one off too.
			a.adopt(ctx, cd)
		}
		return nil, err
	case ctx.Err() != nil:
		return nil, err
	default:
		a.warn(ctx, "cognito: token store failed to coalesce a fetch", err)
	}
	return a.loadOrFetch(ctx, old)
}

// loadOrFetch is obtain without coalescing: the stored token if it can replace old, else
// a new one, which it stores.
func (a *ClientCredentialsAuthenticator) loadOrFetch(ctx context.Context, old *cacheEntry) (*Token, error) {
	stored, err := a.store.Load(ctx, a.key)
	if err != nil {
		a.warn(ctx, "cognito: token store failed to load a token", err)
		stored = nil
	}
	if a.replaces(stored, old, true) {
		return stored, nil
	}
	cs, shares := a.store.(CooldownStore)
	if shares {
		switch cd, err := cs.LoadCooldown(ctx, a.key); {
		case err != nil:
			a.warn(ctx, "cognito: token store failed to load a cool-down", err)
		case cd != nil && cd.Remaining > 0:
			heldOff := a.adopt(ctx, cd)
			if a.replaces(stored, old, false) {
				return stored, nil
			}
			return nil, heldOff
		}
	}
	t, err := a.fetch(ctx)
	if err != nil {
		var ae *AuthenticationError
		if shares && errors.As(err, &ae) && !ae.HeldOff && ae.cooldown != nil {
			if err := cs.StoreCooldown(ctx, a.key, ae.cooldown); err != nil {
				a.warn(ctx, "cognito: token store failed to save a cool-down", err)
			}
		}
		return nil, err
	}
	if err := a.store.Store(ctx, a.key, t); err != nil {
		a.warn(ctx, "cognito: token store failed to save a token", err)
	}
	return t, nil
}

// reuseOrFetch returns stored if it can replace old, else a new token from the endpoint.
func (a *ClientCredentialsAuthenticator) reuseOrFetch(ctx context.Context, stored *Token, old *cacheEntry) (*Token, error) {
	if a.replaces(stored, old, true) {
		return stored, nil
	}
	return a.fetch(ctx)
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
