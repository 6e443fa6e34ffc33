package redisstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cognitokit/cognitokit/internal/backoff"
	"github.com/cognitokit/cognitokit/pkg/cognito"
)

// Defaults of the revocation list's options.
const (
	// DefaultRevocationSync is how often an instance checks that its copy of the list is
	// Redis's: one GET of the list's version, and a reload of the whole list only when it
	// moved in a way the published changes did not account for (missed messages, a
	// reconnection, a Redis restarted empty). It is also how soon an unreachable Redis is
	// noticed.
	DefaultRevocationSync = time.Second
	// DefaultRevocationStaleAfter is how long an instance may go without reaching Redis
	// before its copy counts as stale: then it verifies on it all the same, counted in
	// RevocationStats.StaleVerifies and logged, or, with WithFailClosed, refuses.
	DefaultRevocationStaleAfter = 30 * time.Second
)

// RevocationOption tunes a [RevocationList]. Of the store's options, [WithKeyPrefix],
// [WithTimeout], [WithLogger] and [WithClock] are revocation options too; the others do
// nothing to a list.
type RevocationOption interface {
	applyRevocation(*revocationOptions)
}

type revocationOptions struct {
	options
	sync       time.Duration
	staleAfter time.Duration
	failClosed bool
	ttl        time.Duration
	onApply    func(cognito.Revocation)
}

func (f Option) applyRevocation(o *revocationOptions) { f(&o.options) }

type revocationOption func(*revocationOptions)

func (f revocationOption) applyRevocation(o *revocationOptions) { f(o) }

// WithSyncInterval sets how often an instance checks its copy against Redis (default
// [DefaultRevocationSync]).
func WithSyncInterval(d time.Duration) RevocationOption {
	return revocationOption(func(o *revocationOptions) {
		if d > 0 {
			o.sync = d
		}
	})
}

// WithStaleAfter sets how long an instance may go without reaching Redis before its copy
// counts as stale (default [DefaultRevocationStaleAfter]).
func WithStaleAfter(d time.Duration) RevocationOption {
	return revocationOption(func(o *revocationOptions) {
		if d > 0 {
			o.staleAfter = d
		}
	})
}

// WithFailClosed makes a stale copy, and no copy before the first load, refuse every
// token with [cognito.ErrRevocationUnavailable] instead of verifying on what it holds.
func WithFailClosed() RevocationOption {
	return revocationOption(func(o *revocationOptions) { o.failClosed = true })
}

// WithRevocationTTL sets how long an entry revoked without an expiry is kept (default
// [cognito.DefaultRevocationTTL]).
func WithRevocationTTL(d time.Duration) RevocationOption {
	return revocationOption(func(o *revocationOptions) {
		if d > 0 {
			o.ttl = d
		}
	})
}

// WithOnApply sets a function called with each entry the copy learned from Redis (published
// by another instance, or found by a reload), once the copy enforces it: for logs, metrics,
// or a test waiting for it. It runs on the list's own goroutines: it must return quickly.
// Nil means none.
func WithOnApply(f func(cognito.Revocation)) RevocationOption {
	return revocationOption(func(o *revocationOptions) { o.onApply = f })
}

