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
	if a.inflight == nil && a.cur.Load() == e {
		a.inflight = a.startFetch(ctx, e)
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
	a.failures++
	if old != nil && now.Before(old.tok.ExpiresAt) {
		// Keep serving a token that still works rather than fail callers, and try again
		// after a backoff rather than on the next call.
		until := now.Add(refreshBackoff(a.failures))
		if until.After(old.tok.ExpiresAt) {
			until = old.tok.ExpiresAt
		}
		e := &cacheEntry{tok: old.tok, schedule: schedule{refreshAt: until, freshUntil: old.freshUntil}, stale: true}
		if until.After(e.freshUntil) {
			e.freshUntil = until
		}
		if a.cur.CompareAndSwap(old, e) {
			a.logger.LogAttrs(ctx, slog.LevelWarn, "cognito: token refresh failed; serving the cached token until it expires",
				slog.String("client_id", a.cfg.ClientID), slog.String("reason", ReasonCode(err)),
				slog.String("error", err.Error()), slog.Time("expires_at", old.tok.ExpiresAt))
			return e, nil
		}
	}
	a.warn(ctx, "cognito: token request failed", err)
	return nil, err
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
	t, err := c.Coalesce(ctx, a.key, func(ctx context.Context, stored *Token) (*Token, error) {
		t, err := a.reuseOrFetch(ctx, stored, old)
		own.Store(t)
		return t, err
	})
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
	t, err := a.reuseOrFetch(ctx, stored, old)
	if err != nil || t == stored {
		return t, err
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
