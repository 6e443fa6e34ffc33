package redisstore_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cognitokit/cognitokit/pkg/cognito"
	"github.com/cognitokit/cognitokit/pkg/cognitotest"
	"github.com/cognitokit/cognitokit/pkg/redisstore"
)

// The store on the topologies fleets run: Redis Cluster (three masters, three replicas)
// and Sentinel (a master, a replica, three sentinels), each started by the test on
// loopback ports and stopped when it ends, and a master killed mid-test.

// waitFor waits until cond holds, for at most a minute: failovers take seconds, more on a
// loaded machine. A guard against a hang, never a timing assertion.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s did not happen within a minute", what)
		}
		<-tick.C
	}
}

// failoverFleet is five instances on clients of one topology, their stores quick to try
// Redis again after a failure (a failover is what the tests wait for).
func failoverFleet(t *testing.T, clock *fakeClock, cfg cognito.ClientCredentialsConfig, client func() redis.UniversalClient) []*instance {
	t.Helper()
	storeOpts := []redisstore.Option{redisstore.WithCooldown(50 * time.Millisecond), redisstore.WithTimeout(2 * time.Second)}
	fleet := make([]*instance, 5)
	for i := range fleet {
		fleet[i] = newInstanceOn(t, client(), cfg, storeOpts, cognito.WithClock(clock.Now))
	}
	return fleet
}

// cluster is a Redis Cluster of three masters with a replica each.
type cluster struct {
	nodes []*redisServer
}

func startCluster(t *testing.T) *cluster {
	t.Helper()
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		t.Skip("redis-cli is not installed, so the Redis Cluster test is skipped (apt-get install redis-tools; CI installs it)")
	}
	c := &cluster{}
	var addrs []string
	for range 6 {
		n := startRedisWith(t, "redis-server", "", "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
			"--cluster-node-timeout", "1000", "--cluster-replica-validity-factor", "0")
		c.nodes = append(c.nodes, n)
		addrs = append(addrs, n.Addr())
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, cli, append([]string{"--cluster", "create"},
		append(addrs, "--cluster-replicas", "1", "--cluster-yes")...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	for _, n := range c.nodes {
		waitFor(t, "cluster_state:ok on "+n.Addr(), func() bool { return clusterOK(n.Addr()) })
	}
	return c
}

func clusterOK(addr string) bool {
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	info, err := c.ClusterInfo(ctx).Result()
	return err == nil && strings.Contains(info, "cluster_state:ok")
}

// slotOwner is the address of the healthy master serving slot, as the node at addr sees
// it.
func slotOwner(t testing.TB, addr string, slot int64) string {
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	shards, err := c.ClusterShards(t.Context()).Result()
	if err != nil {
		return ""
	}
	for _, sh := range shards {
		for _, r := range sh.Slots {
			if r.Start > slot || slot > r.End {
				continue
			}
			for _, n := range sh.Nodes {
				if n.Role == "master" && n.Health == "online" {
					return n.IP + ":" + strconv.FormatInt(n.Port, 10)
				}
			}
		}
	}
	return ""
}

func (c *cluster) client(t testing.TB) *redis.ClusterClient {
	var addrs []string
	for _, n := range c.nodes {
		addrs = append(addrs, n.Addr())
	}
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs, MaxRedirects: 8})
	t.Cleanup(func() { _ = cc.Close() })
	return cc
}

// node returns the node serving addr.
func (c *cluster) node(addr string) *redisServer {
	for _, n := range c.nodes {
		if n.Addr() == addr {
			return n
		}
	}
	return nil
}

