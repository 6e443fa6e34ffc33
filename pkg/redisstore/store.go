package redisstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/trace"

	"github.com/cognitokit/cognitokit/pkg/cognito"
)

// ErrUnavailable matches (with [errors.Is]) every error the store returns because Redis
// failed, was too slow, or is being left alone after a failure, and the error of an
// instance that waited too long for another one's fetch. An authenticator meeting it
// fetches the token on its own.
var ErrUnavailable = errors.New("redisstore: redis unavailable")

// Store is a [cognito.CoalescingStore] in Redis: the authenticators of every instance of
// a service, given stores on the same Redis, share one token per client and make one
// token request between them when it is missing or due for a refresh. Build it with
// [New]; it is safe for concurrent use.
type Store struct {
	client redis.UniversalClient
	options

	downUntil atomic.Int64 // clock() in Unix ns until which Redis is left alone; 0 when up
	down      atomic.Bool  // Redis was found unavailable and has not answered since

	hits, misses, stores     atomic.Uint64
	locks, lockWaits, shared atomic.Uint64
	fallbacks, lostLocks     atomic.Uint64
	heldOff, cooldowns       atomic.Uint64

	tracer trace.Tracer // nil unless WithTracerProvider
}

// Stats are counts of what a [Store] did since it was built.
type Stats struct {
	// Hits and Misses count reads of a token (a Load, or the read folded into taking the
	// lock) that found one in Redis, or none.
	Hits, Misses uint64
	// Stores counts tokens written to Redis.
	Stores uint64
	// Locks counts fetches this instance ran holding the fleet's lock.
	Locks uint64
	// LockWaits counts waits for another instance's fetch, and Shared those that ended
	// with its token.
	LockWaits, Shared uint64
	// Fallbacks counts calls that failed because Redis failed, was too slow or was being
	// left alone after a failure, and waits that lasted too long: each one made an
	// authenticator do without the store, fetching or keeping its token on its own.
	Fallbacks uint64
	// LostLocks counts fetches whose lock had expired or been taken over by the time they
	// ended (the holder was slower than the lock TTL and could not renew it).
	LostLocks uint64
	// HeldOff counts calls that found a cool-down in force (the token endpoint rejected
	// the client, or is failing): no token request was made. Cooldowns counts cool-downs
	// this instance recorded for the fleet.
	HeldOff, Cooldowns uint64
}

// New returns a store on client: a *redis.Client, *redis.ClusterClient, a failover
// (Sentinel) client or a *redis.Ring. TLS, authentication, Sentinel and Cluster are
// configured on the client, with go-redis's own options. The store adds nothing to the
// client but its commands, and never closes it.
//
// The keys of a token are the option's prefix followed by "{" + [cognito.TokenKey] + "}"
// (the braces are a Cluster hash tag, which keeps the token, its lock, its wake-up lists
// and its cool-down in one slot), plus ":lock", ":waiters", ":wake:<fence>" and
// ":cooldown" for those.
func New(client redis.UniversalClient, opts ...Option) (*Store, error) {
	if client == nil {
		return nil, errors.New("redisstore: client is nil")
	}
	s := &Store{client: client, options: newOptions(opts)}
	if s.tracerProvider != nil {
		s.tracer = s.tracerProvider.Tracer(scopeName)
	}
	if s.meterProvider != nil {
		if err := s.registerMetrics(s.meterProvider); err != nil {
			return nil, fmt.Errorf("redisstore: meter provider: %w", err)
		}
	}
	return s, nil
}

// Stats returns the store's counters.
func (s *Store) Stats() Stats {
	return Stats{
		Hits: s.hits.Load(), Misses: s.misses.Load(), Stores: s.stores.Load(),
		Locks: s.locks.Load(), LockWaits: s.lockWaits.Load(), Shared: s.shared.Load(),
		Fallbacks: s.fallbacks.Load(), LostLocks: s.lostLocks.Load(),
		HeldOff: s.heldOff.Load(), Cooldowns: s.cooldowns.Load(),
	}
}

