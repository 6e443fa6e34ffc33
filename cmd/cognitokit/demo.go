package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"go.opentelemetry.io/otel/metric"

	"github.com/cognitokit/cognitokit/examples/orders"
	"github.com/cognitokit/cognitokit/internal/forwardauth"
	"github.com/cognitokit/cognitokit/pkg/cognito"
	"github.com/cognitokit/cognitokit/pkg/cognitotest"
	"github.com/cognitokit/cognitokit/pkg/policy"
)

const demoSynopsis = `Usage: cognitokit demo

Runs the whole SDK against a local Cognito, on free loopback ports: starts the local
Cognito and the example orders service (examples/orders, protected by its routes.yaml),
fetches client-credentials tokens for three app clients with different scopes through the
authenticator, mints ID tokens for two users and an expired token, calls every route of
the service with each token and with none, and prints a table: route, caller, status,
reason, and whether that matched the expectation written in the demo, then a summary of
the run's OpenTelemetry metrics (token requests, JWKS fetches, cache use, decisions by
outcome); --metrics prints every series. Exits 0 only if every row matched.

With --proxy nginx (or caddy), the same table goes through that real reverse proxy, with
its configuration of docs/proxies: the proxy asks cognitokit serve about every request,
and the service behind it has no middleware of its own, only the caller's identity from
the proxy's X-Auth-Request-* headers. The proxy must be installed.`

// caller is one identity the demo calls the service as.
type caller struct {
	name  string
	token string // "" for no token
}

// call is one row of the demo: a request and the answer the policy must give each caller.
type call struct {
	method, path string
	body         string
	want         map[string]int // caller → status; missing callers get wantOthers
	wantOthers   int
}

func runDemo(ctx context.Context, e env, args []string) error {
	fs := newFlagSet("demo", demoSynopsis, e.stdout)
	all := fs.Bool("metrics", false, "print every metric series of the run after the summary")
	proxy := fs.String("proxy", "", "run the table through this reverse proxy, asking cognitokit serve: nginx or caddy")
	rest, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usagef("unexpected argument %q", rest[0])
	}
	if _, ok := proxyKinds[*proxy]; *proxy != "" && !ok {
		return usagef("--proxy: want nginx or caddy, not %q", *proxy)
	}
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	start := time.Now()
	metrics := newRunMetrics()
	mp := metrics.provider

	// 1. A local Cognito.
	idp, idpLn, err := listenLocal("127.0.0.1:0", cognitotest.DefaultConfig())
	if err != nil {
		return err
	}
	stopIDP := serveInBackground(idpLn, idp)
	defer stopIDP()
	pool := idp.Pools()[0]
	fmt.Fprintf(e.stderr, "local Cognito   %s (pool %s)\n", idp.BaseURL(), pool.ID)

	// 2. The example service, verifying that pool's tokens and calling itself as the
	// orders-admin client.
	authz, err := cognito.NewJWTAuthorizer(cognito.JWTAuthorizerConfig{
		UserPoolID: pool.ID, AllowAnyClient: true, TokenUse: cognito.TokenUseAny,
	}, cognito.WithEndpoint(idp.BaseURL()), cognito.WithMeterProvider(mp))
	if err != nil {
		return err
	}
	if err := authz.Warm(ctx); err != nil {
		return err
	}
	self, _ := pool.Client("orders-admin")
	outbound, err := authenticator(idp, self, mp)
	if err != nil {
		return err
	}
	p, err := orders.Policy()
	if err != nil {
		return err
	}
	svcLn, err := listen()
	if err != nil {
		return err
	}
	svcURL := "http://" + svcLn.Addr().String()
	outboundClient := &http.Client{Transport: outbound.Transport(nil), Timeout: 10 * time.Second}
	if *proxy == "" {
		svc := orders.New(outboundClient, svcURL)
		stopSvc := serveInBackground(svcLn, svc.Handler(p, authz, policy.WithRealm("orders"), policy.WithMeterProvider(mp)))
		defer stopSvc()
		fmt.Fprintf(e.stderr, "orders service  %s (%d routes in examples/orders/routes.yaml)\n", svcURL, len(p.Routes()))
	} else {
		proxyURL, stop, err := demoBehindProxy(e, *proxy, svcLn, outboundClient, p, authz)
		if err != nil {
			return err
		}
		defer stop()
		svcURL = proxyURL
	}

	// 3. Callers: three app clients through the authenticator, two users, an expired
	// token, and nobody.
	callers := []caller{{name: "(no token)"}}
	for _, name := range []string{"orders-reader", "orders-writer", "orders-admin"} {
		c, _ := pool.Client(name)
		a, err := authenticator(idp, c, mp)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stderr, "token for %-14s scopes %s\n", name, strings.Join(c.Scopes, " "))
		tok, err := a.GetToken(ctx)
		if err != nil {
			return fmt.Errorf("token for %s: %w", name, err)
		}
		callers = append(callers, caller{name: name, token: tok.Token})
	}
	for _, user := range []string{"alice", "bob"} {
		tok, err := idp.MintIDToken(cognitotest.TokenOptions{Username: user, Client: "orders-reader"})
		if err != nil {
			return err
		}
		callers = append(callers, caller{name: user + " (ID token)", token: tok})
	}
	expired, err := idp.MintAccessToken(cognitotest.TokenOptions{Client: "orders-admin", IssuedAt: time.Now().Add(-2 * time.Hour)})
	if err != nil {
		return err
	}
	callers = append(callers, caller{name: "expired", token: expired})

	// 4. Every route with every caller.
	rows, failed, err := runCalls(ctx, svcURL, callers, demoCalls())
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ROUTE\tCALLER\tSTATUS\tREASON\tEXPECTED\tMATCH")
	for _, r := range rows {
		fmt.Fprintln(tw, r)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "\n%d requests, %d matched the expectation, %d did not; token requests to Cognito: %d; %.1fs\n",
		len(rows), len(rows)-failed, failed, idp.Requests(cognitotest.EndpointToken), time.Since(start).Seconds())
	fmt.Fprintln(e.stdout)
	if err := metrics.summary(ctx, e.stdout); err != nil {
		return err
	}
	if *all {
		fmt.Fprintln(e.stdout)
		if err := metrics.print(ctx, e.stdout); err != nil {
			return err
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d requests did not get the expected answer", failed, len(rows))
	}
	return nil
}

