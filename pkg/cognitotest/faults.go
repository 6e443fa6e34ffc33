package cognitotest

import (
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Endpoint names one of the server's endpoints, for fault injection and request counts.
type Endpoint string

// The endpoints of a local Cognito.
const (
	EndpointToken     Endpoint = "token"     // POST /oauth2/token
	EndpointRevoke    Endpoint = "revoke"    // POST /oauth2/revoke
	EndpointUserInfo  Endpoint = "userinfo"  // GET /oauth2/userInfo
	EndpointJWKS      Endpoint = "jwks"      // GET /{pool}/.well-known/jwks.json
	EndpointDiscovery Endpoint = "discovery" // GET /{pool}/.well-known/openid-configuration
)

var endpoints = []Endpoint{EndpointToken, EndpointRevoke, EndpointUserInfo, EndpointJWKS, EndpointDiscovery}

func endpointOf(path string) (Endpoint, bool) {
	switch {
	case path == "/oauth2/token":
		return EndpointToken, true
	case path == "/oauth2/revoke":
		return EndpointRevoke, true
	case path == "/oauth2/userInfo":
		return EndpointUserInfo, true
	case strings.HasSuffix(path, "/.well-known/jwks.json"):
		return EndpointJWKS, true
	case strings.HasSuffix(path, "/.well-known/openid-configuration"):
		return EndpointDiscovery, true
	}
	return "", false
}

// Fault is an answer the server gives instead of the real one.
type Fault struct {
	// Status is the HTTP status to answer. Zero means the real handler answers (after
	// Delay), which makes a pure stall.
	Status int
	// Body is written as is; Header is added to the answer.
	Body   string
	Header http.Header
	// Delay stalls the request before answering, ending early if the client goes away.
	Delay time.Duration
}

// faults holds queued faults and request counters per endpoint, and per pool for the
// endpoints whose path names a pool.
type faults struct {
	mu         sync.Mutex
	queued     map[Endpoint][]Fault
	counts     map[Endpoint]*atomic.Int64
	poolQueued map[poolEndpoint][]Fault
	poolCounts map[poolEndpoint]int64
}

// poolEndpoint is an endpoint of one pool: JWKS or discovery.
type poolEndpoint struct {
	pool string
	ep   Endpoint
}

// poolOf returns the pool a JWKS or discovery path names, "/<pool>/.well-known/...".
func poolOf(path string) string {
	pool, _, _ := strings.Cut(strings.TrimPrefix(path, "/"), "/")
	return pool
}

func newFaults() *faults {
	f := &faults{queued: map[Endpoint][]Fault{}, counts: map[Endpoint]*atomic.Int64{},
		poolQueued: map[poolEndpoint][]Fault{}, poolCounts: map[poolEndpoint]int64{}}
	for _, e := range endpoints {
		f.counts[e] = new(atomic.Int64)
	}
	return f
}

// FailNext makes the next n requests to ep get fault instead of the real answer.
// Faults queue up: a second call adds to the ones not yet served.
func (s *Server) FailNext(ep Endpoint, n int, fault Fault) {
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	for range n {
		s.faults.queued[ep] = append(s.faults.queued[ep], fault)
	}
}

// FailNextForPool is FailNext for the requests of one pool only: ep is EndpointJWKS or
// EndpointDiscovery, whose paths name the pool, so that one pool's keys can be made
// unreachable while another's are served. Faults for the pool are served before those
// FailNext queued for every pool.
func (s *Server) FailNextForPool(poolID string, ep Endpoint, n int, fault Fault) {
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	k := poolEndpoint{poolID, ep}
	for range n {
		s.faults.poolQueued[k] = append(s.faults.poolQueued[k], fault)
	}
}

// PoolRequests returns how many requests ep (EndpointJWKS or EndpointDiscovery) has
// received for the pool poolID, faulted ones included.
func (s *Server) PoolRequests(poolID string, ep Endpoint) int64 {
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	return s.faults.poolCounts[poolEndpoint{poolID, ep}]
}

// StallNext makes the next n requests to ep wait d before the real answer.
func (s *Server) StallNext(ep Endpoint, n int, d time.Duration) {
	s.FailNext(ep, n, Fault{Delay: d})
}

// ClearFaults drops every queued fault.
func (s *Server) ClearFaults() {
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	clear(s.faults.queued)
	clear(s.faults.poolQueued)
}

// Requests returns how many requests ep has received, faulted ones included.
func (s *Server) Requests(ep Endpoint) int64 {
	if c, ok := s.faults.counts[ep]; ok {
		return c.Load()
	}
	return 0
}

// next counts a request to ep, for pool if its path names one, and returns the fault it
// must get, if any.
func (f *faults) next(ep Endpoint, pool string) (Fault, bool) {
	f.counts[ep].Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	if pool != "" {
		k := poolEndpoint{pool, ep}
		f.poolCounts[k]++
		if q := f.poolQueued[k]; len(q) > 0 {
			f.poolQueued[k] = q[1:]
			return q[0], true
		}
	}
	q := f.queued[ep]
	if len(q) == 0 {
		return Fault{}, false
	}
	f.queued[ep] = q[1:]
	return q[0], true
}

// serve applies fault to the request; it reports whether the answer was written.
func (fault Fault) serve(w http.ResponseWriter, r *http.Request) (answered bool) {
	if fault.Delay > 0 {
		t := time.NewTimer(fault.Delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
			return true
		}
	}
	if fault.Status == 0 {
		return false
	}
	for k, vs := range fault.Header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	w.WriteHeader(fault.Status)
	_, _ = w.Write([]byte(fault.Body))
	return true
}
