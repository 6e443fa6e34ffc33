package redisstore_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cognitokit/cognitokit/pkg/cognito"
	"github.com/cognitokit/cognitokit/pkg/cognitotest"
	"github.com/cognitokit/cognitokit/pkg/redisstore"
)

// callAll calls GetToken calls times on every instance, perInstance goroutines each, all
// at once, and returns every error, by instance.
func callAll(t testing.TB, fleet []*instance, perInstance, calls int) [][]error {
	t.Helper()
	out := make([][]error, len(fleet))
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, in := range fleet {
		for range perInstance {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				for range calls {
					ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
					_, err := in.auth.GetToken(ctx)
					cancel()
					mu.Lock()
					out[i] = append(out[i], err)
					mu.Unlock()
				}
			}()
		}
	}
	close(start)
	wg.Wait()
	return out
}

// authErr returns err as an *AuthenticationError matching reason, failing the test
// otherwise.
func authErr(t testing.TB, err error, reason error) *cognito.AuthenticationError {
	t.Helper()
	var ae *cognito.AuthenticationError
	if !errors.As(err, &ae) || !errors.Is(err, reason) {
		t.Fatalf("error = %v; want an *AuthenticationError matching %v", err, reason)
	}
	return ae
}

// A fleet of 20 with a wrong secret: the first instance to take the lock makes the one
// request, and records the rejection's cool-down with the release; every other instance
// finds it in the round trip that would have taken the lock, and holds off on its own
// from then on. The cool-down is long here so that a slow run stays within it.
func TestFleetWrongSecretOneRequest(t *testing.T) {
	r := startRedis(t)
	srv, cfg := startCognito(t, nil)
	cfg.ClientSecret = "a-typo-in-the-secret"
	fleet := newFleet(t, 20, r.Addr(), cfg, nil, cognito.WithCooldown(cognito.CooldownPolicy{RejectionFirst: 30 * time.Second}))

	errs := callAll(t, fleet, 10, 5)

	if n := srv.Requests(cognitotest.EndpointToken); n > 2 {
		t.Errorf("token requests = %d for the fleet during the cool-down; want at most 2", n)
	}
	var fresh, held int
	for i, in := range fleet {
		for _, err := range errs[i] {
			ae := authErr(t, err, cognito.ErrTokenRequestRejected)
			if ae.ErrorCode != "invalid_client" || ae.StatusCode != http.StatusBadRequest {
				t.Errorf("instance %d got %+v; want invalid_client, 400", i, *ae)
			}
			if ae.HeldOff {
				held++
			} else {
				fresh++
			}
		}
		if n := in.cmds.n.Load(); n > 3 {
			t.Errorf("instance %d sent %v to Redis; want at most 3 commands (lock, wait, lock)", i, in.cmds.commands())
		}
	}
	if fresh > 10 || held+fresh != 1000 {
		t.Errorf("%d calls got the answer, %d were held off; want the holder's callers alone to get it", fresh, held)
	}
	if s := sumStats(fleet); s.Cooldowns != 1 || s.HeldOff < 19 {
		t.Errorf("fleet stats %+v; want one cool-down recorded, found by the 19 others", s)
	}

	// Redis holds the answer and no secret, for what is left of the cool-down.
	raw := newClient(t, r.Addr())
	key := fleet[0].store.RedisKey(cognito.TokenKey(cfg)) + ":cooldown"
	value, err := raw.Get(context.Background(), key).Result()
	if err != nil {
		t.Fatalf("GET %s: %v", key, err)
	}
	if strings.Contains(value, cfg.ClientSecret) {
		t.Fatal("Redis holds the client secret")
	}
	var rec map[string]any
	if err := json.Unmarshal([]byte(value), &rec); err != nil || rec["reason"] != "token_request_rejected" ||
		rec["error_code"] != "invalid_client" || rec["streak"] != 1.0 {
		t.Errorf("stored cool-down %s; want the invalid_client rejection, streak 1", value)
	}
	if ttl := raw.PTTL(context.Background(), key).Val(); ttl <= 0 || ttl > 30*time.Second {
		t.Errorf("cool-down TTL %v; want what is left of 30s", ttl)
	}
}

// A fleet during a 503: one instance's attempts (the retry policy's 3 at most), then
// every instance holds off; when the cool-down ends, a single probe for the whole fleet.
func TestFleetOutageOneProbeAtATime(t *testing.T) {
	r := startRedis(t)
	srv, cfg := startCognito(t, nil)
	srv.FailNext(cognitotest.EndpointToken, 1000, cognitotest.Fault{Status: http.StatusServiceUnavailable})
	fleet := newFleet(t, 20, r.Addr(), cfg, nil,
		cognito.WithCooldown(cognito.CooldownPolicy{OutageFirst: time.Second, OutageMax: 30 * time.Second}),
		cognito.WithRetry(cognito.RetryPolicy{BaseDelay: time.Millisecond, MaxDelay: 10 * time.Millisecond}))

	errs := callAll(t, fleet, 5, 4)
	if n := srv.Requests(cognitotest.EndpointToken); n > 3 {
		t.Fatalf("token requests = %d; want at most the 3 attempts of one fetch", n)
	}
	var until time.Time
	for i := range fleet {
		for _, err := range errs[i] {
			ae := authErr(t, err, cognito.ErrTokenEndpointUnavailable)
			if ae.RetryAt.After(until) {
				until = ae.RetryAt
			}
		}
	}
	// The cool-down is time itself: wait for it to pass.
	if d := time.Until(until); d > 0 {
		<-time.After(d)
	}
	before := srv.Requests(cognitotest.EndpointToken)
	errs = callAll(t, fleet, 5, 2)
	if n := srv.Requests(cognitotest.EndpointToken) - before; n != 1 {
		t.Errorf("token requests after the cool-down = %d; want 1 probe for the fleet", n)
	}
	for i := range fleet {
		for _, err := range errs[i] {
			authErr(t, err, cognito.ErrTokenEndpointUnavailable)
		}
	}
}