// TestClusterFleetSharesThroughFailover: on Redis Cluster, every key of one client hashes
// to one slot; a fleet shares one token; when the master holding that slot is killed, the
// instances fetch on their own while the cluster fails over, and share again once a
// replica has taken over.
func TestClusterFleetSharesThroughFailover(t *testing.T) {
	c := startCluster(t)
	clock := newFakeClock()
	srv, cfg := startCognito(t, nil)
	fleet := failoverFleet(t, clock, cfg, func() redis.UniversalClient { return c.client(t) })
	key := fleet[0].store.RedisKey(cognito.TokenKey(cfg))

	probe := c.client(t)
	ctx := t.Context()
	want, err := probe.ClusterKeySlot(ctx, key).Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{key + ":lock", key + ":waiters", key + ":wake:0123456789abcdef"} {
		if slot, err := probe.ClusterKeySlot(ctx, k).Result(); err != nil || slot != want {
			t.Errorf("slot of %q = %d, %v; want %d, the token's", k, slot, err, want)
		}
	}

	getAll(t, fleet, 20)
	if n := srv.Requests(cognitotest.EndpointToken); n != 1 {
		t.Fatalf("token requests = %d; want 1 for the fleet", n)
	}

	master, err := probe.MasterForKey(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	victim := c.node(master.Options().Addr)
	if victim == nil {
		t.Fatalf("no node serves %s", master.Options().Addr)
	}
	killed := time.Now()
	victim.Stop()
	clock.Advance(2 * time.Hour) // every token has expired
	for i, tok := range eachToken(t, fleet) {
		if tok == "" {
			t.Errorf("instance %d got no token while its master was down", i)
		}
	}
	during := srv.Requests(cognitotest.EndpointToken) - 1

	survivor := c.nodes[0]
	if survivor == victim {
		survivor = c.nodes[1]
	}
	waitFor(t, "a replica taking over the slot", func() bool {
		owner := slotOwner(t, survivor.Addr(), want)
		return owner != "" && owner != victim.Addr()
	})
	promoted := time.Since(killed)

	// Sharing resumes once a replica serves the slot and every instance's client knows it:
	// go-redis reloads its slot map by itself only every minute, but the store asks for a
	// reload after each failure, so the first call after the cooldown reaches the replica.
	for i, in := range fleet {
		waitFor(t, fmt.Sprintf("instance %d's store reaching the new master", i), func() bool {
			_, err := in.store.Load(ctx, cognito.TokenKey(cfg))
			return err == nil
		})
	}
	failover := time.Since(killed)
	before := srv.Requests(cognitotest.EndpointToken)
	clock.Advance(2 * time.Hour)
	getAll(t, fleet, 20)
	if n := srv.Requests(cognitotest.EndpointToken) - before; n != 1 {
		t.Errorf("token requests after the failover = %d; want 1 for the fleet", n)
	}
	t.Logf("cluster failover: %d token requests by 5 instances while the slot's master was down; replica promoted %v and sharing resumed %v after the kill",
		during, promoted.Round(100*time.Millisecond), failover.Round(100*time.Millisecond))
}

// sentinels is a master, a replica and three sentinels watching them as "cognitokit".
type sentinels struct {
	master, replica *redisServer
	watchers        []*redisServer
}

const masterName = "cognitokit"

func startSentinels(t *testing.T) *sentinels {
	t.Helper()
	s := &sentinels{master: startRedis(t)}
	s.replica = startRedisWith(t, "redis-server", "", "--replicaof", "127.0.0.1", strconv.Itoa(s.master.port))
	for range 3 {
		conf := filepath.Join(t.TempDir(), "sentinel.conf")
		body := fmt.Sprintf("sentinel monitor %s 127.0.0.1 %d 2\n"+
			"sentinel down-after-milliseconds %s 1000\nsentinel failover-timeout %s 5000\n"+
			"sentinel parallel-syncs %s 1\n", masterName, s.master.port, masterName, masterName, masterName)
		if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		s.watchers = append(s.watchers, startRedisWith(t, "redis-sentinel", conf))
	}
	// A failover needs the sentinels to know each other and the replica.
	for _, w := range s.watchers {
		sc := redis.NewSentinelClient(&redis.Options{Addr: w.Addr()})
		t.Cleanup(func() { _ = sc.Close() })
		waitFor(t, "sentinel "+w.Addr()+" seeing the others and the replica", func() bool {
			others, err1 := sc.Sentinels(t.Context(), masterName).Result()
			replicas, err2 := sc.Replicas(t.Context(), masterName).Result()
			return err1 == nil && err2 == nil && len(others) == 2 && len(replicas) == 1
		})
	}
	return s
}

func (s *sentinels) client(t testing.TB) *redis.Client {
	var addrs []string
	for _, w := range s.watchers {
		addrs = append(addrs, w.Addr())
	}
	c := redis.NewFailoverClient(&redis.FailoverOptions{MasterName: masterName, SentinelAddrs: addrs})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// masterAddr is the master the sentinels name now.
func (s *sentinels) masterAddr(t testing.TB) string {
	sc := redis.NewSentinelClient(&redis.Options{Addr: s.watchers[0].Addr()})
	defer sc.Close()
	addr, err := sc.GetMasterAddrByName(t.Context(), masterName).Result()
	if err != nil || len(addr) != 2 {
		return ""
	}
	return addr[0] + ":" + addr[1]
}

// TestSentinelFleetSharesThroughFailover: with go-redis's failover client, a fleet shares
// one token; the master is killed; the instances keep serving tokens, each on its own,
// while the sentinels promote the replica; then they share again, on the new master.
func TestSentinelFleetSharesThroughFailover(t *testing.T) {
	s := startSentinels(t)
	clock := newFakeClock()
	srv, cfg := startCognito(t, nil)
	fleet := failoverFleet(t, clock, cfg, func() redis.UniversalClient { return s.client(t) })
	getAll(t, fleet, 20)
	if n := srv.Requests(cognitotest.EndpointToken); n != 1 {
		t.Fatalf("token requests = %d; want 1 for the fleet", n)
	}

	killed := time.Now()
	s.master.Stop()
	clock.Advance(2 * time.Hour)
	for i, tok := range eachToken(t, fleet) {
		if tok == "" {
			t.Errorf("instance %d got no token while the master was down", i)
		}
	}
	during := srv.Requests(cognitotest.EndpointToken) - 1

	waitFor(t, "the sentinels promoting the replica", func() bool { return s.masterAddr(t) == s.replica.Addr() })
	key := fleet[0].store.RedisKey(cognito.TokenKey(cfg))
	for i, in := range fleet {
		waitFor(t, fmt.Sprintf("instance %d writing to the new master", i), func() bool {
			return in.client.Set(t.Context(), key+":probe", "1", time.Second).Err() == nil
		})
	}
	failover := time.Since(killed)
	before := srv.Requests(cognitotest.EndpointToken)
	clock.Advance(2 * time.Hour)
	getAll(t, fleet, 20)
	if n := srv.Requests(cognitotest.EndpointToken) - before; n != 1 {
		t.Errorf("token requests after the failover = %d; want 1 for the fleet", n)
	}
	t.Logf("sentinel failover: %d token requests by 5 instances while the master was down; sharing resumed %v after the kill",
		during, failover.Round(100*time.Millisecond))
}