// RedisKey returns the Redis key under which the token of tokenKey ([cognito.TokenKey])
// is stored.
func (s *Store) RedisKey(tokenKey string) string { return s.prefix + "{" + tokenKey + "}" }

// keys are the Redis keys of one token, in the order the scripts take them, with the
// wake-up list of the holder whose lock value is fence.
func (s *Store) keys(tokenKey, fence string) []string {
	base := s.RedisKey(tokenKey)
	return []string{base, base + ":lock", base + ":waiters", wakeKey(base, fence), cooldownKey(base)}
}

// cooldownKey holds the cool-down of a token key: the answer that started it, never a
// secret, with a Redis TTL of what is left of it.
func cooldownKey(base string) string { return base + ":cooldown" }

// wakeKey is the list the holder with this fence pushes its waiters' wake-up messages
// into. Each holder has its own, so that a message nobody took (its waiter gave up, or
// took the lock itself) expires with it instead of answering a later fetch.
func wakeKey(base, fence string) string { return base + ":wake:" + fence }

// record is the stored form of a token: the token and its instants, never the secret.
// Instants are Unix milliseconds so that the scripts can compare them.
type record struct {
	V         int    `json:"v"`
	Token     string `json:"access_token"`
	TokenType string `json:"token_type"`
	Scope     string `json:"scope,omitempty"`
	ExpiresAt int64  `json:"exp_ms"`
	IssuedAt  int64  `json:"iat_ms,omitempty"`
}

const recordVersion = 1

func encode(t *cognito.Token) string {
	r := record{V: recordVersion, Token: t.Token, TokenType: t.TokenType, Scope: t.Scope,
		ExpiresAt: t.ExpiresAt.UnixMilli()}
	if !t.IssuedAt.IsZero() {
		r.IssuedAt = t.IssuedAt.UnixMilli()
	}
	b, _ := json.Marshal(r) // strings and integers only: cannot fail
	return string(b)
}

// decode returns the token in a stored value, or nil for none or for a value it does not
// understand (another format version, garbage), which is then as good as missing.
func decode(v string) *cognito.Token {
	var r record
	if v == "" || json.Unmarshal([]byte(v), &r) != nil || r.V != recordVersion || r.Token == "" || r.ExpiresAt == 0 {
		return nil
	}
	t := &cognito.Token{Token: r.Token, TokenType: r.TokenType, Scope: r.Scope, ExpiresAt: time.UnixMilli(r.ExpiresAt)}
	if r.IssuedAt != 0 {
		t.IssuedAt = time.UnixMilli(r.IssuedAt)
	}
	return t
}

// freshTTL is the Redis TTL of t: its fresh window, as the authenticator that obtained
// it serves it ([cognito.Token.FreshWindow]). It is a span taken from the token's own
// instants, not from a clock, so it is right whichever clock the authenticators run on;
// and nothing depends on Redis expiring the key, since the authenticators check a loaded
// token's instants themselves. Zero or less means the token is not worth storing.
func (s *Store) freshTTL(t *cognito.Token) time.Duration {
	from, until := t.FreshWindow(s.clock())
	return until.Sub(from)
}

func (s *Store) counted(t *cognito.Token) *cognito.Token {
	if t != nil {
		s.hits.Add(1)
	} else {
		s.misses.Add(1)
	}
	return t
}

// Load returns the token stored under key, or nil. It fails, with an error matching
// [ErrUnavailable], only when Redis does.
func (s *Store) Load(ctx context.Context, key string) (*cognito.Token, error) {
	var raw string
	err := s.call(ctx, "load", s.timeout, func(ctx context.Context) error {
		v, err := s.client.Get(ctx, s.RedisKey(key)).Result()
		if errors.Is(err, redis.Nil) {
			return nil
		}
		raw = v
		return err
	})
	if err != nil {
		return nil, err
	}
	return s.counted(decode(raw)), nil
}