func authenticator(idp *cognitotest.Server, c cognitotest.AppClient, mp metric.MeterProvider) (*cognito.ClientCredentialsAuthenticator, error) {
	return cognito.NewClientCredentialsAuthenticator(cognito.ClientCredentialsConfig{
		ClientID: c.ID, ClientSecret: c.Secret, TokenURL: idp.TokenURL(),
	}, cognito.WithMeterProvider(mp))
}

// demoCalls are the expectations: what routes.yaml must answer each caller.
func demoCalls() []call {
	const (
		none, reader, writer, admin = "(no token)", "orders-reader", "orders-writer", "orders-admin"
		alice, bob, expired         = "alice (ID token)", "bob (ID token)", "expired"
	)
	// Access-token routes refuse ID tokens (403) and expired or missing tokens (401).
	access := func(reader, writer, admin int) map[string]int {
		return map[string]int{none: 401, expired: 401, alice: 403, bob: 403,
			"orders-reader": reader, "orders-writer": writer, "orders-admin": admin}
	}
	idRoute := func(alice, bob int) map[string]int {
		return map[string]int{none: 401, expired: 401, "alice (ID token)": alice, "bob (ID token)": bob}
	}
	return []call{
		{method: "GET", path: "/healthz", wantOthers: 200},
		{method: "GET", path: "/me", want: access(200, 200, 200)},
		{method: "GET", path: "/orders/1", want: access(200, 200, 200)},
		{method: "POST", path: "/orders", body: `{"item":"tnt","tenant":"acme","cents":100}`, want: access(403, 201, 201)},
		{method: "GET", path: "/orders/1/invoice", want: access(200, 200, 200)},
		{method: "GET", path: "/internal/prices/1", want: access(403, 403, 200)},
		{method: "GET", path: "/reports/daily", want: access(403, 200, 200)},
		{method: "DELETE", path: "/orders/3", want: access(403, 403, 204)},
		{method: "GET", path: "/tenants/acme/orders", want: idRoute(200, 403), wantOthers: 403},
		{method: "GET", path: "/tenants/globex/orders", want: idRoute(403, 200), wantOthers: 403},
		{method: "GET", path: "/admin/", want: idRoute(200, 403), wantOthers: 403},
		{method: "GET", path: "/nowhere", wantOthers: 403},
	}
}

// runCalls makes every call as every caller and returns the table rows and how many did
// not match.
func runCalls(ctx context.Context, baseURL string, callers []caller, calls []call) ([]string, int, error) {
	client := &http.Client{Timeout: 10 * time.Second}
	var rows []string
	failed := 0
	for _, c := range calls {
		for _, who := range callers {
			want, ok := c.want[who.name]
			if !ok {
				want = c.wantOthers
			}
			var body io.Reader
			if c.body != "" {
				body = strings.NewReader(c.body)
			}
			req, err := http.NewRequestWithContext(ctx, c.method, baseURL+c.path, body)
			if err != nil {
				return nil, 0, err
			}
			if who.token != "" {
				req.Header.Set("Authorization", "Bearer "+who.token)
			}
			resp, err := client.Do(req)
			if err != nil {
				return nil, 0, fmt.Errorf("%s %s: %w", c.method, c.path, err)
			}
			reason := answerReason(resp)
			resp.Body.Close()
			match := "yes"
			if resp.StatusCode != want {
				match = fmt.Sprintf("NO (want %d)", want)
				failed++
			}
			rows = append(rows, fmt.Sprintf("%s %s\t%s\t%d\t%s\t%d\t%s", c.method, c.path, who.name, resp.StatusCode, reason, want, match))
		}
	}
	return rows, failed, nil
}

