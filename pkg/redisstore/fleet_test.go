package redisstore_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cognitokit/cognitokit/pkg/cognito"
	"github.com/cognitokit/cognitokit/pkg/cognitotest"
	"github.com/cognitokit/cognitokit/pkg/redisstore"
)

// 20 instances, each with its own HTTP and Redis clients, 200 goroutines each, on a cold
// cache: one token request for the whole fleet, and at most two Redis round trips per
// instance.
func TestFleetColdCacheOneTokenRequest(t *testing.T) {
	r := startRedis(t)
	srv, cfg := startCognito(t, nil)
	fleet := newFleet(t, 20, r.Addr(), cfg, nil)

	tok := getAll(t, fleet, 200)

	if n := srv.Requests(cognitotest.EndpointToken); n != 1 {
		t.Errorf("token requests = %d; want 1 for the fleet", n)
	}
	for i, in := range fleet {
		if n := in.cmds.n.Load(); n > 2 {
			t.Errorf("instance %d sent %d Redis commands %v; want at most 2", i, n, in.cmds.commands())
		}
	}
	s := sumStats(fleet)
	if s.Locks+s.Shared != 20 || s.Fallbacks != 0 || s.Stores != 1 {
		t.Errorf("fleet stats %+v; want 20 fetches between locks and shared waits, 1 store, no fallback", s)
	}
	// Every instance serves it from memory now: no Redis, no Cognito.
	for _, in := range fleet {
		in.cmds.reset()
	}
	if again := getAll(t, fleet, 10); again != tok {
		t.Error("a second round got another token")
	}
	for i, in := range fleet {
		if n := in.cmds.n.Load(); n != 0 {
			t.Errorf("instance %d sent %v to Redis on cache hits", i, in.cmds.commands())
		}
	}
	if n := srv.Requests(cognitotest.EndpointToken); n != 1 {
		t.Errorf("token requests = %d; want 1", n)
	}
}

// A new instance joining a warm fleet takes the stored token: no token request, two
// Redis round trips (take the lock reading the token, release it).
func TestNewInstanceTakesStoredToken(t *testing.T) {
	r := startRedis(t)
	srv, cfg := startCognito(t, nil)
	first := newInstance(t, r.Addr(), cfg, nil)
	tok, err := first.auth.GetToken(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	late := newInstance(t, r.Addr(), cfg, nil)
	got, err := late.auth.GetToken(context.Background())
	if err != nil || got.Token != tok.Token {
		t.Fatalf("late instance got %v, %v; want the stored token", got, err)
	}
	if n := srv.Requests(cognitotest.EndpointToken); n != 1 {
		t.Errorf("token requests = %d; want 1", n)
	}
	if cmds := late.cmds.commands(); len(cmds) != 2 {
		t.Errorf("late instance sent %v; want 2 commands", cmds)
	}
	if s := late.store.Stats(); s.Hits != 1 || s.Locks != 1 || s.Stores != 0 {
		t.Errorf("late instance stats %+v", s)
	}
}

// What Redis holds: the token and its instants under the prefixed key, a TTL of the fresh
// window, and nothing of the secret.
func TestStoredValueHoldsNoSecret(t *testing.T) {
	r := startRedis(t)
	_, cfg := startCognito(t, nil)
	in := newInstance(t, r.Addr(), cfg, []redisstore.Option{redisstore.WithKeyPrefix("svc-a:")})
	tok, err := in.auth.GetToken(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	raw := newClient(t, r.Addr())
	ctx := context.Background()
	key := "svc-a:{" + cognito.TokenKey(cfg) + "}"
	if got := in.store.RedisKey(cognito.TokenKey(cfg)); got != key {
		t.Errorf("RedisKey = %q; want %q", got, key)
	}
	keys, err := raw.Keys(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || keys[0] != key {
		t.Errorf("keys in Redis %q; want only %q (the lock released, no waiters)", keys, key)
	}
	value, err := raw.Get(ctx, key).Result()
	if err != nil {
		t.Fatal(err)
	}
	basic := base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(cfg.ClientID) + ":" + url.QueryEscape(cfg.ClientSecret)))
	for _, secret := range []string{cfg.ClientSecret, url.QueryEscape(cfg.ClientSecret), basic} {
		if strings.Contains(value, secret) || strings.Contains(key, secret) {
			t.Fatalf("Redis holds the client secret: %s", key)
		}
	}
	var fields map[string]any
	if err := json.Unmarshal([]byte(value), &fields); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"v": 1.0, "access_token": tok.Token, "token_type": "Bearer", "scope": "orders/read",
		"exp_ms": float64(tok.ExpiresAt.UnixMilli()), "iat_ms": float64(tok.IssuedAt.UnixMilli())}
	if len(fields) != len(want) {
		t.Errorf("stored fields %v; want exactly %v", keysOf(fields), keysOf(want))
	}
	for k, v := range want {
		if fields[k] != v {
			t.Errorf("stored %s = %v; want %v", k, fields[k], v)
		}
	}
	// A one-hour token is served for 59 minutes: its TTL is that, never past its expiry.
	ttl, err := raw.PTTL(ctx, key).Result()
	if err != nil {
		t.Fatal(err)
	}
	if window := time.Hour - time.Minute; ttl > window || ttl < window-time.Minute {
		t.Errorf("TTL %v; want the fresh window, %v", ttl, window)
	}
}

