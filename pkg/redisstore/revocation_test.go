package redisstore_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cognitokit/cognitokit/pkg/cognito"
	"github.com/cognitokit/cognitokit/pkg/cognitotest"
	"github.com/cognitokit/cognitokit/pkg/redisstore"
)

// verifier stands in for one process of a fleet enforcing revocations: its own go-redis
// client, its own list, its own authorizer (with its verified-token cache).
type verifier struct {
	list    *redisstore.RevocationList
	authz   *cognito.JWTAuthorizer
	applied chan cognito.Revocation
}

func newVerifier(t testing.TB, srv *cognitotest.Server, client redis.UniversalClient, opts ...redisstore.RevocationOption) *verifier {
	t.Helper()
	v := &verifier{applied: make(chan cognito.Revocation, 100)}
	base := []redisstore.RevocationOption{redisstore.WithTimeout(5 * time.Second),
		redisstore.WithOnApply(func(r cognito.Revocation) {
			select {
			case v.applied <- r:
			default:
			}
		})}
	var err error
	if v.list, err = redisstore.NewRevocationList(client, append(base, opts...)...); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = v.list.Close() })
	pool := srv.Pools()[0]
	if v.authz, err = cognito.NewJWTAuthorizer(cognito.JWTAuthorizerConfig{UserPoolID: pool.ID, AllowAnyClient: true},
		cognito.WithEndpoint(srv.BaseURL()), cognito.WithRevocationList(v.list),
		cognito.WithHTTPClient(&http.Client{Timeout: 10 * time.Second})); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := v.list.Wait(ctx); err != nil {
		t.Fatalf("first load of the revocation list: %v", err)
	}
	return v
}

// awaitApplied waits until v applied a published entry of kind and id: the event, with a
// generous guard against a hang, never a timing assertion.
func (v *verifier) awaitApplied(t testing.TB, kind cognito.RevocationKind, id string) time.Duration {
	t.Helper()
	start := time.Now()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case r := <-v.applied:
			if r.Kind == kind && r.ID == id {
				return time.Since(start)
			}
		case <-deadline:
			t.Fatalf("%s %s not applied within 30s", kind, id)
		}
	}
}

func (v *verifier) verify(t testing.TB, tok string) (*cognito.Claims, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return v.authz.Verify(ctx, tok)
}

func (v *verifier) mustVerify(t testing.TB, tok, what string) *cognito.Claims {
	t.Helper()
	c, err := v.verify(t, tok)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return c
}

func (v *verifier) mustRefuse(t testing.TB, tok string, reason error, what string) {
	t.Helper()
	if _, err := v.verify(t, tok); !errors.Is(err, reason) {
		t.Fatalf("%s: err = %v; want %v", what, err, reason)
	}
}