// answerReason is the problem code of a refusal ("insufficient_scope", "invalid_token:
// expired", ...) or "ok".
func answerReason(resp *http.Response) string {
	if resp.StatusCode < 400 {
		return "ok"
	}
	var problem struct {
		Code       string `json:"code"`
		TokenError string `json:"token_error"`
	}
	if json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&problem) != nil || problem.Code == "" {
		return http.StatusText(resp.StatusCode)
	}
	if problem.TokenError != "" {
		return problem.Code + ": " + problem.TokenError
	}
	return problem.Code
}

// demoBehindProxy serves the orders service on svcLn without its middleware, trusting
// the proxy's identity headers, starts cognitokit serve's decider and the proxy in front
// of both, and returns the proxy's URL, through which the service also calls itself.
func demoBehindProxy(e env, kind string, svcLn net.Listener, outbound *http.Client, p *policy.Policy, authz *cognito.JWTAuthorizer) (string, func(), error) {
	var stops []func()
	stop := func() {
		for i := len(stops) - 1; i >= 0; i-- {
			stops[i]()
		}
	}
	fail := func(err error) (string, func(), error) { stop(); svcLn.Close(); return "", nil, err }
	proxyLn, err := listen() // reserves a free port for the proxy
	if err != nil {
		return fail(err)
	}
	proxyAddr := proxyLn.Addr().String()
	proxyLn.Close()
	proxyURL := "http://" + proxyAddr

	svc := orders.New(outbound, proxyURL)
	mux := http.NewServeMux()
	svc.Routes(mux)
	stops = append(stops, serveInBackground(svcLn, identityFromProxy(mux)))

	d, err := forwardauth.New(forwardauth.Config{Guard: forwardauth.Static(p), Verifier: authz, Realm: "orders"})
	if err != nil {
		return fail(err)
	}
	serveLn, err := listen()
	if err != nil {
		return fail(err)
	}
	stops = append(stops, serveInBackground(serveLn, d.Handler(http.NotFoundHandler())))

	dir, err := os.MkdirTemp("", "cognitokit-demo-"+kind)
	if err != nil {
		return fail(err)
	}
	stops = append(stops, func() { os.RemoveAll(dir) })
	px, err := startProxy(kind, dir, proxyAddr, serveLn.Addr().String(), svcLn.Addr().String(), 30*time.Second)
	if err != nil {
		return fail(err)
	}
	stops = append(stops, px.Stop)
	fmt.Fprintf(e.stderr, "cognitokit serve http://%s (examples/orders/routes.yaml, %d routes)\n", serveLn.Addr(), len(p.Routes()))
	fmt.Fprintf(e.stderr, "orders service  http://%s, without middleware: it reads X-Auth-Request-*\n", svcLn.Addr())
	fmt.Fprintf(e.stderr, "%-15s %s, configured as docs/proxies/%s.md shows\n", kind, proxyURL, kind)
	return proxyURL, stop, nil
}

// identityFromProxy puts the caller the proxy names in X-Auth-Request-* headers into
// the request context, as the policy middleware would have: how a service behind
// cognitokit serve learns who calls. It must only ever be reached through the proxy,
// which removes client-sent copies of those headers.
func identityFromProxy(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := r.Header
		if sub := h.Get("X-Auth-Request-User"); sub != "" {
			raw := map[string]any{"sub": sub, "token_use": h.Get("X-Auth-Request-Token-Use")}
			if raw["token_use"] == "id" {
				raw["cognito:username"], raw["aud"] = h.Get("X-Auth-Request-Username"), h.Get("X-Auth-Request-Client-Id")
			} else {
				raw["username"], raw["client_id"], raw["scope"] = h.Get("X-Auth-Request-Username"), h.Get("X-Auth-Request-Client-Id"), h.Get("X-Auth-Request-Scopes")
			}
			if email := h.Get("X-Auth-Request-Email"); email != "" {
				raw["email"] = email
			}
			if groups := h.Get("X-Auth-Request-Groups"); groups != "" {
				var list []any
				for _, g := range strings.Split(groups, ",") {
					list = append(list, g)
				}
				raw["cognito:groups"] = list
			}
			if c, err := cognito.NewClaims(raw); err == nil {
				r = r.WithContext(policy.ContextWithClaims(r.Context(), c))
			}
		}
		next.ServeHTTP(w, r)
	})
}