// 429 with Retry-After: 5 seen by one instance holds the whole fleet off for 5s.
func TestFleetRetryAfterHonoured(t *testing.T) {
	r := startRedis(t)
	srv, cfg := startCognito(t, nil)
	srv.FailNext(cognitotest.EndpointToken, 1000, cognitotest.Fault{Status: http.StatusTooManyRequests,
		Header: http.Header{"Retry-After": {"5"}}})
	fleet := newFleet(t, 20, r.Addr(), cfg, nil)
	start := time.Now()
	errs := callAll(t, fleet, 5, 4)
	if time.Since(start) > 4*time.Second {
		t.Skip("the machine is too slow to tell within the Retry-After")
	}
	if n := srv.Requests(cognitotest.EndpointToken); n != 1 {
		t.Errorf("token requests = %d within the Retry-After; want 1", n)
	}
	for i := range fleet {
		for _, err := range errs[i] {
			if ae := authErr(t, err, cognito.ErrTokenEndpointUnavailable); ae.StatusCode != http.StatusTooManyRequests {
				t.Errorf("instance %d: %v; want the 429", i, err)
			}
		}
	}
	raw := newClient(t, r.Addr())
	key := fleet[0].store.RedisKey(cognito.TokenKey(cfg)) + ":cooldown"
	if ttl := raw.PTTL(context.Background(), key).Val(); ttl <= time.Second || ttl > 5*time.Second {
		t.Errorf("cool-down TTL %v; want what is left of the 5s", ttl)
	}
}

// Redis down: every instance protects itself, one request each at most per cool-down,
// and no call waits for Redis's timeouts.
func TestFleetRedisDownEachInstanceHoldsOff(t *testing.T) {
	r := startRedis(t)
	srv, cfg := startCognito(t, nil)
	cfg.ClientSecret = "a-typo-in-the-secret"
	fleet := newFleet(t, 5, r.Addr(), cfg, []redisstore.Option{redisstore.WithTimeout(time.Second)},
		cognito.WithCooldown(cognito.CooldownPolicy{RejectionFirst: 30 * time.Second}))
	r.Stop()

	errs := callAll(t, fleet, 10, 10)

	if n := srv.Requests(cognitotest.EndpointToken); n > int64(len(fleet)) {
		t.Errorf("token requests = %d; want at most one per instance (%d)", n, len(fleet))
	}
	for i := range fleet {
		held := 0
		for _, err := range errs[i] {
			if authErr(t, err, cognito.ErrTokenRequestRejected).HeldOff {
				held++
			}
		}
		if held < 90 {
			t.Errorf("instance %d held off %d calls of 100; want all but those sharing its request", i, held)
		}
	}
	if s := sumStats(fleet); s.Fallbacks == 0 {
		t.Errorf("fleet stats %+v; want fallbacks", s)
	}
}

// LoadCooldown and StoreCooldown, for authenticators whose Coalesce failed: what is
// stored comes back with what is left of it, and a token stored ends it.
func TestStoreCooldownRoundTrip(t *testing.T) {
	r := startRedis(t)
	in := newInstance(t, r.Addr(), cognito.ClientCredentialsConfig{ClientID: "c", ClientSecret: "s",
		TokenURL: "http://127.0.0.1/oauth2/token"}, nil)
	ctx := context.Background()
	if cd, err := in.store.LoadCooldown(ctx, "k"); cd != nil || err != nil {
		t.Fatalf("LoadCooldown of nothing = %v, %v", cd, err)
	}
	want := &cognito.Cooldown{Reason: "token_request_rejected", ErrorCode: "invalid_scope", StatusCode: 400,
		Streak: 3, Remaining: 10 * time.Second}
	if err := in.store.StoreCooldown(ctx, "k", want); err != nil {
		t.Fatal(err)
	}
	got, err := in.store.LoadCooldown(ctx, "k")
	if err != nil || got == nil {
		t.Fatalf("LoadCooldown = %v, %v", got, err)
	}
	if got.Reason != want.Reason || got.ErrorCode != want.ErrorCode || got.StatusCode != 400 || got.Streak != 3 ||
		got.Remaining <= 0 || got.Remaining > want.Remaining {
		t.Errorf("LoadCooldown = %+v; want %+v with what is left of it", *got, *want)
	}
	tok := &cognito.Token{Token: "t", TokenType: "Bearer", ExpiresAt: time.Now().Add(time.Hour), IssuedAt: time.Now()}
	if err := in.store.Store(ctx, "k", tok); err != nil {
		t.Fatal(err)
	}
	if cd, err := in.store.LoadCooldown(ctx, "k"); cd != nil || err != nil {
		t.Errorf("LoadCooldown after a token was stored = %v, %v; want none", cd, err)
	}
}
