// Command load drives the example service stack over loopback HTTP with the
// repeated-token mix, with and without the policy middleware, and prints requests/s,
// latency percentiles and memory as a table (`make load`). With -proxy nginx it measures
// `cognitokit serve` instead, alone and behind nginx auth_request, against nginx alone
// (`make load-proxy`; see proxy.go).
//
// Everything runs in this process on 127.0.0.1: a local Cognito (pkg/cognitotest) the
// JWTAuthorizer fetches its JWKS from; the orders service's route policy
// (examples/orders/routes.yaml) around a ServeMux whose handlers answer a small JSON body;
// the same ServeMux unprotected; and the load generator, a fixed number of keep-alive
// clients each sending its next request as soon as the previous one is answered. Each
// phase is bounded by -duration and by -max-requests.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cognitokit/cognitokit/pkg/cognito"
	"github.com/cognitokit/cognitokit/pkg/cognitotest"
	"github.com/cognitokit/cognitokit/pkg/policy"
)

type config struct {
	duration     time.Duration
	window       time.Duration
	warmup       time.Duration
	routes       string
	workers      int
	maxRequests  int
	tokens       int
	mix          int
	proxy        string
	nginxConf    string
	gateways     string
	gatewayProcs int
	client       string
	nullServer   string
}

func main() {
	var cfg config
	flag.DurationVar(&cfg.duration, "duration", 30*time.Second, "load per phase")
	flag.DurationVar(&cfg.window, "window", 2*time.Second, "the phases alternate in windows this long")
	flag.DurationVar(&cfg.warmup, "warmup", 2*time.Second, "unmeasured load before each phase")
	flag.StringVar(&cfg.routes, "routes", "../examples/orders/routes.yaml", "route policy of the service")
	flag.IntVar(&cfg.workers, "c", 8, "concurrent clients (keep-alive connections)")
	flag.IntVar(&cfg.maxRequests, "max-requests", 20_000_000, "requests per phase at most")
	flag.IntVar(&cfg.tokens, "tokens", 50, "distinct tokens of the repeated-token mix")
	flag.IntVar(&cfg.mix, "mix", 10_000, "requests of the mix sequence the clients cycle through")
	flag.StringVar(&cfg.proxy, "proxy", "", "measure cognitokit serve alone and behind this proxy (nginx) instead of the middleware")
	flag.StringVar(&cfg.gateways, "gateways", "", "compare cognitokit serve with oauth2-proxy and Ory Oathkeeper behind nginx, with the configurations and pinned modules in this directory (bench/gateways)")
	flag.StringVar(&cfg.client, "client", "", clientFlagHelp+" (default go)")
	flag.IntVar(&cfg.gatewayProcs, "gateway-gomaxprocs", 0, "with -gateways: GOMAXPROCS of every gateway process (0: the Go default, the CPU count)")
	flag.StringVar(&cfg.nginxConf, "nginx-conf", "../cmd/cognitokit/testdata/proxies/nginx.conf", "with -proxy nginx: the auth_request configuration")
	flag.StringVar(&cfg.nullServer, "null-server", "", "with -gateways, internal: run as the Go server that answers every auth subrequest 200, on this address")
	flag.Parse()
	if cfg.nullServer != "" {
		fmt.Fprintln(os.Stderr, "load -null-server:", serveNull(cfg.nullServer))
		os.Exit(1)
	}
	if cfg.duration <= 0 || cfg.duration > time.Hour || cfg.window <= 0 || cfg.workers < 1 || cfg.workers > 1024 ||
		cfg.maxRequests < 1 || cfg.tokens < 1 || cfg.mix < cfg.workers {
		fmt.Fprintln(os.Stderr, "load: -duration must be in (0, 1h], -window positive, -c in [1, 1024], -max-requests and -tokens positive, -mix at least -c")
		os.Exit(2)
	}
	// Bounded whatever happens: the phases (six at most, with -gateways), their warm-ups,
	// and ten minutes to spare (building cognitokit and the peers).
	ctx, cancel := context.WithTimeout(context.Background(), 6*(cfg.duration+cfg.warmup)+10*time.Minute)
	defer cancel()
	if cfg.client == "" {
		cfg.client = "go"
		if cfg.gateways != "" {
			cfg.client = "raw"
		}
	}
	runLoad := run
	switch cfg.proxy {
	case "":
		if cfg.gateways != "" {
			runLoad = runGateways
		}
	case "nginx":
		if cfg.gateways != "" {
			fmt.Fprintln(os.Stderr, "load: -proxy and -gateways measure different stacks: choose one")
			os.Exit(2)
		}
		runLoad = runProxy
	default:
		fmt.Fprintln(os.Stderr, "load: -proxy: only nginx")
		os.Exit(2)
	}
	if err := runLoad(ctx, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(1)
	}
}

