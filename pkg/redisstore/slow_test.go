//go:build unix

package redisstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/cognitokit/cognitokit/pkg/cognitotest"
	"github.com/cognitokit/cognitokit/pkg/redisstore"
)

// Redis hangs (the process is stopped: connections open, no answers): a caller still
// gets a token, fetched by its own instance once the Redis call times out, and further
// misses during the cooldown do not even try Redis.
func TestSlowRedisInstanceFetchesOnItsOwn(t *testing.T) {
	r := startRedis(t)
	srv, cfg := startCognito(t, nil)
	clock := newFakeClock()
	in := newInstance(t, r.Addr(), cfg, []redisstore.Option{redisstore.WithTimeout(100 * time.Millisecond),
		redisstore.WithClock(clock.Now), redisstore.WithCooldown(time.Minute)})
	r.freeze(t)

	done := make(chan error, 1)
	go func() {
		_, err := in.auth.GetToken(context.Background())
		done <- err
	}()
	if err := within(t, done, 20*time.Second, "GetToken with Redis hanging"); err != nil {
		t.Fatalf("GetToken with Redis hanging: %v", err)
	}
	if n := srv.Requests(cognitotest.EndpointToken); n != 1 {
		t.Errorf("token requests = %d; want 1", n)
	}
	if st := in.store.Stats(); st.Fallbacks < 1 {
		t.Errorf("stats %+v; want a fallback", st)
	}
	in.cmds.reset()
	in.auth.Invalidate()
	if _, err := in.auth.GetToken(context.Background()); err != nil {
		t.Fatal(err)
	}
	if cmds := in.cmds.commands(); len(cmds) != 0 {
		t.Errorf("sent %v to a hanging Redis during the cooldown", cmds)
	}
}