// RevocationList is a [cognito.RevocationList] shared by a fleet through Redis. Build it
// with [NewRevocationList], give it to each authorizer with [cognito.WithRevocationList],
// and [RevocationList.Close] it when done.
//
// Every instance holds the whole list in memory ([cognito.MemoryRevocationList]), so
// Verify asks Redis nothing. [RevocationList.Revoke] writes an entry to Redis and
// publishes it in the same script; every instance subscribed applies it as the message
// arrives, well within a second. Each instance also checks the list's version in Redis
// every [WithSyncInterval], and reloads the whole list when it moved in a way the
// messages did not account for: after missed messages, a reconnection, a failover.
//
// # Failures
//
// An entry is never lost while some instance remembers it: a reload merges Redis's list
// into the instance's copy, then writes back whatever the copy has that Redis lacks (an
// entry whose write failed, or every entry, when Redis restarted empty or a failover lost
// recent writes) and publishes it. So the writer's own instance retries a failed write
// at every sync until Redis takes it, and a Redis restarted empty is refilled by the
// first instance that reaches it. Entries are only ever added, merged (later cut-off,
// later expiry) or forgotten at their expiry: there is no un-revoking.
//
// While Redis cannot be reached, an instance goes on with its copy. After
// [WithStaleAfter] without reaching it (and before the first load), the copy is stale:
// tokens are still verified on it, each one counted in [RevocationStats.StaleVerifies],
// and the change is logged; with [WithFailClosed], Verify refuses them instead with
// [cognito.ErrRevocationUnavailable] (a 503 in the policy middleware).
//
// # Keys
//
// Under the prefix, with the hash tag "{revocations}" so that they share a Cluster slot:
// "<prefix>{revocations}" (a hash of the entries, as JSON without tokens),
// "<prefix>{revocations}:expires" (a sorted set of their expiries, to forget them),
// "<prefix>{revocations}:version" (a counter of writes), and the pub/sub channel
// "<prefix>{revocations}:events". Whoever can write them can revoke any token, or keep
// a revocation from spreading: see the package's Security section.
type RevocationList struct {
	client redis.UniversalClient
	mem    *cognito.MemoryRevocationList
	o      revocationOptions
	hash   string
	exp    string
	ver    string
	ch     string

	mu       sync.Mutex
	seen     int64  // the list's version the copy is known to match
	dirty    bool   // the copy may hold entries Redis lacks
	dirtySeq uint64 // counts Revoke calls, so that a sync clears dirty only if none came meanwhile
	full     bool   // the next sync reloads the whole list: (re)subscribed, or Redis was out of reach

	stale   atomic.Bool  // the copy is stale (never loaded, or out of touch too long)
	down    atomic.Bool  // the last sync failed
	lastOK  atomic.Int64 // clock() in Unix ns of the last successful sync
	ready   chan struct{}
	readyMu sync.Once
	kick    chan struct{}

	cancel context.CancelFunc
	ps     *redis.PubSub
	done   sync.WaitGroup

	applied, reloads, republished, writes, writeFailures atomic.Uint64
	staleVerifies, refused, outages                      atomic.Uint64
}

// RevocationStats are counts of what a [RevocationList] did since it was built.
type RevocationStats struct {
	// Entries is how many entries the instance's copy holds.
	Entries int
	// Applied counts entries received from other instances through pub/sub.
	Applied uint64
	// Reloads counts full loads of the list from Redis.
	Reloads uint64
	// Republished counts entries this instance wrote back to Redis because Redis lacked
	// them (a failed write retried, a Redis restarted empty refilled).
	Republished uint64
	// Writes counts successful writes of Revoke; WriteFailures those that failed (the
	// entries are written back at the next successful sync).
	Writes, WriteFailures uint64
	// StaleVerifies counts tokens verified on a stale copy (fail open); Refused counts
	// tokens refused because the copy was stale (WithFailClosed).
	StaleVerifies, Refused uint64
	// Outages counts the times Redis became unreachable.
	Outages uint64
	// Stale is whether the copy is stale now.
	Stale bool
}

// ErrStale is the cause of a [cognito.ErrRevocationUnavailable] refusal by a list failing
// closed: it has not reached Redis for longer than [WithStaleAfter], or never has.
var ErrStale = errors.New("redisstore: revocation list is stale: redis out of reach")