// request is one request of the mix: what the client sends, and the status the policy
// must answer (the mix holds only requests the policy allows).
type request struct {
	method, path, authorization string
	headers                     []string // more headers, name and value
}

func run(ctx context.Context, cfg config) error {
	pol, err := policy.Load(cfg.routes)
	if err != nil {
		return err
	}
	idpCfg := cognitotest.DefaultConfig()
	idpURL, idp, stopIdp, err := serveCognito(idpCfg)
	if err != nil {
		return err
	}
	defer stopIdp()
	pool := idpCfg.Pools[0]
	var clients []string
	for _, c := range pool.Clients {
		clients = append(clients, c.ID)
	}
	authz, err := cognito.NewJWTAuthorizer(cognito.JWTAuthorizerConfig{UserPoolID: pool.ID, ClientIDs: clients},
		cognito.WithEndpoint(idpURL))
	if err != nil {
		return err
	}
	if err := authz.Warm(ctx); err != nil {
		return err
	}

	mux := http.NewServeMux()
	body := []byte(`{"ok":true}` + "\n")
	for _, pattern := range pol.Routes() {
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(body)
		})
	}
	protected, stopP, err := serve(policy.Middleware(pol, authz)(mux))
	if err != nil {
		return err
	}
	defer stopP()
	open, stopO, err := serve(mux)
	if err != nil {
		return err
	}
	defer stopO()

	mix, err := requestMix(idp, pool, cfg.tokens, cfg.mix)
	if err != nil {
		return err
	}
	lc, err := newLoadClient(cfg.client, cfg.workers)
	if err != nil {
		return err
	}
	client := &http.Client{Timeout: 10 * time.Second}
	phases := []*phaseResult{
		{name: "unprotected (ServeMux only)", base: open, mix: mix},
		{name: "policy.Middleware + JWTAuthorizer", base: protected, mix: mix},
	}
	for _, ph := range phases {
		if err := checkMix(ctx, client, ph, 500); err != nil {
			return err
		}
	}

	fmt.Printf("load: GOMAXPROCS %d, %d clients (-client %s), %s per phase in alternating %s windows (after %s warm-up each), %d requests over %d tokens (Zipf), routes %s\n",
		runtime.GOMAXPROCS(0), cfg.workers, cfg.client, cfg.duration, cfg.window, cfg.warmup, len(mix), cfg.tokens, cfg.routes)
	if err := alternate(ctx, cfg, lc, phases, nil); err != nil {
		return err
	}
	printTable(os.Stdout, phases)
	return nil
}

// checkMix sends the first n requests of a phase's mix, which holds only requests the
// stack allows, so that the numbers measured are numbers of successful requests.
func checkMix(ctx context.Context, client *http.Client, ph *phaseResult, n int) error {
	for i, req := range ph.mix[:min(len(ph.mix), n)] {
		if status, err := send(ctx, client, ph.base, req); err != nil || status != http.StatusOK {
			return fmt.Errorf("%s: %s %s (mix request %d): status %d, %v", ph.name, req.method, req.path, i, status, err)
		}
	}
	return nil
}

// alternate warms every phase up, then runs the phases in turns, window by window, until
// each has had cfg.duration or cfg.maxRequests: on a shared machine, phases run one after
// the other would see different loads. measure, when not nil, is called as a phase's
// window starts, with the phase's index, and what it returns as the window ends.
func alternate(ctx context.Context, cfg config, lc loadClient, phases []*phaseResult, measure func(i int) (end func())) error {
	if cfg.warmup > 0 {
		for _, ph := range phases {
			if _, err := drive(ctx, lc, ph.base, ph.mix, cfg.workers, cfg.warmup, cfg.maxRequests); err != nil {
				return fmt.Errorf("%s: %w", ph.name, err)
			}
		}
	}
	for done := time.Duration(0); done < cfg.duration; done += cfg.window {
		w := min(cfg.window, cfg.duration-done)
		for i, ph := range phases {
			if ph.requests >= cfg.maxRequests {
				continue
			}
			runtime.GC()
			end := func() {}
			if measure != nil {
				end = measure(i)
			}
			r, err := drive(ctx, lc, ph.base, ph.mix, cfg.workers, w, cfg.maxRequests-ph.requests)
			if err != nil {
				return fmt.Errorf("%s: %w", ph.name, err)
			}
			end()
			ph.add(r)
		}
	}
	return nil
}

