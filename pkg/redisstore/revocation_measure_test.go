package redisstore_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cognitokit/cognitokit/pkg/cognito"
	"github.com/cognitokit/cognitokit/pkg/redisstore"
)

// TestRevocationPropagationMeasures prints how long after Revoke was called on one of 10
// instances (each with its own Redis client, on one real redis-server) the others enforce
// the entry: p50, p99 and max over 100 revocations, one every 50ms. BENCHMARKS.md records
// its output. Run it with COGNITOKIT_MEASURE_REVOCATION=1.
func TestRevocationPropagationMeasures(t *testing.T) {
	if os.Getenv("COGNITOKIT_MEASURE_REVOCATION") == "" {
		t.Skip("set COGNITOKIT_MEASURE_REVOCATION=1 to measure")
	}
	r := startRedis(t)
	const instances, revocations = 10, 100
	var (
		mu      sync.Mutex
		sent    = map[string]time.Time{}
		delays  []time.Duration
		arrived = make(chan struct{}, instances*revocations)
	)
	lists := make([]*redisstore.RevocationList, instances)
	for i := range lists {
		l, err := redisstore.NewRevocationList(newClient(t, r.Addr()), redisstore.WithOnApply(func(e cognito.Revocation) {
			now := time.Now()
			mu.Lock()
			if at, ok := sent[e.ID]; ok {
				delays = append(delays, now.Sub(at))
			}
			mu.Unlock()
			select {
			case arrived <- struct{}{}:
			default: // an entry learned twice (a reload after a missed message) is counted once
			}
		}))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = l.Close() })
		if err := l.Wait(t.Context()); err != nil {
			t.Fatal(err)
		}
		lists[i] = l
	}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for i := range revocations {
		id := fmt.Sprintf("jti-%d", i)
		mu.Lock()
		sent[id] = time.Now()
		mu.Unlock()
		// The writer's own copy has it at once; the measure is of the others.
		if _, err := lists[i%instances].Revoke(context.Background(), cognito.Revocation{Kind: cognito.RevokeJTI, ID: id}); err != nil {
			t.Fatal(err)
		}
		<-tick.C
	}
	for range instances * revocations { // every instance receives every message, its own included
		within(t, arrived, 30*time.Second, "a revocation message")
	}
	mu.Lock()
	defer mu.Unlock()
	slices.Sort(delays)
	q := func(p float64) time.Duration { return delays[int(p*float64(len(delays)-1))] }
	t.Logf("propagation across %d instances, %d revocations (%d applications): p50 %v, p99 %v, max %v",
		instances, revocations, len(delays), q(0.5).Round(time.Microsecond), q(0.99).Round(time.Microsecond), delays[len(delays)-1].Round(time.Microsecond))
}