// Store saves t under key, with a Redis TTL of its fresh window, unless Redis holds a
// token that expires no earlier.
func (s *Store) Store(ctx context.Context, key string, t *cognito.Token) error {
	if t == nil || t.Token == "" {
		return nil
	}
	ttl := s.freshTTL(t)
	if ttl <= 0 {
		return nil
	}
	var stored int64
	err := s.call(ctx, "store", s.timeout, func(ctx context.Context) error {
		var err error
		base := s.RedisKey(key)
		stored, err = s.client.Eval(ctx, storeLua, []string{base, cooldownKey(base)},
			encode(t), t.ExpiresAt.UnixMilli(), ms(ttl)).Int64()
		return err
	})
	if err == nil && stored == 1 {
		s.stores.Add(1)
	}
	return err
}

// Delete removes the token under key if it is still t.
func (s *Store) Delete(ctx context.Context, key string, t *cognito.Token) error {
	if t == nil || t.Token == "" {
		return nil
	}
	return s.call(ctx, "delete", s.timeout, func(ctx context.Context) error {
		return s.client.Eval(ctx, deleteLua, []string{s.RedisKey(key)}, t.Token).Err()
	})
}

// Coalesce runs fetch in one instance of the fleet at a time for key. It takes the lock
// (SET NX PX with a random fence, in the same round trip as reading the token) and runs
// fetch, given the token read with the lock, which returns that token when it is fresh,
// else requests one; the release stores a requested token, deletes the lock if it still
// holds the fence, and hands the token to every instance that waited. An instance
// finding the lock taken waits on a Redis list for that token, each wait bounded by ctx, by the lock's remaining TTL (after which a
// dead holder's lock has expired and it tries to take it itself) and, in all, by
// [WithMaxWait]. A holder renews its lock while fetch runs.
//
// It returns ctx's error if ctx ends while waiting, an error matching [ErrUnavailable]
// if Redis fails or the wait lasts too long, and fetch's error unchanged.
func (s *Store) Coalesce(ctx context.Context, key string, fetch func(ctx context.Context, stored *cognito.Token) (*cognito.Token, error)) (*cognito.Token, error) {
	fence := newFence() // the lock's value if this call holds it, else its name as a waiter
	keys := s.keys(key, fence)
	waitCtx, cancel := context.WithTimeout(ctx, s.maxWait)
	defer cancel()
	for {
		var res []any
		err := s.call(ctx, "lock", s.timeout, func(ctx context.Context) error {
			var err error
			res, err = s.client.Eval(ctx, acquireLua, keys, fence, ms(s.lockTTL)).Slice()
			return err
		})
		if err != nil {
			return nil, err
		}
		state, loaded, pttl, holder, ok := acquired(res)
		if !ok {
			s.fallbacks.Add(1)
			return nil, &unavailableError{op: "lock", err: errors.New("unexpected answer")}
		}
		switch state {
		case stateCooling:
			s.heldOff.Add(1)
			return s.counted(decode(loaded)), decodeCooldown(holder, pttl)
		case stateHeld:
			return s.lead(ctx, keys, fence, loaded, fetch)
		}
		s.lockWaits.Add(1)
		tok, err := s.await(waitCtx, wakeKey(keys[0], holder), pttl)
		switch {
		case tok != nil:
			s.shared.Add(1)
			return tok, nil
		case err == nil:
			// The holder failed, or the lock ran out: take it, or wait for the next holder.
		case ctx.Err() != nil:
			return nil, fmt.Errorf("redisstore: waiting for another instance's token: %w", ctx.Err())
		case waitCtx.Err() != nil:
			s.fallbacks.Add(1)
			return nil, &unavailableError{op: "wait", err: fmt.Errorf("no token from the lock holder within %v", s.maxWait)}
		default:
			return nil, err
		}
	}
}

// What acquireLua found: the lock taken by another instance, the lock now held, or a
// cool-down in force.
const (
	stateWaiting = 0
	stateHeld    = 1
	stateCooling = 2
)

