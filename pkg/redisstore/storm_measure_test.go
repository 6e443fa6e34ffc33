package redisstore_test

import (
	"context"
	"net/http"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/cognitokit/cognitokit/pkg/cognitotest"
)

// TestFleetStormMeasures prints the token requests a fleet of 20 instances sharing a real
// redis-server makes for 1,000 GetToken calls (50 per instance, one every 200ms, over 10s
// of real time), with no cached token, while the endpoint rejects the client, answers
// 503, or answers 429 with Retry-After: 5; default protections. BENCHMARKS.md records its
// output. Run it with COGNITOKIT_MEASURE_STORM=1.
func TestFleetStormMeasures(t *testing.T) {
	if os.Getenv("COGNITOKIT_MEASURE_STORM") == "" {
		t.Skip("set COGNITOKIT_MEASURE_STORM=1 to measure")
	}
	scenarios := []struct {
		name  string
		fault *cognitotest.Fault // nil: a wrong secret
	}{
		{"rejection (wrong secret)", nil},
		{"503 outage", &cognitotest.Fault{Status: http.StatusServiceUnavailable}},
		{"429 storm, Retry-After: 5", &cognitotest.Fault{Status: http.StatusTooManyRequests, Header: http.Header{"Retry-After": {"5"}}}},
	}
	for _, sc := range scenarios {
		r := startRedis(t)
		srv, cfg := startCognito(t, nil)
		if sc.fault == nil {
			cfg.ClientSecret = "wrong"
		} else {
			srv.FailNext(cognitotest.EndpointToken, 1_000_000, *sc.fault)
		}
		fleet := newFleet(t, 20, r.Addr(), cfg, nil)
		var wg sync.WaitGroup
		for _, in := range fleet {
			wg.Add(1)
			go func() {
				defer wg.Done()
				tick := time.NewTicker(200 * time.Millisecond)
				defer tick.Stop()
				for range 50 {
					_, _ = in.auth.GetToken(context.Background())
					<-tick.C
				}
			}()
		}
		wg.Wait()
		s := sumStats(fleet)
		t.Logf("fleet of 20 | %-26s | %4d token requests per 1,000 calls | cool-downs recorded %d, found %d",
			sc.name, srv.Requests(cognitotest.EndpointToken), s.Cooldowns, s.HeldOff)
	}
}