// serveCognito serves a local Cognito on 127.0.0.1.
func serveCognito(cfg cognitotest.Config) (string, *cognitotest.Server, func(), error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, nil, err
	}
	base := "http://" + l.Addr().String()
	idp, err := cognitotest.New(base, cfg)
	if err != nil {
		l.Close()
		return "", nil, nil, err
	}
	stop := serveOn(l, idp)
	return base, idp, stop, nil
}

// serve serves h on 127.0.0.1 and returns its base URL.
func serve(h http.Handler) (string, func(), error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	return "http://" + l.Addr().String(), serveOn(l, h), nil
}

func serveOn(l net.Listener, h http.Handler) func() {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(l) }()
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}
}

// requestMix mints tokens access tokens (machine tokens of the three clients and user
// tokens of both users, each with the scopes its client may have) and draws n requests:
// the token with a Zipf distribution, the route among those the policy allows it.
func requestMix(idp *cognitotest.Server, pool cognitotest.PoolConfig, tokens, n int) ([]request, error) {
	type minted struct {
		auth  string
		write bool
	}
	rng := rand.New(rand.NewPCG(1, 2))
	var toks []minted
	for i := range tokens {
		client := pool.Clients[i%len(pool.Clients)]
		o := cognitotest.TokenOptions{Client: client.ID, TTL: 24 * time.Hour, Scopes: client.Scopes}
		if i%3 != 0 {
			o.Username = pool.Users[i%len(pool.Users)].Username
		}
		tok, err := idp.MintAccessToken(o)
		if err != nil {
			return nil, err
		}
		toks = append(toks, minted{auth: "Bearer " + tok, write: slices.Contains(client.Scopes, "orders/write")})
	}
	zipf := rand.NewZipf(rand.New(rand.NewPCG(3, 4)), 1.1, 1, uint64(tokens-1))
	mix := make([]request, n)
	for i := range mix {
		t := toks[zipf.Uint64()]
		id := strconv.Itoa(1000 + rng.IntN(9000))
		r := request{method: "GET", path: "/orders/" + id, authorization: t.auth}
		switch p := rng.IntN(100); {
		case p < 20:
			r.path = "/me"
		case p < 35:
			r.path = "/orders/" + id + "/invoice"
		case p < 45 && t.write:
			r.method, r.path = "POST", "/orders"
		case p < 50:
			r.path, r.authorization = "/healthz", ""
		}
		mix[i] = r
	}
	return mix, nil
}

func send(ctx context.Context, client *http.Client, base string, r request) (int, error) {
	status, _, err := exchange(ctx, client, base, r)
	return status, err
}