// acquired reads the answer of acquireLua: the state, the stored token, the lock's or
// the cool-down's remaining TTL, and the holder's fence or the cool-down.
func acquired(res []any) (state int64, loaded string, pttl time.Duration, holder string, ok bool) {
	if len(res) != 4 {
		return 0, "", 0, "", false
	}
	state, ok1 := res[0].(int64)
	loaded, ok2 := res[1].(string)
	remaining, ok3 := res[2].(int64)
	holder, ok4 := res[3].(string)
	return state, loaded, time.Duration(remaining) * time.Millisecond, holder, ok1 && ok2 && ok3 && ok4
}

// lead runs fetch holding the lock, given the token read with it, then releases the
// lock, storing the token fetch returned unless it is the one it was given: the holder's
// fetch costs two round trips, whatever it finds.
func (s *Store) lead(ctx context.Context, keys []string, fence, loaded string,
	fetch func(context.Context, *cognito.Token) (*cognito.Token, error)) (*cognito.Token, error) {
	s.locks.Add(1)
	stored := s.counted(decode(loaded))
	stop := s.renew(keys, fence)
	tok, fetchErr := func() (*cognito.Token, error) {
		defer stop()
		return fetch(ctx, stored)
	}()

	value, exp, ttl := "", int64(0), time.Duration(0)
	if fetchErr == nil && tok != nil && tok != stored && tok.Token != "" {
		if ttl = s.freshTTL(tok); ttl > 0 {
			value, exp = encode(tok), tok.ExpiresAt.UnixMilli()
		}
	}
	wake := ""
	if fetchErr == nil && tok != nil {
		wake = encode(tok)
	}
	// A failed fetch that started a cool-down: recorded in the release, before the
	// waiters it wakes can take the lock, so that none of them asks again.
	cooldown, cooldownTTL := "", int64(0)
	var cd *cognito.Cooldown
	if fetchErr != nil && errors.As(fetchErr, &cd) && cd.Remaining >= time.Millisecond {
		cooldown, cooldownTTL = encodeCooldown(cd), ms(cd.Remaining)
	}
	// Released even when ctx has ended: the waiters need the answer, and the lock must not
	// sit until it expires.
	var res []any
	err := s.call(context.WithoutCancel(ctx), "release", s.timeout, func(ctx context.Context) error {
		var err error
		res, err = s.client.Eval(ctx, releaseLua, keys,
			fence, value, exp, max(ms(ttl), 1), wake, ms(s.lockTTL), cooldown, cooldownTTL).Slice()
		return err
	})
	if err == nil && len(res) == 2 {
		held, _ := res[0].(int64)
		if held != 1 {
			s.lostLocks.Add(1)
			s.logger.LogAttrs(ctx, slog.LevelWarn, "redisstore: the fetch lock was lost before the fetch ended (it could not be renewed in time)",
				slog.String("key", keys[0]), slog.Duration("lock_ttl", s.lockTTL))
		}
		if stored, _ := res[1].(int64); stored == 1 {
			s.stores.Add(1)
		}
		if cooldown != "" && held == 1 {
			s.cooldowns.Add(1)
		}
	}
	if fetchErr != nil {
		return nil, fetchErr
	}
	return tok, err
}

// renew keeps the lock while a fetch runs, until stop is called or the lock is lost.
func (s *Store) renew(keys []string, fence string) (stop func()) {
	done := make(chan struct{})
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		tick := time.NewTicker(s.lockTTL / 3)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			var kept int64
			err := s.call(context.Background(), "renew", s.timeout, func(ctx context.Context) error {
				var err error
				kept, err = s.client.Eval(ctx, renewLua, keys, fence, ms(s.lockTTL)).Int64()
				return err
			})
			if err != nil || kept != 1 {
				return
			}
		}
	}()
	return func() {
		close(done)
		<-exited
	}
}

