package redisstore_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"

	"github.com/cognitokit/cognitokit/pkg/cognito"
	"github.com/cognitokit/cognitokit/pkg/cognitotest"
)

// BenchmarkGetTokenCached is the hot path with the Redis store configured, next to the
// default in-memory store: a cached token is served from the authenticator's own copy,
// without touching Redis.
func BenchmarkGetTokenCached(b *testing.B) {
	r := startRedis(b)
	_, cfg := startCognito(b, nil)
	redisAuth := newInstance(b, r.Addr(), cfg, nil).auth
	memoryAuth, err := cognito.NewClientCredentialsAuthenticator(cfg)
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		auth *cognito.ClientCredentialsAuthenticator
	}{{"store=memory", memoryAuth}, {"store=redis", redisAuth}} {
		ctx := context.Background()
		if _, err := c.auth.GetToken(ctx); err != nil {
			b.Fatal(err)
		}
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.auth.GetToken(ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(c.name+"/parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := c.auth.GetToken(ctx); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkFleetColdFetch: 20 instances, each with its own HTTP client, all miss at once
// (their tokens invalidated): with the Redis store (each instance its own go-redis
// client), and without a shared store (each instance its own in-memory cache). Reported
// per fleet-wide miss: token requests to the local Cognito, and Redis commands (one round
// trip each) per instance, mean and maximum.
func BenchmarkFleetColdFetch(b *testing.B) {
	r := startRedis(b)
	srv, cfg := startCognito(b, nil)
	shared := newFleet(b, 20, r.Addr(), cfg, nil)
	private := make([]*instance, 20)
	for i := range private {
		auth, err := cognito.NewClientCredentialsAuthenticator(cfg, cognito.WithHTTPClient(&http.Client{Transport: &http.Transport{}}))
		if err != nil {
			b.Fatal(err)
		}
		private[i] = &instance{auth: auth, cmds: &cmdCounter{}}
	}
	for _, c := range []struct {
		name  string
		fleet []*instance
	}{{"store=none", private}, {"store=redis", shared}} {
		b.Run(c.name, func(b *testing.B) { coldFetch(b, srv, c.fleet) })
	}
}

// BenchmarkFleetColdFetchScale is BenchmarkFleetColdFetch's store=redis at 2, 20 and 100
// instances: how the Redis commands per instance and the token requests grow with the
// fleet.
func BenchmarkFleetColdFetchScale(b *testing.B) {
	r := startRedis(b)
	srv, cfg := startCognito(b, nil)
	for _, n := range []int{2, 20, 100} {
		fleet := newFleet(b, n, r.Addr(), cfg, nil)
		b.Run(fmt.Sprintf("instances=%d", n), func(b *testing.B) { coldFetch(b, srv, fleet) })
	}
}

// coldFetch invalidates the token of every instance of fleet, then has them all call
// GetToken at once, and reports the token requests srv answered and the Redis commands
// each instance sent, per iteration.
func coldFetch(b *testing.B, srv *cognitotest.Server, fleet []*instance) {
	eachToken(b, fleet)
	var cmds, maxCmds, requests float64
	for b.Loop() {
		b.StopTimer()
		for _, in := range fleet {
			in.auth.Invalidate()
		}
		for _, in := range fleet {
			in.cmds.reset()
		}
		before := srv.Requests(cognitotest.EndpointToken)
		b.StartTimer()

		var wg sync.WaitGroup
		for _, in := range fleet {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := in.auth.GetToken(context.Background()); err != nil {
					b.Error(err)
				}
			}()
		}
		wg.Wait()

		b.StopTimer()
		requests += float64(srv.Requests(cognitotest.EndpointToken) - before)
		counts := make([]int64, len(fleet))
		for i, in := range fleet {
			counts[i] = in.cmds.n.Load()
			cmds += float64(counts[i])
		}
		maxCmds = max(maxCmds, float64(slices.Max(counts)))
		b.StartTimer()
	}
	b.ReportMetric(requests/float64(b.N), "cognito-reqs/op")
	b.ReportMetric(cmds/float64(b.N)/float64(len(fleet)), "redis-cmds/instance")
	b.ReportMetric(maxCmds, "max-redis-cmds/instance")
}
