package redisstore_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/cognitokit/cognitokit/pkg/cognito"
	"github.com/cognitokit/cognitokit/pkg/redisstore"
)

func TestNewRefusesNilClient(t *testing.T) {
	if s, err := redisstore.New(nil); s != nil || err == nil || !strings.HasPrefix(err.Error(), "redisstore:") {
		t.Errorf("New(nil) = %v, %v; want a redisstore error", s, err)
	}
}

func token(name string, issued time.Time, life time.Duration) *cognito.Token {
	return &cognito.Token{Token: name, TokenType: "Bearer", Scope: "orders/read", IssuedAt: issued, ExpiresAt: issued.Add(life)}
}

func newStore(t *testing.T, addr string, opts ...redisstore.Option) *redisstore.Store {
	t.Helper()
	s, err := redisstore.New(newClient(t, addr), append(patient(), opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestLoadStoreDelete(t *testing.T) {
	r := startRedis(t)
	s := newStore(t, r.Addr())
	ctx := context.Background()
	if tok, err := s.Load(ctx, "k"); tok != nil || err != nil {
		t.Fatalf("Load of a missing key = %v, %v", tok, err)
	}
	older, newer := token("older", t0, time.Hour), token("newer", t0.Add(time.Minute), time.Hour)
	for _, tok := range []*cognito.Token{newer, older, nil, {}} {
		if err := s.Store(ctx, "k", tok); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Load(ctx, "k")
	if err != nil || got == nil || got.Token != "newer" || !got.ExpiresAt.Equal(newer.ExpiresAt) ||
		!got.IssuedAt.Equal(newer.IssuedAt) || got.Scope != "orders/read" || got.TokenType != "Bearer" {
		t.Fatalf("Load = %v, %v; want the newer token, which an older one never replaces", got, err)
	}
	if err := s.Delete(ctx, "k", older); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Load(ctx, "k"); got == nil || got.Token != "newer" {
		t.Fatal("Delete removed a token it was not given")
	}
	if err := s.Delete(ctx, "k", &cognito.Token{Token: "newer"}); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Load(ctx, "k"); got != nil {
		t.Fatalf("Delete kept %v", got)
	}
	if st := s.Stats(); st.Stores != 1 || st.Hits != 2 || st.Misses != 2 {
		t.Errorf("stats %+v; want 1 store, 2 hits, 2 misses", st)
	}
}

// A value the store does not understand (garbage, another format) is as good as missing,
// and the next token replaces it.
func TestUnknownValueIsReplaced(t *testing.T) {
	r := startRedis(t)
	s := newStore(t, r.Addr())
	raw := newClient(t, r.Addr())
	ctx := context.Background()
	for _, v := range []string{"garbage", `{"v":2,"access_token":"x","exp_ms":99999999999999}`, `{"v":1}`} {
		if err := raw.Set(ctx, s.RedisKey("k"), v, 0).Err(); err != nil {
			t.Fatal(err)
		}
		if got, err := s.Load(ctx, "k"); got != nil || err != nil {
			t.Errorf("Load of %q = %v, %v; want none", v, got, err)
		}
	}
	if err := s.Store(ctx, "k", token("t", t0, time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Load(ctx, "k"); got == nil || got.Token != "t" {
		t.Errorf("the unknown value was not replaced: %v", got)
	}
}

// The Redis TTL is the token's fresh window, computed from its own instants, which here
// are far from Redis's clock.
func TestStoreTTLIsTheFreshWindow(t *testing.T) {
	r := startRedis(t)
	clock := newFakeClock()
	s := newStore(t, r.Addr(), redisstore.WithClock(clock.Now), redisstore.WithKeyPrefix(""))
	raw := newClient(t, r.Addr())
	ctx := context.Background()
	long := t0.AddDate(-3, 0, 0)
	for _, c := range []struct {
		name string
		tok  *cognito.Token
		want time.Duration // 0: not stored
	}{
		{"one hour", token("a", long, time.Hour), 59 * time.Minute},
		{"two minutes: margin halved", token("b", long, 2*time.Minute), time.Minute},
		{"30 seconds", token("c", long, 30*time.Second), 15 * time.Second},
		{"no issue time: from the store's clock", &cognito.Token{Token: "d", ExpiresAt: t0.Add(time.Hour)}, 59 * time.Minute},
		{"expired", &cognito.Token{Token: "e", ExpiresAt: t0.Add(-time.Second)}, 0},
	} {
		if err := s.Store(ctx, c.name, c.tok); err != nil {
			t.Fatal(err)
		}
		ttl, err := raw.PTTL(ctx, "{"+c.name+"}").Result()
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case c.want == 0 && ttl >= 0:
			t.Errorf("%s: stored with TTL %v; want not stored", c.name, ttl)
		case c.want > 0 && (ttl > c.want || ttl < c.want-5*time.Second):
			t.Errorf("%s: TTL %v; want %v", c.name, ttl, c.want)
		}
	}
	// The margin is that of the authenticator that obtained the token
	// (cognito.WithExpiryMargin), which the store asks the token for.
	_, cfg := startCognito(t, nil)
	in := newInstance(t, r.Addr(), cfg, []redisstore.Option{redisstore.WithKeyPrefix("m:")},
		cognito.WithExpiryMargin(5*time.Minute))
	if _, err := in.auth.GetToken(ctx); err != nil {
		t.Fatal(err)
	}
	key := in.store.RedisKey(cognito.TokenKey(cfg))
	if ttl, _ := raw.PTTL(ctx, key).Result(); ttl > 55*time.Minute || ttl < 54*time.Minute {
		t.Errorf("TTL of a one-hour token with a 5m margin = %v; want 55m", ttl)
	}
}

type result struct {
	tok *cognito.Token
	err error
}

// fetchFunc is what Coalesce runs: given the stored token, it returns the token to use.
type fetchFunc = func(ctx context.Context, stored *cognito.Token) (*cognito.Token, error)

func coalesceAsync(s *redisstore.Store, ctx context.Context, key string, fetch fetchFunc) <-chan result {
	ch := make(chan result, 1)
	go func() {
		tok, err := s.Coalesce(ctx, key, fetch)
		ch <- result{tok, err}
	}()
	return ch
}

// fetched is what the authenticator's fetch does when the stored token will not do:
// return the token it got from the endpoint, for Coalesce to store.
func fetched(tok *cognito.Token) fetchFunc {
	return func(context.Context, *cognito.Token) (*cognito.Token, error) { return tok, nil }
}

// A waiter gets the holder's token without fetching, and is woken by the release, not by
// the lock's expiry (a minute here).
func TestCoalesceWaiterGetsHoldersToken(t *testing.T) {
	r := startRedis(t)
	a := newStore(t, r.Addr(), redisstore.WithLockTTL(time.Minute))
	b := newStore(t, r.Addr(), redisstore.WithLockTTL(time.Minute))
	ctx := context.Background()
	entered, proceed := make(chan struct{}), make(chan struct{})
	mine := token("a-token", t0, time.Hour)
	aRes := coalesceAsync(a, ctx, "k", func(context.Context, *cognito.Token) (*cognito.Token, error) {
		close(entered)
		<-proceed
		return mine, nil
	})
	<-entered
	bRes := coalesceAsync(b, ctx, "k", func(context.Context, *cognito.Token) (*cognito.Token, error) {
		t.Error("the waiter fetched")
		return nil, errors.New("no")
	})
	eventually(t, "b waiting", func() bool { return b.Stats().LockWaits == 1 })
	close(proceed)
	if res := within(t, aRes, 10*time.Second, "the holder"); res.err != nil || res.tok != mine {
		t.Errorf("holder got %v, %v", res.tok, res.err)
	}
	res := within(t, bRes, 10*time.Second, "the waiter")
	if res.err != nil || res.tok == nil || res.tok.Token != "a-token" || !res.tok.ExpiresAt.Equal(mine.ExpiresAt) {
		t.Errorf("waiter got %v, %v; want the holder's token", res.tok, res.err)
	}
	if st := b.Stats(); st.Shared != 1 || st.Locks != 0 {
		t.Errorf("waiter stats %+v", st)
	}
	if got, _ := b.Load(ctx, "k"); got == nil || got.Token != "a-token" {
		t.Errorf("stored %v; want the holder's token", got)
	}
}

// The holder's fetch fails: its error comes back unchanged, and a waiter is woken at once
// to take the lock and fetch itself.
func TestCoalesceFailedFetchWakesWaiter(t *testing.T) {
	r := startRedis(t)
	a := newStore(t, r.Addr(), redisstore.WithLockTTL(time.Minute))
	b := newStore(t, r.Addr(), redisstore.WithLockTTL(time.Minute))
	ctx := context.Background()
	boom := errors.New("token endpoint said no")
	entered, proceed := make(chan struct{}), make(chan struct{})
	aRes := coalesceAsync(a, ctx, "k", func(context.Context, *cognito.Token) (*cognito.Token, error) {
		close(entered)
		<-proceed
		return nil, boom
	})
	<-entered
	bTok := token("b-token", t0, time.Hour)
	bRes := coalesceAsync(b, ctx, "k", fetched(bTok))
	eventually(t, "b waiting", func() bool { return b.Stats().LockWaits == 1 })
	close(proceed)
	if res := within(t, aRes, 10*time.Second, "the holder"); res.err != boom || res.tok != nil {
		t.Errorf("holder got %v, %v; want its fetch error unchanged", res.tok, res.err)
	}
	if res := within(t, bRes, 10*time.Second, "the waiter"); res.err != nil || res.tok != bTok {
		t.Errorf("waiter got %v, %v; want its own fetch", res.tok, res.err)
	}
	if st := b.Stats(); st.Locks != 1 || st.Shared != 0 {
		t.Errorf("waiter stats %+v; want it to have taken the lock", st)
	}
}

// A waiter whose context ends returns its context's error at once, whatever the lock.
func TestCoalesceWaiterHonoursItsContext(t *testing.T) {
	r := startRedis(t)
	a := newStore(t, r.Addr(), redisstore.WithLockTTL(time.Minute))
	b := newStore(t, r.Addr())
	entered, proceed := make(chan struct{}), make(chan struct{})
	defer close(proceed)
	coalesceAsync(a, context.Background(), "k", func(context.Context, *cognito.Token) (*cognito.Token, error) {
		close(entered)
		<-proceed
		return nil, errors.New("done")
	})
	<-entered
	ctx, cancel := context.WithCancel(context.Background())
	bRes := coalesceAsync(b, ctx, "k", func(context.Context, *cognito.Token) (*cognito.Token, error) {
		t.Error("the waiter fetched")
		return nil, nil
	})
	eventually(t, "b waiting", func() bool { return b.Stats().LockWaits == 1 })
	cancel()
	res := within(t, bRes, 10*time.Second, "the cancelled waiter")
	if !errors.Is(res.err, context.Canceled) || errors.Is(res.err, redisstore.ErrUnavailable) {
		t.Errorf("cancelled waiter got %v; want context.Canceled", res.err)
	}
	if st := b.Stats(); st.Fallbacks != 0 {
		t.Errorf("a caller giving up counted as Redis failing: %+v", st)
	}
	// The deadline variant.
	ctx2, cancel2 := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel2()
	if _, err := b.Coalesce(ctx2, "k", nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("waiter with a deadline got %v; want context.DeadlineExceeded", err)
	}
}

// A holder slower than its lock (it could not renew it) never overwrites what the
// instance that took over stored, nor stores while another instance holds the lock.
func TestCoalesceStaleHolderIsFenced(t *testing.T) {
	r := startRedis(t)
	raw := newClient(t, r.Addr())
	ctx := context.Background()
	for _, c := range []struct {
		name string
		// takeOver runs while a's fetch is held up, after a's lock was lost.
		takeOver func(t *testing.T, b *redisstore.Store)
		want     string // token stored in the end; "" for none
	}{
		{"another instance stored a newer token", func(t *testing.T, b *redisstore.Store) {
			newer := token("newer", t0.Add(time.Minute), time.Hour)
			if tok, err := b.Coalesce(ctx, "k", fetched(newer)); err != nil || tok != newer {
				t.Fatalf("takeover: %v, %v", tok, err)
			}
		}, "newer"},
		{"another instance holds the lock", func(t *testing.T, b *redisstore.Store) {
			if err := raw.Set(ctx, b.RedisKey("k")+":lock", "another-fence", time.Minute).Err(); err != nil {
				t.Fatal(err)
			}
		}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			if err := raw.FlushAll(ctx).Err(); err != nil {
				t.Fatal(err)
			}
			a, b := newStore(t, r.Addr()), newStore(t, r.Addr())
			entered, proceed := make(chan struct{}), make(chan struct{})
			older := token("older", t0, time.Hour)
			aRes := coalesceAsync(a, ctx, "k", func(context.Context, *cognito.Token) (*cognito.Token, error) {
				close(entered)
				<-proceed
				return older, nil
			})
			<-entered
			// a's lock expires, as if a had stalled past its TTL without renewing it.
			if err := raw.Del(ctx, a.RedisKey("k")+":lock").Err(); err != nil {
				t.Fatal(err)
			}
			c.takeOver(t, b)
			close(proceed)
			if res := within(t, aRes, 10*time.Second, "the stale holder"); res.err != nil || res.tok != older {
				t.Errorf("stale holder got %v, %v; want its own token", res.tok, res.err)
			}
			got, err := a.Load(ctx, "k")
			switch {
			case err != nil:
				t.Fatal(err)
			case c.want == "" && got != nil:
				t.Errorf("stored %v; want nothing", got)
			case c.want != "" && (got == nil || got.Token != c.want):
				t.Errorf("stored %v; want %s", got, c.want)
			}
			if st := a.Stats(); st.LostLocks != 1 || st.Stores != 0 {
				t.Errorf("stale holder stats %+v", st)
			}
		})
	}
}

// The holder's fetch is given the token read with the lock, and the token it returns is
// stored by the release: two round trips whatever the fetch does.
func TestCoalesceHolderTwoRoundTrips(t *testing.T) {
	r := startRedis(t)
	counter := &cmdCounter{}
	s, err := redisstore.New(newClient(t, r.Addr(), counter), patient()...)
	if err != nil {
		t.Fatal(err)
	}
	counter.reset()
	ctx := context.Background()
	first := token("first", t0, time.Hour)
	if _, err := s.Coalesce(ctx, "k", func(_ context.Context, stored *cognito.Token) (*cognito.Token, error) {
		if stored != nil {
			t.Errorf("the first fetch was given %v; want none", stored)
		}
		return first, nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Coalesce(ctx, "k", func(_ context.Context, stored *cognito.Token) (*cognito.Token, error) {
		if stored == nil || stored.Token != "first" {
			t.Errorf("the second fetch was given %v; want the stored token", stored)
		}
		return stored, nil
	}); err != nil {
		t.Fatal(err)
	}
	if cmds := counter.commands(); len(cmds) != 4 {
		t.Errorf("two fetches sent %v; want 4 commands", cmds)
	}
	if st := s.Stats(); st.Locks != 2 || st.Stores != 1 || st.Hits != 1 || st.Misses != 1 {
		t.Errorf("stats %+v", st)
	}
}

// Every error from a Redis failure matches ErrUnavailable, starts "redisstore:" and
// unwraps to the cause; a store that found Redis down leaves it alone for the cooldown.
func TestRedisDownErrors(t *testing.T) {
	r := startRedis(t)
	clock := newFakeClock()
	counter := &cmdCounter{}
	s, err := redisstore.New(newClient(t, r.Addr(), counter), redisstore.WithClock(clock.Now))
	if err != nil {
		t.Fatal(err)
	}
	r.Stop()
	ctx := context.Background()
	tok := token("t", t0, time.Hour)
	_, loadErr := s.Load(ctx, "k")
	counter.reset()
	for name, err := range map[string]error{
		"Load":     loadErr,
		"Store":    s.Store(ctx, "k", tok),
		"Delete":   s.Delete(ctx, "k", tok),
		"Coalesce": func() error { _, err := s.Coalesce(ctx, "k", nil); return err }(),
	} {
		if !errors.Is(err, redisstore.ErrUnavailable) || !strings.HasPrefix(err.Error(), "redisstore: ") {
			t.Errorf("%s: %v; want an error matching ErrUnavailable", name, err)
		}
	}
	if ne := net.Error(nil); !errors.As(loadErr, &ne) {
		t.Errorf("Load's error does not carry its cause: %v", loadErr)
	}
	if cmds := counter.commands(); len(cmds) != 0 {
		t.Errorf("sent %v to Redis during the cooldown", cmds)
	}
	if st := s.Stats(); st.Fallbacks != 4 {
		t.Errorf("stats %+v; want 4 fallbacks", st)
	}
	r.Restart()
	clock.Advance(redisstore.DefaultCooldown)
	if got, err := s.Load(ctx, "k"); got != nil || err != nil {
		t.Errorf("Load after Redis came back = %v, %v", got, err)
	}
}

// TestWakeMessagesDoNotOutliveTheirFetch: a waiter whose wait ran out while the holder
// was still fetching registered again, so the release pushed two wake messages for one
// waiter; the extra one stayed in the list and handed a waiter of the next fetch the
// previous token at once, even after that token was invalidated fleet-wide.
func TestWakeMessagesDoNotOutliveTheirFetch(t *testing.T) {
	r := startRedis(t)
	// A lock TTL of 300 ms: the waiter's blocking wait (whole seconds, at least one) runs
	// out while the holder, renewing its lock, is still fetching.
	opts := []redisstore.Option{redisstore.WithLockTTL(300 * time.Millisecond)}
	a, b, c, d := newStore(t, r.Addr(), opts...), newStore(t, r.Addr(), opts...),
		newStore(t, r.Addr(), opts...), newStore(t, r.Addr(), opts...)
	ctx := context.Background()
	first, second := token("first", t0, time.Hour), token("second", t0.Add(time.Minute), time.Hour)

	entered, proceed := make(chan struct{}), make(chan struct{})
	aRes := coalesceAsync(a, ctx, "k", func(context.Context, *cognito.Token) (*cognito.Token, error) {
		close(entered)
		<-proceed
		return first, nil
	})
	<-entered
	bRes := coalesceAsync(b, ctx, "k", func(context.Context, *cognito.Token) (*cognito.Token, error) {
		t.Error("b fetched")
		return nil, errors.New("no")
	})
	eventually(t, "b waiting a second time for the same holder", func() bool { return b.Stats().LockWaits >= 2 })
	close(proceed)
	within(t, aRes, 10*time.Second, "the first holder")
	if res := within(t, bRes, 10*time.Second, "the first waiter"); res.err != nil || res.tok == nil || res.tok.Token != "first" {
		t.Fatalf("first waiter got %v, %v", res.tok, res.err)
	}

	// The token is invalidated fleet-wide; the next fetch must not be answered by a wake
	// message of the previous one.
	if err := a.Delete(ctx, "k", first); err != nil {
		t.Fatal(err)
	}
	entered2, proceed2 := make(chan struct{}), make(chan struct{})
	cRes := coalesceAsync(c, ctx, "k", func(context.Context, *cognito.Token) (*cognito.Token, error) {
		close(entered2)
		<-proceed2
		return second, nil
	})
	<-entered2
	dRes := coalesceAsync(d, ctx, "k", func(context.Context, *cognito.Token) (*cognito.Token, error) {
		t.Error("d fetched")
		return nil, errors.New("no")
	})
	eventually(t, "d waiting", func() bool { return d.Stats().LockWaits >= 1 })
	select {
	case res := <-dRes:
		t.Fatalf("the next fetch's waiter returned before its holder finished: %v, %v", res.tok, res.err)
	default:
	}
	close(proceed2)
	within(t, cRes, 10*time.Second, "the second holder")
	if res := within(t, dRes, 10*time.Second, "the second waiter"); res.err != nil || res.tok == nil || res.tok.Token != "second" {
		t.Errorf("second waiter got %v, %v; want the second holder's token", res.tok, res.err)
	}
}