// await waits on the wake-up list for the holder's token, for at most the lock's
// remaining TTL (BLPOP takes whole seconds: rounded up) and at most ctx. It returns nil
// and no error when the wait ended without a token.
func (s *Store) await(ctx context.Context, wakeKey string, pttl time.Duration) (*cognito.Token, error) {
	block := pttl
	if deadline, ok := ctx.Deadline(); ok {
		block = min(block, time.Until(deadline))
	}
	block = max(time.Duration(math.Ceil(block.Seconds()))*time.Second, time.Second)
	var msg []string
	err := s.call(ctx, "wait", block+s.timeout, func(ctx context.Context) error {
		var err error
		msg, err = s.client.BLPop(ctx, block, wakeKey).Result()
		if errors.Is(err, redis.Nil) {
			return nil
		}
		return err
	})
	if err != nil || len(msg) != 2 {
		return nil, err
	}
	return decode(msg[1]), nil
}

// doCall runs one Redis call bounded by ctx and bound. go-redis applies a context's
// deadline to socket reads only when the client has ContextTimeoutEnabled, which is the
// user's choice: the call runs in its own goroutine, and the caller stops waiting for it
// when ctx or bound ends; the call itself ends by go-redis's own read timeout. f must
// leave its results where the caller reads them only when call returns nil.
//
// A failure (not one of ctx's own) counts as a fallback and makes Redis be left alone
// for the cooldown; a success after a failure ends that. A call given up on may still
// run: a lock taken that way is never released by this instance and expires after the
// lock TTL, which the other instances then wait for at most.
func (s *Store) doCall(ctx context.Context, op string, bound time.Duration, f func(context.Context) error) error {
	if until := s.downUntil.Load(); until != 0 && s.clock().UnixNano() < until {
		s.fallbacks.Add(1)
		return &unavailableError{op: op, err: errCoolingOff}
	}
	cctx, cancel := context.WithTimeout(ctx, bound)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- f(cctx) }()
	var err error
	select {
	case err = <-done:
	case <-cctx.Done():
		err = cctx.Err()
	}
	switch {
	case err == nil:
		if s.down.Load() && s.down.CompareAndSwap(true, false) {
			s.downUntil.Store(0)
			s.logger.LogAttrs(ctx, slog.LevelInfo, "redisstore: redis available again; tokens are shared")
		}
		return nil
	case ctx.Err() != nil:
		// The caller gave up: says nothing about Redis.
		return fmt.Errorf("redisstore: %s: %w", op, ctx.Err())
	}
	s.fallbacks.Add(1)
	s.downUntil.Store(s.clock().Add(s.cooldown).UnixNano())
	// A Cluster client keeps sending a slot to its old master until it reloads its slot
	// map, which go-redis does by itself only now and then: after a failover, a reload
	// now makes the next try after the cooldown reach the promoted replica.
	if c, ok := s.client.(interface{ ReloadState(context.Context) }); ok {
		c.ReloadState(context.WithoutCancel(ctx))
	}
	if s.down.CompareAndSwap(false, true) {
		s.logger.LogAttrs(ctx, slog.LevelWarn, "redisstore: redis unavailable; authenticators fetch tokens on their own",
			slog.String("op", op), slog.String("error", err.Error()), slog.Duration("retry_in", s.cooldown))
	}
	return &unavailableError{op: op, err: err}
}

var errCoolingOff = errors.New("left alone after a failure")

// unavailableError is a Redis failure; it matches ErrUnavailable and unwraps to the cause.
type unavailableError struct {
	op  string
	err error
}

func (e *unavailableError) Error() string {
	return "redisstore: redis unavailable (" + e.op + "): " + e.err.Error()
}

func (e *unavailableError) Unwrap() error        { return e.err }
func (e *unavailableError) Is(target error) bool { return target == ErrUnavailable }

// newFence returns a random lock value, so that only its holder can renew or release
// the lock.
func newFence() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return hex.EncodeToString(b[:])
}

func ms(d time.Duration) int64 { return d.Milliseconds() }
