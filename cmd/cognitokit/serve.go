package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/cognitokit/cognitokit/internal/forwardauth"
	"github.com/cognitokit/cognitokit/internal/forwardauth/extauthz"
	"github.com/cognitokit/cognitokit/pkg/cognito"
	"github.com/cognitokit/cognitokit/pkg/policy"
	"github.com/cognitokit/cognitokit/pkg/redisstore"
)

const serveSynopsis = `Usage: cognitokit serve --listen ADDR --policy FILE [pool flags] [flags]
       cognitokit serve --config FILE [flags]

Answers reverse proxies that ask before forwarding a request, with the decision the Go
middleware (pkg/policy) makes for that request under the same policy file:

  /auth/nginx      nginx auth_request and ingress-nginx: X-Original-Method, X-Original-URI
                   (or X-Original-URL), X-Forwarded-Host or Host
  /auth/forward    Traefik forwardAuth, Caddy forward_auth: X-Forwarded-Method,
                   X-Forwarded-Uri, X-Forwarded-Host or Host
  /auth/envoy/...  Envoy ext_authz HTTP service (path_prefix: /auth/envoy): the original
                   method, path and Host as sent
  --grpc-listen    Envoy ext_authz gRPC service (envoy.service.auth.v3.Authorization/Check)
  /healthz         200 while the process runs
  /readyz          200 when the policy is loaded and the pool's keys are usable
  /metrics         the OpenTelemetry instruments in Prometheus text format

Allowed: 200 with identity headers (X-Auth-Request-User, -Email, -Username, -Groups,
-Scopes, -Client-Id, -Token-Use, -Pool). No or invalid token: 401 with the RFC 6750
challenge. Refused by the policy: 403. Keys unavailable: 503 with Retry-After. A request
that describes no original request: 400. Forwarded headers are believed only from
--trusted-proxy peers (default loopback); any other peer is judged on its own request.

Starts only when the policy loads and the pool's keys are loaded (else says why, exit 2).
Reloads the policy when its file changes and on SIGHUP, keeping the last good one. On
SIGTERM or SIGINT, stops accepting and lets requests in flight finish.

--config FILE is a YAML mapping whose keys are these flags' names (without dashes in
front); a repeatable flag takes a list. Flags on the command line win over the file, and
the policy and jwks-file paths are relative to the file:

  listen: 127.0.0.1:9191
  policy: routes.yaml
  user-pool-id: eu-west-1_AbCdEf123
  client-id: [1example23456789, 2example34567890]
  trusted-proxy: [10.0.0.0/8]
  header: [X-Auth-Request-Tenant=custom:tenant]`

// serveFlags are serve's own flags; the pool flags are verify's.
type serveFlags struct {
	pool            authorizerFlags
	listen, policy  string
	grpcListen      string
	grpcRemoveAuthz bool
	realm, logLevel string
	config          string
	redisURL        string
	redisCluster    bool
	trusted         stringList
	headers         stringList
	warmTimeout     time.Duration
	shutdownTimeout time.Duration
}

func (f *serveFlags) register(fs *flag.FlagSet) {
	f.pool.registerPool(fs)
	// The policy says which routes take which tokens (token_use in the file), so the
	// verifier accepts both unless told otherwise.
	f.pool.tokenUse = "any"
	fs.Lookup("token-use").DefValue = "any"
	fs.StringVar(&f.listen, "listen", "", "address to answer proxies on, such as 127.0.0.1:9191 (required)")
	fs.StringVar(&f.policy, "policy", "", "route policy file, as for the Go middleware (required)")
	fs.StringVar(&f.grpcListen, "grpc-listen", "", "address to answer Envoy's gRPC ext_authz on (default: none)")
	fs.BoolVar(&f.grpcRemoveAuthz, "grpc-remove-authorization", false, "gRPC ext_authz: have Envoy drop the Authorization header of allowed requests")
	fs.Var(&f.trusted, "trusted-proxy", "CIDR or address of a proxy whose forwarded headers are believed (repeatable; default 127.0.0.0/8 and ::1)")
	fs.Var(&f.headers, "header", "identity header NAME=CLAIM sent on allowed requests, added to the defaults; NAME= removes a default (repeatable)")
	fs.StringVar(&f.realm, "realm", "api", "realm of the WWW-Authenticate challenges")
	fs.StringVar(&f.config, "config", "", "YAML file of these flags")
	fs.StringVar(&f.redisURL, "redis-url", os.Getenv("COGNITOKIT_REDIS_URL"), "enforce the fleet's revocation list in this Redis (redis:// or rediss://; env COGNITOKIT_REDIS_URL), as cognitokit revoke writes it")
	fs.BoolVar(&f.redisCluster, "redis-cluster", false, "--redis-url names a Redis Cluster")
	fs.StringVar(&f.logLevel, "log-level", "info", "debug (each denial), info, warn or error")
	fs.DurationVar(&f.warmTimeout, "warm-timeout", 30*time.Second, "how long to wait for the pool's keys at start-up")
	fs.DurationVar(&f.shutdownTimeout, "shutdown-timeout", 30*time.Second, "how long requests in flight may take to finish after SIGTERM")
}