func keysOf(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// The lock holder dies mid-fetch: its context is cancelled, its Redis client closed (no
// renewal, no release) and its connection to Cognito cut. Another instance waits, each
// of its callers no longer than its own context, and fetches once the lock expires.
func TestLockHolderDiesAnotherTakesOver(t *testing.T) {
	r := startRedis(t)
	srv, cfg := startCognito(t, nil)
	const lockTTL = 2 * time.Second
	opts := []redisstore.Option{redisstore.WithLockTTL(lockTTL)}

	// A: the holder. Its only token request stalls.
	a := newInstance(t, r.Addr(), cfg, opts, cognito.WithRetry(cognito.RetryPolicy{MaxAttempts: 1}))
	cut := &connRecorder{}
	a.http.Transport = &http.Transport{DialContext: cut.DialContext}
	srv.StallNext(cognitotest.EndpointToken, 1, time.Minute)
	ctxA, cancelA := context.WithCancel(context.Background())
	aDone := make(chan error, 1)
	go func() {
		_, err := a.auth.GetToken(ctxA)
		aDone <- err
	}()
	eventually(t, "A's token request", func() bool { return srv.Requests(cognitotest.EndpointToken) == 1 })
	if s := a.store.Stats(); s.Locks != 1 {
		t.Fatalf("A stats %+v; want it holding the lock", s)
	}

	// A dies: its caller gives up (and gets its context's error at once, the fetch still
	// stalled), then its Redis client is closed and its connection to Cognito cut.
	cancelA()
	if err := within(t, aDone, 10*time.Second, "A's caller returning"); !errors.Is(err, context.Canceled) {
		t.Errorf("A's caller got %v; want context.Canceled", err)
	}
	_ = a.rdb.Close()
	cut.cutAll()

	// B finds A's lock and waits for A's token.
	b := newInstance(t, r.Addr(), cfg, opts)
	ctx1, cancel1 := context.WithCancel(context.Background())
	first := make(chan error, 1)
	go func() {
		_, err := b.auth.GetToken(ctx1)
		first <- err
	}()
	eventually(t, "B waiting for the lock", func() bool { return b.store.Stats().LockWaits >= 1 })
	// A caller whose context ends while B waits gets its context's error, at once.
	cancel1()
	if err := within(t, first, 10*time.Second, "B's cancelled caller returning"); !errors.Is(err, context.Canceled) {
		t.Errorf("B's cancelled caller got %v; want context.Canceled", err)
	}
	if n := srv.Requests(cognitotest.EndpointToken); n != 1 {
		t.Errorf("token requests = %d while A's lock is held; want 1", n)
	}

	// A patient caller gets the token B fetches when A's lock has expired.
	ctx2, cancel2 := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel2()
	tok, err := b.auth.GetToken(ctx2)
	if err != nil {
		t.Fatalf("B after the takeover: %v", err)
	}
	if n := srv.Requests(cognitotest.EndpointToken); n != 2 {
		t.Errorf("token requests = %d; want 2 (A's lost one, B's)", n)
	}
	if s := b.store.Stats(); s.Locks != 1 || s.LockWaits < 1 || s.Shared != 0 || s.Fallbacks != 0 {
		t.Errorf("B stats %+v; want it to have waited, then fetched under the lock", s)
	}
	// And B's token is the fleet's now.
	c := newInstance(t, r.Addr(), cfg, opts)
	if got, err := c.auth.GetToken(context.Background()); err != nil || got.Token != tok.Token {
		t.Errorf("C got %v, %v; want B's token", got, err)
	}
	if n := srv.Requests(cognitotest.EndpointToken); n != 2 {
		t.Errorf("token requests = %d; want 2", n)
	}
}

// Redis stops mid-test: every instance fetches its own token and no caller fails; when
// Redis is back on the same port, the fleet shares again.
func TestRedisStoppedInstancesFetchOnTheirOwnThenShareAgain(t *testing.T) {
	r := startRedis(t)
	clock := newFakeClock()
	srv, cfg := startCognito(t, nil)
	logger, logs := newLogger()
	fleet := newFleet(t, 5, r.Addr(), cfg,
		[]redisstore.Option{redisstore.WithClock(clock.Now), redisstore.WithCooldown(time.Minute), redisstore.WithLogger(logger)},
		cognito.WithClock(clock.Now))

	getAll(t, fleet, 20)
	if n := srv.Requests(cognitotest.EndpointToken); n != 1 {
		t.Fatalf("token requests = %d; want 1 while Redis is up", n)
	}

	r.Stop()
	clock.Advance(2 * time.Hour) // every token has expired
	tokens := eachToken(t, fleet)
	if n := srv.Requests(cognitotest.EndpointToken); n != 1+5 {
		t.Errorf("token requests = %d; want 1 + one per instance while Redis is down", n)
	}
	for i, in := range fleet {
		if tokens[i] == "" {
			t.Errorf("instance %d got no token", i)
		}
		if s := in.store.Stats(); s.Fallbacks == 0 {
			t.Errorf("instance %d counted no fallback: %+v", i, s)
		}
	}
	if !strings.Contains(logs.String(), "redis unavailable") {
		t.Errorf("Redis going away was not logged: %s", logs)
	}
	// Within the cooldown Redis is not even tried: a miss costs no Redis timeout.
	for _, in := range fleet {
		in.cmds.reset()
		in.auth.Invalidate()
	}
	eachToken(t, fleet)
	for i, in := range fleet {
		if cmds := in.cmds.commands(); len(cmds) != 0 {
			t.Errorf("instance %d sent %v to Redis during the cooldown", i, cmds)
		}
	}
	if n := srv.Requests(cognitotest.EndpointToken); n != 1+5+5 {
		t.Errorf("token requests = %d; want 11", n)
	}

	r.Restart()
	// go-redis's pool, after failing to dial, redials in the background once a second:
	// wait until each instance's client reaches Redis again.
	for i, in := range fleet {
		eventually(t, fmt.Sprintf("instance %d's client reconnecting", i), func() bool {
			return in.rdb.Ping(context.Background()).Err() == nil
		})
	}
	clock.Advance(2 * time.Hour) // past the cooldown, and every token has expired again
	getAll(t, fleet, 20)
	if n := srv.Requests(cognitotest.EndpointToken); n != 1+5+5+1 {
		t.Errorf("token requests = %d; want one more for the whole fleet once Redis is back", n)
	}
	if !strings.Contains(logs.String(), "redis available again") {
		t.Errorf("Redis coming back was not logged: %s", logs)
	}
}

// Refresh ahead, fleet-wide, over three token lifetimes on a fake clock: in each refresh
// window every instance keeps serving the current token and starts a background refresh,
// and the fleet makes one token request between them; once the old token's fresh window
// has passed, every instance serves the new one. Redis never expires a key here (its own
// clock hardly moves): freshness comes from the tokens' instants.
func TestFleetRefreshAheadOneRequestPerWindow(t *testing.T) {
	r := startRedis(t)
	clock := newFakeClock()
	srv, cfg := startCognito(t, clock.Now)
	fleet := newFleet(t, 10, r.Addr(), cfg, []redisstore.Option{redisstore.WithClock(clock.Now)},
		cognito.WithClock(clock.Now))

	current := getAll(t, fleet, 20)
	issued := t0
	for window := 1; window <= 3; window++ {
		before := sumStats(fleet)
		// A one-hour token is refreshed ahead from 44m15s after its issue and served until 59m.
		issued = issued.Add(50 * time.Minute)
		clock.Set(issued)
		for i, tok := range eachToken(t, fleet) {
			if tok != current {
				t.Fatalf("window %d: instance %d did not serve the cached token in the refresh window", window, i)
			}
		}
		eventually(t, "the fleet's background refresh", func() bool {
			s := sumStats(fleet)
			return srv.Requests(cognitotest.EndpointToken) == int64(1+window) &&
				s.Stores == before.Stores+1
		})
		clock.Set(issued.Add(10 * time.Minute)) // the old token is no longer served, the new one is fresh
		next := getAll(t, fleet, 20)
		if next == current {
			t.Fatalf("window %d: the fleet still serves the old token", window)
		}
		if n := srv.Requests(cognitotest.EndpointToken); n != int64(1+window) {
			t.Fatalf("window %d: token requests = %d; want %d, one per window", window, n, 1+window)
		}
		current = next
	}
	if s := sumStats(fleet); s.Fallbacks != 0 {
		t.Errorf("fleet stats %+v; want no fallback", s)
	}
}

// A service rejects the fleet's token (401): the instance that invalidates it deletes it
// from Redis and fetches a new one; another instance invalidating the same token takes
// that new one instead of fetching.
func TestInvalidateAcrossTheFleet(t *testing.T) {
	r := startRedis(t)
	srv, cfg := startCognito(t, nil)
	fleet := newFleet(t, 2, r.Addr(), cfg, nil)
	old := getAll(t, fleet, 5)

	fleet[0].auth.Invalidate()
	raw := newClient(t, r.Addr())
	if n, _ := raw.Exists(context.Background(), fleet[0].store.RedisKey(cognito.TokenKey(cfg))).Result(); n != 0 {
		t.Error("Invalidate left the token in Redis")
	}
	fresh := eachToken(t, fleet[:1])[0]
	if fresh == old || srv.Requests(cognitotest.EndpointToken) != 2 {
		t.Fatalf("instance 0 did not fetch a new token")
	}
	fleet[1].auth.Invalidate() // the old token: the new one stays in Redis
	if got := eachToken(t, fleet[1:])[0]; got != fresh {
		t.Errorf("instance 1 got another token than instance 0's new one")
	}
	if n := srv.Requests(cognitotest.EndpointToken); n != 2 {
		t.Errorf("token requests = %d; want 2", n)
	}
}

// A lock nobody releases (held by a process that keeps renewing it, or set by hand) makes
// waiters fetch on their own after WithMaxWait; a lock without a TTL is given one.
func TestStuckLockWaitersFetchOnTheirOwn(t *testing.T) {
	r := startRedis(t)
	srv, cfg := startCognito(t, nil)
	in := newInstance(t, r.Addr(), cfg, []redisstore.Option{redisstore.WithMaxWait(300 * time.Millisecond)})
	raw := newClient(t, r.Addr())
	lock := in.store.RedisKey(cognito.TokenKey(cfg)) + ":lock"
	if err := raw.Set(context.Background(), lock, "someone-else", 0).Err(); err != nil {
		t.Fatal(err)
	}
	tok, err := in.auth.GetToken(context.Background())
	if err != nil || tok.Token == "" {
		t.Fatalf("GetToken with a stuck lock: %v, %v", tok, err)
	}
	if n := srv.Requests(cognitotest.EndpointToken); n != 1 {
		t.Errorf("token requests = %d; want 1", n)
	}
	if s := in.store.Stats(); s.LockWaits < 1 || s.Fallbacks < 1 || s.Locks != 0 {
		t.Errorf("stats %+v; want a wait that ended in a fallback", s)
	}
	if ttl, _ := raw.PTTL(context.Background(), lock).Result(); ttl <= 0 {
		t.Errorf("the stuck lock's TTL is %v; want one set", ttl)
	}
}

// The ACL docs/security.md recommends is enough for the store: a fleet whose Redis user may
// only touch its prefix, with only those commands, shares its token without a fallback.
func TestDocumentedACLIsEnough(t *testing.T) {
	r := startRedis(t)
	srv, cfg := startCognito(t, nil)
	admin := newClient(t, r.Addr())
	ctx := context.Background()
	if err := admin.Do(ctx, "ACL", "SETUSER", "orders-service", "on", ">pw-for-test", "~orders-service:*",
		"+get", "+eval", "+blpop", "+set", "+del", "+pttl", "+pexpire", "+sadd", "+scard", "+rpush", "+exists").Err(); err != nil {
		t.Fatal(err)
	}
	opts := []redisstore.Option{redisstore.WithKeyPrefix("orders-service:")}
	fleet := make([]*instance, 3)
	for i := range fleet {
		rdb := redis.NewClient(&redis.Options{Addr: r.Addr(), Username: "orders-service", Password: "pw-for-test"})
		t.Cleanup(func() { _ = rdb.Close() })
		store, err := redisstore.New(rdb, append(patient(), opts...)...)
		if err != nil {
			t.Fatal(err)
		}
		auth, err := cognito.NewClientCredentialsAuthenticator(cfg, cognito.WithTokenStore(store))
		if err != nil {
			t.Fatal(err)
		}
		fleet[i] = &instance{auth: auth, store: store}
	}
	getAll(t, fleet, 10)
	fleet[0].auth.Invalidate()
	eachToken(t, fleet[:1])
	if n := srv.Requests(cognitotest.EndpointToken); n != 2 {
		t.Errorf("token requests = %d; want 2", n)
	}
	if s := sumStats(fleet); s.Fallbacks != 0 || s.Stores != 2 {
		t.Errorf("fleet stats %+v; want no fallback under the documented ACL", s)
	}
	// And the user cannot reach outside its prefix.
	other := redisstore.WithKeyPrefix("billing:")
	rdb := redis.NewClient(&redis.Options{Addr: r.Addr(), Username: "orders-service", Password: "pw-for-test"})
	t.Cleanup(func() { _ = rdb.Close() })
	s, _ := redisstore.New(rdb, other)
	if _, err := s.Load(ctx, cognito.TokenKey(cfg)); !errors.Is(err, redisstore.ErrUnavailable) {
		t.Errorf("Load outside the prefix: %v; want refused", err)
	}
}

// Expiry without refresh ahead: every instance's token stops being served at the same
// instant, all of them miss at once, and the fleet makes one token request per lifetime.
func TestFleetTokenExpiryOneRequestPerLifetime(t *testing.T) {
	r := startRedis(t)
	clock := newFakeClock()
	srv, cfg := startCognito(t, clock.Now)
	fleet := newFleet(t, 10, r.Addr(), cfg, []redisstore.Option{redisstore.WithClock(clock.Now)},
		cognito.WithClock(clock.Now), cognito.WithRefreshAhead(0))
	current := getAll(t, fleet, 20)
	for lifetime := 1; lifetime <= 3; lifetime++ {
		clock.Advance(59*time.Minute - time.Second)
		if getAll(t, fleet, 5) != current {
			t.Fatalf("lifetime %d: the token changed while still fresh", lifetime)
		}
		clock.Advance(time.Second) // served until expiry minus the 60s margin: now stale
		next := getAll(t, fleet, 20)
		if next == current {
			t.Fatalf("lifetime %d: the fleet still serves the stale token", lifetime)
		}
		if n := srv.Requests(cognitotest.EndpointToken); n != int64(1+lifetime) {
			t.Fatalf("lifetime %d: token requests = %d; want %d", lifetime, n, 1+lifetime)
		}
		current = next
	}
}