// NewRevocationList returns a list on client (a *redis.Client, a Cluster or a failover
// client) and starts its subscription and sync in the background, until Close. It does
// not wait for the first load: see [RevocationList.Wait].
func NewRevocationList(client redis.UniversalClient, opts ...RevocationOption) (*RevocationList, error) {
	if client == nil {
		return nil, errors.New("redisstore: client is nil")
	}
	o := revocationOptions{
		options:    newOptions(nil),
		sync:       DefaultRevocationSync,
		staleAfter: DefaultRevocationStaleAfter,
		ttl:        cognito.DefaultRevocationTTL,
	}
	for _, opt := range opts {
		if opt != nil {
			opt.applyRevocation(&o)
		}
	}
	base := o.prefix + "{revocations}"
	l := &RevocationList{
		client: client,
		mem:    cognito.NewRevocationList(cognito.WithRevocationTTL(o.ttl), cognito.WithRevocationClock(o.clock)),
		o:      o,
		hash:   base, exp: base + ":expires", ver: base + ":version", ch: base + ":events",
		ready: make(chan struct{}),
		kick:  make(chan struct{}, 1),
	}
	l.stale.Store(true)
	l.full = true
	ctx, cancel := context.WithCancel(context.Background())
	l.cancel = cancel
	ps := client.Subscribe(ctx, l.ch)
	l.ps = ps
	l.done.Go(func() { l.receive(ctx, ps) })
	l.done.Go(func() { l.syncLoop(ctx) })
	return l, nil
}

// Close stops the subscription and the sync. The copy stays as it was.
func (l *RevocationList) Close() error {
	l.cancel()
	// A read in progress ends with the subscription, not with the context.
	_ = l.ps.Close()
	l.done.Wait()
	return nil
}