// serveVerifier is what serve needs of the token verifier: Verify for decisions, and Warm
// to load the keys at start-up and to answer /readyz (Warm returns at once while they
// are loaded).
type serveVerifier interface {
	policy.Verifier
	Warm(ctx context.Context) error
}

// serveRevocations is the fleet's revocation list in the Redis of rawURL, loaded before
// serve answers: a token revoked with cognitokit revoke is refused (401 token_revoked)
// within a second on every instance.
func serveRevocations(ctx context.Context, rawURL string, cluster bool, wait time.Duration, logger *slog.Logger) (cognito.RevocationList, func(), error) {
	rdb, err := redisClient(rawURL, cluster)
	if err != nil {
		return nil, nil, usagef("--redis-url: %v", err)
	}
	list, err := redisstore.NewRevocationList(rdb, redisstore.WithLogger(logger))
	if err != nil {
		_ = rdb.Close()
		return nil, nil, usageError{err}
	}
	closeAll := func() { _ = list.Close(); _ = rdb.Close() }
	loadCtx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	if err := list.Wait(loadCtx); err != nil {
		closeAll()
		return nil, nil, usagef("the revocation list cannot be loaded from Redis: %s", oneLine(err))
	}
	return list, closeAll, nil
}

// newServeVerifier is the verifier serve decides with, from the pool flags: one pool, or
// several with --pools; fs is the parsed flag set.
func newServeVerifier(f *authorizerFlags, fs *flag.FlagSet, opts ...cognito.AuthorizerOption) (serveVerifier, error) {
	return f.authorizer(fs, opts...)
}