// exchange sends r and returns the answer's status and headers, its body read and
// discarded.
func exchange(ctx context.Context, client *http.Client, base string, r request) (int, http.Header, error) {
	req, err := http.NewRequestWithContext(ctx, r.method, base+r.path, nil)
	if err != nil {
		return 0, nil, err
	}
	if r.authorization != "" {
		req.Header.Set("Authorization", r.authorization)
	}
	for i := 0; i+1 < len(r.headers); i += 2 {
		req.Header.Set(r.headers[i], r.headers[i+1])
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	return resp.StatusCode, resp.Header, nil
}

// phaseResult is what one phase measured over its windows.
type phaseResult struct {
	name, base     string
	mix            []request // what its clients send
	requests       int
	errors         int
	elapsed        time.Duration
	latencies      []time.Duration
	p50, p99, p999 time.Duration
	heapInUse      uint64 // largest after a window
	gcs            uint32
}

// windowResult is what drive measured in one window.
type windowResult struct {
	errors    int
	elapsed   time.Duration
	latencies []time.Duration
	heapInUse uint64
	gcs       uint32
}

func (p *phaseResult) add(w windowResult) {
	p.requests += len(w.latencies)
	p.errors += w.errors
	p.elapsed += w.elapsed
	p.latencies = append(p.latencies, w.latencies...)
	p.heapInUse = max(p.heapInUse, w.heapInUse)
	p.gcs += w.gcs
}

// percentiles sets p50, p99 and p99.9 from the latencies of every window.
func (p *phaseResult) percentiles() {
	if len(p.latencies) == 0 {
		return
	}
	slices.Sort(p.latencies)
	pct := func(q float64) time.Duration {
		return p.latencies[min(len(p.latencies)-1, int(q*float64(len(p.latencies))))]
	}
	p.p50, p.p99, p.p999 = pct(0.50), pct(0.99), pct(0.999)
}

// drive runs workers clients for d (or until maxRequests were sent), each cycling through
// mix from its own starting point, and measures every request.
func drive(ctx context.Context, lc loadClient, base string, mix []request, workers int, d time.Duration, maxRequests int) (windowResult, error) {
	ws := make([]worker, workers)
	for i := range ws {
		w, err := lc.open(base, mix)
		if err != nil {
			return windowResult{}, err
		}
		defer w.close()
		ws[i] = w
	}
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var budget atomic.Int64
	budget.Store(int64(maxRequests))
	lat := make([][]time.Duration, workers)
	errs := make([]int, workers)
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	start := time.Now()
	for w := range workers {
		wg.Go(func() {
			// Each client starts at its own point of the mix; the point moves with time so
			// that successive windows do not replay the same requests.
			i := (w*len(mix)/workers + int(start.UnixNano()/int64(time.Millisecond))) % len(mix)
			samples := make([]time.Duration, 0, 1<<14)
			for ctx.Err() == nil && budget.Add(-1) >= 0 {
				t0 := time.Now()
				status, err := ws[w].send(ctx, i)
				if ctx.Err() != nil {
					break // cut short by the end of the window: not a sample
				}
				samples = append(samples, time.Since(t0))
				if err != nil || status != http.StatusOK {
					errs[w]++
					once.Do(func() { firstErr = fmt.Errorf("%s %s: status %d, %v", mix[i].method, mix[i].path, status, err) })
				}
				if i++; i == len(mix) {
					i = 0
				}
			}
			lat[w] = samples
		})
	}
	wg.Wait()
	r := windowResult{elapsed: time.Since(start)}
	for w := range workers {
		r.latencies = append(r.latencies, lat[w]...)
		r.errors += errs[w]
	}
	if len(r.latencies) == 0 {
		return r, errors.New("no request completed")
	}
	if r.errors > len(r.latencies)/100 {
		return r, fmt.Errorf("%d of %d requests failed; first: %v", r.errors, len(r.latencies), firstErr)
	}
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	r.heapInUse = after.HeapInuse
	r.gcs = after.NumGC - before.NumGC
	return r, nil
}

// procRSS reads this process's resident set size and its peak from /proc (Linux); 0
// elsewhere.
func procRSS() (rss, peak uint64) { return statusRSS("/proc/self/status") }

func printTable(w io.Writer, phases []*phaseResult) {
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| phase | requests | requests/s | p50 | p99 | p99.9 | failed | GCs | heap in use (largest) |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, r := range phases {
		r.percentiles()
		fmt.Fprintf(w, "| %s | %d | %.0f | %s | %s | %s | %d | %d | %s |\n", r.name, r.requests,
			float64(r.requests)/r.elapsed.Seconds(), us(r.p50), us(r.p99), us(r.p999), r.errors, r.gcs, mib(r.heapInUse))
	}
	if len(phases) == 2 {
		open, prot := phases[0], phases[1]
		ratio := (float64(prot.requests) / prot.elapsed.Seconds()) / (float64(open.requests) / open.elapsed.Seconds())
		fmt.Fprintf(w, "\nwith the middleware: %.1f%% of the unprotected requests/s; p50 %+.0f µs, p99 %+.0f µs\n",
			100*ratio, float64(prot.p50-open.p50)/1e3, float64(prot.p99-open.p99)/1e3)
	}
	rss, peak := procRSS()
	fmt.Fprintf(w, "process memory at the end: RSS %s, peak RSS %s (service, local Cognito and load generator with its latency samples)\n",
		mib(rss), mib(peak))
}

func us(d time.Duration) string { return strconv.FormatFloat(float64(d)/1e3, 'f', 0, 64) + " µs" }

func mib(b uint64) string {
	if b == 0 {
		return "n/a"
	}
	return strconv.FormatFloat(float64(b)/(1<<20), 'f', 1, 64) + " MiB"
}