func mintUser(t testing.TB, srv *cognitotest.Server, o cognitotest.TokenOptions) string {
	t.Helper()
	tok, err := srv.MintAccessToken(o)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func revoke(t testing.TB, v *verifier, rs ...cognito.Revocation) []cognito.Revocation {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := v.list.Revoke(ctx, rs...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestRevocationFleet: two instances (separate Redis clients) share a list. A token
// verified and cached on both is revoked on one and refused on both once the other applied
// the message; a parallel session of the same user still verifies; a global sign-out
// refuses the user's earlier tokens and accepts a sign-in after it; a client cut-off
// refuses that client's machine tokens only.
func TestRevocationFleet(t *testing.T) {
	r := startRedis(t)
	srv, _ := startCognito(t, nil)
	a := newVerifier(t, srv, newClient(t, r.Addr()))
	b := newVerifier(t, srv, newClient(t, r.Addr()))

	session := mintUser(t, srv, cognitotest.TokenOptions{Username: "alice", Client: "orders-reader", IssuedAt: time.Now().Add(-time.Minute)})
	parallel := mintUser(t, srv, cognitotest.TokenOptions{Username: "alice", Client: "orders-reader", IssuedAt: time.Now().Add(-time.Minute)})
	reader := mintUser(t, srv, cognitotest.TokenOptions{Client: "orders-reader"})
	writer := mintUser(t, srv, cognitotest.TokenOptions{Client: "orders-writer"})
	var claims *cognito.Claims
	for _, v := range []*verifier{a, b} {
		for _, tok := range []string{session, parallel, reader, writer} {
			claims = v.mustVerify(t, tok, "before any revocation")
		}
	}
	c := a.mustVerify(t, session, "again")

	revoke(t, a, cognito.Revocation{Kind: cognito.RevokeOriginJTI, ID: c.OriginJTI})
	a.mustRefuse(t, session, cognito.ErrTokenRevoked, "the revoked session on the instance that revoked it")
	took := b.awaitApplied(t, cognito.RevokeOriginJTI, c.OriginJTI)
	b.mustRefuse(t, session, cognito.ErrTokenRevoked, "the revoked session on the other instance (a cache hit)")
	t.Logf("origin_jti revocation applied by the other instance %v after Revoke returned", took)
	for _, v := range []*verifier{a, b} {
		v.mustVerify(t, parallel, "the parallel session")
	}

	// Global sign-out: tokens of alice issued at or before now are refused.
	cut := time.Now().Truncate(time.Second)
	revoke(t, b, cognito.Revocation{Kind: cognito.RevokeSubject, ID: c.Sub, IssuedBefore: cut})
	a.awaitApplied(t, cognito.RevokeSubject, c.Sub)
	after := mintUser(t, srv, cognitotest.TokenOptions{Username: "alice", Client: "orders-reader", IssuedAt: cut.Add(time.Second)})
	for _, v := range []*verifier{a, b} {
		v.mustRefuse(t, parallel, cognito.ErrTokenRevoked, "a token issued before the sign-out")
		v.mustVerify(t, after, "a sign-in after the sign-out")
	}

	// A leaked secret: the reader's machine tokens, not the writer's.
	revoke(t, a, cognito.Revocation{Kind: cognito.RevokeClient, ID: claims.ClientID})
	b.awaitApplied(t, cognito.RevokeClient, claims.ClientID)
	for _, v := range []*verifier{a, b} {
		v.mustRefuse(t, writer, cognito.ErrTokenRevoked, "the revoked client's machine token")
		v.mustVerify(t, reader, "another client's machine token")
	}

	// A third instance, started now, loads the whole list before it trusts its copy.
	late := newVerifier(t, srv, newClient(t, r.Addr()))
	if got := late.list.Stats().Entries; got != 3 {
		t.Errorf("a late instance holds %d entries; want 3", got)
	}
	late.mustRefuse(t, session, cognito.ErrTokenRevoked, "on a late instance")
	for _, e := range late.list.List() {
		if e.Expires.IsZero() || e.ID == "" {
			t.Errorf("entry %+v", e)
		}
	}
}

// TestRevocationRedisDownAndRestartedEmpty: Redis killed: each instance keeps enforcing
// its copy; once stale, the fail-open one verifies (counted) and the fail-closed one
// refuses with ErrRevocationUnavailable. A revocation made meanwhile fails to reach Redis
// but is enforced by its writer; when Redis comes back empty, the instances write back
// what they hold, and every entry, the one made during the outage included, reaches the
// other instance and Redis.
func TestRevocationRedisDownAndRestartedEmpty(t *testing.T) {
	r := startRedis(t)
	srv, _ := startCognito(t, nil)
	fast := []redisstore.RevocationOption{redisstore.WithSyncInterval(50 * time.Millisecond), redisstore.WithStaleAfter(300 * time.Millisecond)}
	open := newVerifier(t, srv, newClient(t, r.Addr()), fast...)
	closed := newVerifier(t, srv, newClient(t, r.Addr()), append(fast, redisstore.WithFailClosed())...)

	before := mintUser(t, srv, cognitotest.TokenOptions{Username: "alice", Client: "orders-reader"})
	during := mintUser(t, srv, cognitotest.TokenOptions{Username: "bob", Client: "orders-reader"})
	fine := mintUser(t, srv, cognitotest.TokenOptions{Client: "orders-reader"})
	cb := open.mustVerify(t, before, "before")
	cd := open.mustVerify(t, during, "before")
	revoke(t, open, cognito.Revocation{Kind: cognito.RevokeJTI, ID: cb.JTI})
	closed.awaitApplied(t, cognito.RevokeJTI, cb.JTI)

	r.Stop()
	eventually(t, "both copies going stale", func() bool { return open.list.Stats().Stale && closed.list.Stats().Stale })
	open.mustRefuse(t, before, cognito.ErrTokenRevoked, "a revoked token while Redis is down (fail open)")
	open.mustVerify(t, fine, "a good token while Redis is down (fail open)")
	if open.list.Stats().StaleVerifies == 0 {
		t.Error("verifications on a stale copy not counted")
	}
	closed.mustRefuse(t, fine, cognito.ErrRevocationUnavailable, "a good token while Redis is down (fail closed)")
	_, err := closed.verify(t, fine)
	if !errors.Is(err, redisstore.ErrStale) || cognito.ReasonCode(err) != "revocation_unavailable" {
		t.Errorf("fail-closed refusal = %v", err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	_, err = open.list.Revoke(ctx, cognito.Revocation{Kind: cognito.RevokeJTI, ID: cd.JTI})
	cancel()
	if !errors.Is(err, redisstore.ErrUnavailable) {
		t.Fatalf("Revoke while Redis is down = %v; want ErrUnavailable", err)
	}
	open.mustRefuse(t, during, cognito.ErrTokenRevoked, "revoked during the outage, on its writer")

	r.Restart() // empty: no persistence
	eventually(t, "the fail-closed instance learning the revocation made during the outage", func() bool {
		_, err := closed.verify(t, during)
		return errors.Is(err, cognito.ErrTokenRevoked)
	})
	closed.mustRefuse(t, before, cognito.ErrTokenRevoked, "revoked before the outage, after Redis came back empty")
	closed.mustVerify(t, fine, "a good token once Redis is back (fail closed)")
	probe := newClient(t, r.Addr())
	eventually(t, "Redis holding both entries again", func() bool {
		n, err := probe.HLen(context.Background(), "cognitokit:{revocations}").Result()
		return err == nil && n == 2
	})
	if s := open.list.Stats(); s.Republished == 0 || s.Outages == 0 || s.WriteFailures != 1 || s.Stale {
		t.Errorf("stats of the writer = %+v", s)
	}
}

// TestRevocationPartition: Redis hangs (the process is stopped: connections open, no
// answer): the same as down, and once it answers again nothing was lost.
func TestRevocationPartition(t *testing.T) {
	r := startRedis(t)
	srv, _ := startCognito(t, nil)
	opts := []redisstore.RevocationOption{redisstore.WithSyncInterval(50 * time.Millisecond),
		redisstore.WithStaleAfter(300 * time.Millisecond), redisstore.WithTimeout(200 * time.Millisecond)}
	a := newVerifier(t, srv, newClient(t, r.Addr()), opts...)
	b := newVerifier(t, srv, newClient(t, r.Addr()), append(opts, redisstore.WithFailClosed())...)
	tok := mintUser(t, srv, cognitotest.TokenOptions{Username: "alice", Client: "orders-reader"})
	c := a.mustVerify(t, tok, "before")

	thaw := r.freeze(t)
	eventually(t, "the fail-closed copy going stale", func() bool { return b.list.Stats().Stale })
	b.mustRefuse(t, tok, cognito.ErrRevocationUnavailable, "fail closed during the partition")
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	_, err := a.list.Revoke(ctx, cognito.Revocation{Kind: cognito.RevokeOriginJTI, ID: c.OriginJTI})
	cancel()
	if !errors.Is(err, redisstore.ErrUnavailable) {
		t.Fatalf("Revoke during the partition = %v; want ErrUnavailable", err)
	}
	a.mustRefuse(t, tok, cognito.ErrTokenRevoked, "on its writer, during the partition")
	thaw()
	eventually(t, "the other instance enforcing the revocation made during the partition", func() bool {
		_, err := b.verify(t, tok)
		return errors.Is(err, cognito.ErrTokenRevoked)
	})
}

// TestRevocationClusterFailover: on Redis Cluster, the list's keys share one slot; the
// master holding it is killed; the revocations written before the kill are still enforced
// after it, by the instances that were running and by one started after the failover.
func TestRevocationClusterFailover(t *testing.T) {
	c := startCluster(t)
	srv, _ := startCognito(t, nil)
	opts := []redisstore.RevocationOption{redisstore.WithSyncInterval(100 * time.Millisecond)}
	a := newVerifier(t, srv, c.client(t), opts...)
	b := newVerifier(t, srv, c.client(t), opts...)
	probe := c.client(t)
	ctx := t.Context()
	want, err := probe.ClusterKeySlot(ctx, "cognitokit:{revocations}").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"cognitokit:{revocations}:expires", "cognitokit:{revocations}:version"} {
		if slot, err := probe.ClusterKeySlot(ctx, k).Result(); err != nil || slot != want {
			t.Errorf("slot of %q = %d, %v; want %d", k, slot, err, want)
		}
	}
	tok := mintUser(t, srv, cognitotest.TokenOptions{Username: "alice", Client: "orders-reader"})
	machine := mintUser(t, srv, cognitotest.TokenOptions{Client: "orders-writer"})
	cl := a.mustVerify(t, tok, "before")
	cm := b.mustVerify(t, machine, "before")
	revoke(t, a, cognito.Revocation{Kind: cognito.RevokeJTI, ID: cl.JTI})
	b.awaitApplied(t, cognito.RevokeJTI, cl.JTI)
	revoke(t, b, cognito.Revocation{Kind: cognito.RevokeClient, ID: cm.ClientID})
	a.awaitApplied(t, cognito.RevokeClient, cm.ClientID)

	master, err := probe.MasterForKey(ctx, "cognitokit:{revocations}")
	if err != nil {
		t.Fatal(err)
	}
	victim := c.node(master.Options().Addr)
	killed := time.Now()
	victim.Stop()
	for _, v := range []*verifier{a, b} {
		v.mustRefuse(t, tok, cognito.ErrTokenRevoked, "while the master is down")
		v.mustRefuse(t, machine, cognito.ErrTokenRevoked, "while the master is down")
	}
	survivor := c.nodes[0]
	if survivor == victim {
		survivor = c.nodes[1]
	}
	waitFor(t, "a replica taking over the slot", func() bool {
		owner := slotOwner(t, survivor.Addr(), want)
		return owner != "" && owner != victim.Addr()
	})
	waitFor(t, "both instances in touch with the new master", func() bool {
		return a.list.Sync(ctx) == nil && b.list.Sync(ctx) == nil
	})
	late := newVerifier(t, srv, c.client(t), opts...)
	for _, v := range []*verifier{a, b, late} {
		v.mustRefuse(t, tok, cognito.ErrTokenRevoked, "after the failover")
		v.mustRefuse(t, machine, cognito.ErrTokenRevoked, "after the failover")
	}
	// And the list still spreads.
	other := mintUser(t, srv, cognitotest.TokenOptions{Username: "bob", Client: "orders-reader"})
	co := late.mustVerify(t, other, "bob")
	revoke(t, late, cognito.Revocation{Kind: cognito.RevokeSubject, ID: co.Sub})
	a.awaitApplied(t, cognito.RevokeSubject, co.Sub)
	a.mustRefuse(t, other, cognito.ErrTokenRevoked, "revoked after the failover")
	t.Logf("cluster failover: revocations enforced throughout; the list spread again %v after the kill", time.Since(killed).Round(100*time.Millisecond))
}

// TestRevocationSentinelFailover: with the failover client, the master is killed; the
// revocations written before are enforced after the sentinels promoted the replica, and
// new ones spread on the new master.
func TestRevocationSentinelFailover(t *testing.T) {
	s := startSentinels(t)
	srv, _ := startCognito(t, nil)
	opts := []redisstore.RevocationOption{redisstore.WithSyncInterval(100 * time.Millisecond)}
	a := newVerifier(t, srv, s.client(t), opts...)
	b := newVerifier(t, srv, s.client(t), opts...)
	tok := mintUser(t, srv, cognitotest.TokenOptions{Username: "alice", Client: "orders-reader"})
	c := a.mustVerify(t, tok, "before")
	revoke(t, a, cognito.Revocation{Kind: cognito.RevokeOriginJTI, ID: c.OriginJTI})
	b.awaitApplied(t, cognito.RevokeOriginJTI, c.OriginJTI)

	s.master.Stop()
	b.mustRefuse(t, tok, cognito.ErrTokenRevoked, "while the master is down")
	waitFor(t, "the sentinels promoting the replica", func() bool { return s.masterAddr(t) == s.replica.Addr() })
	ctx := t.Context()
	waitFor(t, "both instances in touch with the new master", func() bool {
		return a.list.Sync(ctx) == nil && b.list.Sync(ctx) == nil
	})
	late := newVerifier(t, srv, s.client(t), opts...)
	late.mustRefuse(t, tok, cognito.ErrTokenRevoked, "on an instance started after the failover")
	other := mintUser(t, srv, cognitotest.TokenOptions{Username: "bob", Client: "orders-reader"})
	co := late.mustVerify(t, other, "bob")
	revoke(t, b, cognito.Revocation{Kind: cognito.RevokeJTI, ID: co.JTI})
	late.awaitApplied(t, cognito.RevokeJTI, co.JTI)
	late.mustRefuse(t, other, cognito.ErrTokenRevoked, "revoked after the failover")
}