// Wait returns once the list was loaded from Redis, or ctx's error if ctx ends first.
func (l *RevocationList) Wait(ctx context.Context) error {
	select {
	case <-l.ready:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Revoked reports whether the instance's copy holds c's token; with WithFailClosed, a
// stale copy answers [ErrStale] instead.
func (l *RevocationList) Revoked(c *cognito.Claims) (bool, error) {
	if l.stale.Load() {
		if l.o.failClosed {
			l.refused.Add(1)
			return false, ErrStale
		}
		l.staleVerifies.Add(1)
	}
	return l.mem.Revoked(c)
}

// Revoke puts rs on the instance's copy at once (completed as
// [cognito.MemoryRevocationList.Complete] says; cut-offs and expiries are kept to the
// millisecond), then writes them to Redis and publishes them, retrying until ctx ends.
// It returns the entries as written. If Redis could not take them, it returns an error
// matching [ErrUnavailable]: the instance still enforces them, and writes them at its
// next successful sync. It fails with an error matching [cognito.ErrInvalidRevocation],
// doing nothing, if an entry is invalid.
func (l *RevocationList) Revoke(ctx context.Context, rs ...cognito.Revocation) ([]cognito.Revocation, error) {
	done := make([]cognito.Revocation, 0, len(rs))
	for _, r := range rs {
		if err := r.Validate(); err != nil {
			return nil, err
		}
		done = append(done, l.complete(r))
	}
	added, err := l.mem.Add(done...)
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	l.dirty = true
	l.dirtySeq++
	l.mu.Unlock()
	wait := backoff.Exponential{First: 50 * time.Millisecond, Max: time.Second}
	for n := 1; ; n++ {
		err = l.write(ctx, added)
		if err == nil {
			l.writes.Add(1)
			return added, nil
		}
		if ctx.Err() != nil || backoff.Sleep(ctx, wait.Retry(n, 0, nil)) != nil {
			l.writeFailures.Add(1)
			return added, &unavailableError{op: "revoke", err: err}
		}
	}
}

// complete fills r's defaults and keeps its instants to the millisecond, as Redis holds
// them, so that every copy holds the same entry.
func (l *RevocationList) complete(r cognito.Revocation) cognito.Revocation {
	r = l.mem.Complete(r)
	if !r.IssuedBefore.IsZero() {
		r.IssuedBefore = r.IssuedBefore.Truncate(time.Millisecond)
	}
	// Rounded up, so that an entry is never forgotten before the expiry asked for.
	r.Expires = r.Expires.Add(time.Millisecond - 1).Truncate(time.Millisecond)
	return r
}

// List returns the instance's copy of the list.
func (l *RevocationList) List() []cognito.Revocation { return l.mem.List() }

// Stats returns the list's counters.
func (l *RevocationList) Stats() RevocationStats {
	return RevocationStats{
		Entries: l.mem.Len(), Applied: l.applied.Load(), Reloads: l.reloads.Load(),
		Republished: l.republished.Load(), Writes: l.writes.Load(), WriteFailures: l.writeFailures.Load(),
		StaleVerifies: l.staleVerifies.Load(), Refused: l.refused.Load(), Outages: l.outages.Load(),
		Stale: l.stale.Load(),
	}
}

// Sync checks the copy against Redis now, reloading and writing back as a scheduled sync
// does, and returns Redis's error if it could not be reached.
func (l *RevocationList) Sync(ctx context.Context) error { return l.sync(ctx) }

// wireEntry is an entry as Redis holds and publishes it: instants in Unix milliseconds,
// so that the write script can merge them.
type wireEntry struct {
	Kind    cognito.RevocationKind `json:"kind"`
	ID      string                 `json:"id"`
	Issuer  string                 `json:"iss,omitempty"`
	CutMs   int64                  `json:"cut_ms,omitempty"`
	ExpMs   int64                  `json:"exp_ms"`
	Version int64                  `json:"v,omitempty"` // in a message: the list's version after the write
}

func toWire(r cognito.Revocation) wireEntry {
	w := wireEntry{Kind: r.Kind, ID: r.ID, Issuer: r.Issuer, ExpMs: r.Expires.UnixMilli()}
	if !r.IssuedBefore.IsZero() {
		w.CutMs = r.IssuedBefore.UnixMilli()
	}
	return w
}

func (w wireEntry) revocation() cognito.Revocation {
	r := cognito.Revocation{Kind: w.Kind, ID: w.ID, Issuer: w.Issuer, Expires: time.UnixMilli(w.ExpMs).UTC()}
	if w.CutMs != 0 {
		r.IssuedBefore = time.UnixMilli(w.CutMs).UTC()
	}
	return r
}

// revokeLua writes entries, merging each with the stored one of its key (later cut-off,
// later expiry), forgets the expired ones, bumps the version once and publishes each
// entry as stored, with the new version. KEYS: the hash, the expiry set, the version.
// ARGV[1] the channel, ARGV[2] now in Unix ms, then (field, entry JSON) pairs.
const revokeLua = `
local now = tonumber(ARGV[2])
for _, f in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now)) do
  redis.call('HDEL', KEYS[1], f)
end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
local v = redis.call('INCR', KEYS[3])
for i = 3, #ARGV, 2 do
  local f = ARGV[i]
  local e = cjson.decode(ARGV[i + 1])
  local cur = redis.call('HGET', KEYS[1], f)
  if cur then
    local ok, c = pcall(cjson.decode, cur)
    if ok and type(c) == 'table' then
      if tonumber(c.cut_ms) and (not tonumber(e.cut_ms) or tonumber(c.cut_ms) > tonumber(e.cut_ms)) then
        e.cut_ms = c.cut_ms
      end
      if tonumber(c.exp_ms) and tonumber(c.exp_ms) > tonumber(e.exp_ms) then
        e.exp_ms = c.exp_ms
      end
    end
  end
  e.v = nil
  local stored = cjson.encode(e)
  redis.call('HSET', KEYS[1], f, stored)
  redis.call('ZADD', KEYS[2], e.exp_ms, f)
  e.v = v
  redis.call('PUBLISH', ARGV[1], cjson.encode(e))
end
local last = redis.call('ZRANGE', KEYS[2], -1, -1, 'WITHSCORES')
if last[2] then
  redis.call('PEXPIREAT', KEYS[1], last[2])
  redis.call('PEXPIREAT', KEYS[2], last[2])
end
return v
`

// write runs revokeLua for rs, bounded by the per-call timeout.
func (l *RevocationList) write(ctx context.Context, rs []cognito.Revocation) error {
	if len(rs) == 0 {
		return nil
	}
	args := make([]any, 0, 2+2*len(rs))
	args = append(args, l.ch, l.o.clock().UnixMilli())
	for _, r := range rs {
		b, err := json.Marshal(toWire(r))
		if err != nil {
			return err
		}
		args = append(args, r.Key(), string(b))
	}
	cctx, cancel := context.WithTimeout(ctx, l.o.timeout)
	defer cancel()
	err := l.client.Eval(cctx, revokeLua, []string{l.hash, l.exp, l.ver}, args...).Err()
	if err != nil {
		l.reloadSlots(ctx)
	}
	return err
}

// reloadSlots makes a Cluster client reload its slot map after a failure, so that the
// next call after a failover reaches the promoted replica.
func (l *RevocationList) reloadSlots(ctx context.Context) {
	if c, ok := l.client.(interface{ ReloadState(context.Context) }); ok {
		c.ReloadState(context.WithoutCancel(ctx))
	}
}

// receive applies the published entries, and asks for a sync when the subscription is
// (re)established or a message shows that some were missed.
func (l *RevocationList) receive(ctx context.Context, ps *redis.PubSub) {
	wait := backoff.Exponential{First: 50 * time.Millisecond, Max: time.Second}
	// A connection that died silently (a partition) would block a read for ever: a read
	// that times out sends a ping instead, whose failure makes go-redis reconnect.
	health := max(3*l.o.sync, 3*time.Second)
	failures := 0
	for {
		msg, err := ps.ReceiveTimeout(ctx, health)
		if ctx.Err() != nil {
			return
		}
		var nerr net.Error
		if errors.As(err, &nerr) && nerr.Timeout() {
			_ = ps.Ping(ctx)
			continue
		}
		if err != nil {
			failures++
			l.requestSync(true)
			if backoff.Sleep(ctx, wait.Retry(failures, 0, nil)) != nil {
				return
			}
			continue
		}
		failures = 0
		switch m := msg.(type) {
		case *redis.Subscription:
			// Subscribed, or subscribed again after a reconnection: messages may have
			// been missed meanwhile.
			l.requestSync(true)
		case *redis.Message:
			var w wireEntry
			if json.Unmarshal([]byte(m.Payload), &w) != nil {
				l.o.logger.LogAttrs(ctx, slog.LevelWarn, "redisstore: a revocation message does not decode; ignored", slog.String("channel", m.Channel))
				continue
			}
			if _, err := l.mem.Add(w.revocation()); err != nil {
				continue
			}
			l.applied.Add(1)
			if l.o.onApply != nil {
				l.o.onApply(w.revocation())
			}
			l.mu.Lock()
			switch {
			case w.Version <= l.seen+1:
				l.seen = max(l.seen, w.Version)
			default:
				// A gap: some write was not received. The next sync reloads.
				l.full = true
				l.requestSync(false)
			}
			l.mu.Unlock()
		}
	}
}

// requestSync asks for a sync now; full asks for a reload of the whole list.
func (l *RevocationList) requestSync(full bool) {
	if full {
		l.mu.Lock()
		l.full = true
		l.mu.Unlock()
	}
	select {
	case l.kick <- struct{}{}:
	default:
	}
}

func (l *RevocationList) syncLoop(ctx context.Context) {
	tick := time.NewTicker(l.o.sync)
	defer tick.Stop()
	for {
		_ = l.sync(ctx)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-l.kick:
		}
	}
}

// sync checks the copy against Redis: when the version moved past what the copy is known
// to match, or the copy holds entries Redis may lack, it reloads the whole list, merges
// it into the copy and writes back what Redis lacks.
func (l *RevocationList) sync(ctx context.Context) error {
	l.mem.Prune()
	err := l.trySync(ctx)
	now := l.o.clock()
	if err == nil {
		l.lastOK.Store(now.UnixNano())
		l.readyMu.Do(func() { close(l.ready) })
		if l.stale.Swap(false) && l.down.Load() {
			l.o.logger.LogAttrs(ctx, slog.LevelInfo, "redisstore: revocation list in touch with redis again")
		}
		l.down.Store(false)
		return nil
	}
	if ctx.Err() != nil {
		return err
	}
	l.reloadSlots(ctx)
	l.mu.Lock()
	l.full = true // whatever Redis holds when it is back, the copy checks it all
	l.mu.Unlock()
	if !l.down.Swap(true) {
		l.outages.Add(1)
		l.o.logger.LogAttrs(ctx, slog.LevelWarn, "redisstore: revocation list cannot reach redis; enforcing its last copy",
			slog.String("error", err.Error()))
	}
	last := l.lastOK.Load()
	if (last == 0 || now.Sub(time.Unix(0, last)) > l.o.staleAfter) && !l.stale.Swap(true) {
		mode := "verifying on its last copy"
		if l.o.failClosed {
			mode = "refusing every token (fail closed)"
		}
		l.o.logger.LogAttrs(ctx, slog.LevelWarn, "redisstore: revocation list stale: "+mode,
			slog.Duration("out_of_touch_for", now.Sub(time.Unix(0, last))))
	}
	return err
}

func (l *RevocationList) trySync(ctx context.Context) error {
	cctx, cancel := context.WithTimeout(ctx, l.o.timeout)
	defer cancel()
	ver, err := l.client.Get(cctx, l.ver).Int64()
	if errors.Is(err, redis.Nil) {
		ver, err = 0, nil
	}
	if err != nil {
		return err
	}
	l.mu.Lock()
	current := ver == l.seen && !l.dirty && !l.full
	seq := l.dirtySeq
	l.mu.Unlock()
	if current {
		return nil
	}
	all, err := l.client.HGetAll(cctx, l.hash).Result()
	if err != nil {
		return err
	}
	l.reloads.Add(1)
	remote := make(map[string]cognito.Revocation, len(all))
	rs := make([]cognito.Revocation, 0, len(all))
	now := l.o.clock()
	for field, v := range all {
		var w wireEntry
		if json.Unmarshal([]byte(v), &w) != nil {
			continue
		}
		r := w.revocation()
		if r.Validate() != nil || !r.Expires.After(now) {
			continue
		}
		remote[field] = r
		if cur, ok := l.mem.Get(r.Key()); !ok || cur.IssuedBefore.Before(r.IssuedBefore) || cur.Expires.Before(r.Expires) {
			rs = append(rs, r) // new to the copy
		}
	}
	if _, err := l.mem.Add(rs...); err != nil {
		return fmt.Errorf("redisstore: revocation list: %w", err)
	}
	if l.o.onApply != nil {
		for _, r := range rs {
			l.o.onApply(r)
		}
	}
	var missing []cognito.Revocation
	for _, r := range l.mem.List() {
		if cur, ok := remote[r.Key()]; !ok || !cur.IssuedBefore.Equal(r.IssuedBefore) || !cur.Expires.Equal(r.Expires) {
			missing = append(missing, r)
		}
	}
	if len(missing) > 0 {
		if err := l.write(ctx, missing); err != nil {
			return err
		}
		l.republished.Add(uint64(len(missing)))
		l.o.logger.LogAttrs(ctx, slog.LevelInfo, "redisstore: revocation entries redis lacked written back",
			slog.Int("entries", len(missing)))
	}
	l.mu.Lock()
	// Not max: a Redis restarted empty counts from 0 again. Entries written back bump the
	// version past ver; their messages bring seen up to it, or the next sync reloads.
	l.seen = ver
	if l.dirtySeq == seq {
		l.dirty = false
	}
	l.full = false
	l.mu.Unlock()
	return nil
}

// String describes the list without its entries.
func (l *RevocationList) String() string {
	return "redisstore.RevocationList(" + strconv.Quote(l.hash) + ")"
}