func runServe(ctx context.Context, e env, args []string) error {
	fs := newFlagSet("serve", serveSynopsis, e.stdout)
	var f serveFlags
	f.register(fs)
	rest, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usagef("unexpected argument %q", rest[0])
	}
	if f.config != "" {
		if err := applyConfigFile(fs, f.config); err != nil {
			return usageError{err}
		}
	}
	if f.listen == "" || f.policy == "" {
		return usagef("--listen and --policy are required (or in --config)")
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(f.logLevel)); err != nil {
		return usagef("--log-level: %v", err)
	}
	logger := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: level}))
	trusted, err := parseTrustedProxies(f.trusted)
	if err != nil {
		return usageError{err}
	}
	headers, err := identityHeaders(f.headers)
	if err != nil {
		return usageError{err}
	}
	metrics, err := newServeMetrics()
	if err != nil {
		return err
	}
	defer metrics.shutdown()
	verifierOpts := []cognito.AuthorizerOption{cognito.WithMeterProvider(metrics.provider)}
	if f.redisURL != "" {
		list, closeList, err := serveRevocations(ctx, f.redisURL, f.redisCluster, f.warmTimeout, logger)
		if err != nil {
			return err
		}
		defer closeList()
		verifierOpts = append(verifierOpts, cognito.WithRevocationList(list))
	}
	verifier, err := newServeVerifier(&f.pool, fs, verifierOpts...)
	if err != nil {
		return err
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	watcher, err := policy.Watch(ctx, f.policy,
		policy.WithOnReload(func(p *policy.Policy) {
			logger.Info("policy reloaded", "file", p.Name(), "routes", len(p.Routes()))
			warnPolicy(logger, p)
		}),
		policy.WithOnReloadError(func(err error) {
			logger.Warn("policy reload failed; the previous policy stays in force", "error", oneLine(err))
		}))
	if err != nil {
		return usageError{err}
	}
	warnPolicy(logger, watcher.Policy())
	warmCtx, cancelWarm := context.WithTimeout(ctx, f.warmTimeout)
	err = verifier.Warm(warmCtx)
	cancelWarm()
	if err != nil {
		return usagef("the pool's keys cannot be loaded, so no token could be judged: %s", oneLine(err))
	}
	decider, err := forwardauth.New(forwardauth.Config{
		Guard: watcher, Verifier: verifier, TrustedProxies: trusted, Headers: headers, Realm: f.realm, Logger: logger,
		Options: []policy.MiddlewareOption{policy.WithMeterProvider(metrics.provider)},
	})
	if err != nil {
		return usageError{err}
	}
	ln, err := net.Listen("tcp", f.listen)
	if err != nil {
		return usageError{err}
	}
	defer ln.Close()
	grpcSrv, grpcAddr, err := listenGRPC(f.grpcListen, decider, extauthz.Options{RemoveAuthorization: f.grpcRemoveAuthz, Headers: headers})
	if err != nil {
		return usageError{err}
	}

	var draining atomic.Bool
	ops := http.NewServeMux()
	ops.Handle("GET /metrics", metrics.handler)
	ops.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	ops.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		rctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		switch {
		case draining.Load(): // asked on a connection kept open across SIGTERM

			http.Error(w, "shutting down", http.StatusServiceUnavailable)
		case watcher.Policy() == nil:
			http.Error(w, "no policy loaded", http.StatusServiceUnavailable)
		case verifier.Warm(rctx) != nil:
			http.Error(w, "the pool's keys are unavailable", http.StatusServiceUnavailable)
		default:
			fmt.Fprintln(w, "ready")
		}
	})
	hs := &http.Server{
		Handler:           decider.Handler(ops),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    maxServeHeaderBytes,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelDebug),
	}

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				logger.Info("SIGHUP: reloading the policy")
				_ = watcher.Reload() // logged by the callbacks
			}
		}
	}()

	errc := make(chan error, 2)
	go func() { errc <- hs.Serve(ln) }()
	attrs := []any{"addr", "http://" + ln.Addr().String()}
	if grpcSrv != nil {
		go func() { errc <- grpcSrv.serve() }()
		attrs = append(attrs, "grpc", grpcAddr)
	}
	logger.Info("serving", append(attrs, "policy", f.policy, "routes", len(watcher.Policy().Routes()))...)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	draining.Store(true)
	logger.Info("shutting down: finishing the requests in flight", "timeout", f.shutdownTimeout)
	shutdownCtx, cancelShutdown := context.WithTimeout(context.Background(), f.shutdownTimeout)
	defer cancelShutdown()
	if grpcSrv != nil {
		go grpcSrv.stop(shutdownCtx)
	}
	if err := hs.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutting down: %w", err)
	}
	if grpcSrv != nil {
		if err := grpcSrv.wait(shutdownCtx); err != nil {
			return fmt.Errorf("shutting down: %w", err)
		}
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	logger.Info("stopped")
	return nil
}

// maxServeHeaderBytes bounds a request's headers: a Cognito ID token with many groups is
// a few KB, an original URI at most forwardauth.MaxTargetLength.
const maxServeHeaderBytes = 64 << 10

func warnPolicy(logger *slog.Logger, p *policy.Policy) {
	for _, w := range p.Warnings() {
		logger.Warn("policy warning", "warning", w.Error())
	}
}

// parseTrustedProxies parses CIDRs or bare addresses; none means forwardauth's default
// (loopback).
func parseTrustedProxies(list []string) ([]netip.Prefix, error) {
	if len(list) == 0 {
		return nil, nil
	}
	out := make([]netip.Prefix, 0, len(list))
	for _, s := range list {
		s = strings.TrimSpace(s)
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("--trusted-proxy %q: not a CIDR or an IP address", s)
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
}

// identityHeaders is the default identity headers with the --header changes: NAME=CLAIM
// adds or replaces NAME, NAME= removes it. Nil when there are no changes.
func identityHeaders(changes []string) ([]forwardauth.IdentityHeader, error) {
	if len(changes) == 0 {
		return nil, nil
	}
	out := append([]forwardauth.IdentityHeader(nil), forwardauth.DefaultHeaders()...)
	for _, c := range changes {
		name, claim, ok := strings.Cut(c, "=")
		if ok && strings.TrimSpace(claim) == "" {
			name = http.CanonicalHeaderKey(strings.TrimSpace(name))
			out = removeHeader(out, name)
			continue
		}
		h, err := forwardauth.ParseIdentityHeader(c)
		if err != nil {
			return nil, fmt.Errorf("--header: %w", err)
		}
		out = append(removeHeader(out, http.CanonicalHeaderKey(h.Name)), h)
	}
	return append([]forwardauth.IdentityHeader{}, out...), nil
}

func removeHeader(list []forwardauth.IdentityHeader, canonical string) []forwardauth.IdentityHeader {
	out := list[:0:0]
	for _, h := range list {
		if http.CanonicalHeaderKey(h.Name) != canonical {
			out = append(out, h)
		}
	}
	return out
}
