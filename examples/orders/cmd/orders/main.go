// Command orders runs the example orders service (package orders) on its own.
//
// Configuration comes from the environment, so the same binary runs against a real user
// pool or against `cognitokit local`:
//
//	COGNITO_USER_POOL_ID   the pool whose tokens callers present (required)
//	AWS_REGION             its Region (default: the pool ID's prefix)
//	COGNITO_ENDPOINT       a Cognito-compatible base URL instead of AWS (cognitokit local)
//	COGNITO_CLIENT_ID      the service's own app client, for its outbound calls
//	COGNITO_CLIENT_SECRET  its secret
//	COGNITO_DOMAIN or COGNITO_TOKEN_URL   where it gets tokens
//	COGNITO_SCOPE          the scopes it asks for (default: all of the client's)
//	ORDERS_ADDR            listen address (default 127.0.0.1:8080)
//	ORDERS_POLICY          a route policy file to use and watch instead of the built-in
//	                       routes.yaml
//	ORDERS_REDIS_URL       the fleet's Redis (redis:// or rediss://): tokens on its
//	                       revocation list (cognitokit revoke) are refused with 401
//	                       token_revoked, within a second of being revoked
//
// With ORDERS_POLICY, changes to the file and SIGHUP reload the policy (a bad file keeps
// the old one). SIGINT or SIGTERM shut down gracefully.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cognitokit/cognitokit/examples/orders"
	"github.com/cognitokit/cognitokit/pkg/cognito"
	"github.com/cognitokit/cognitokit/pkg/policy"
	"github.com/cognitokit/cognitokit/pkg/redisstore"
)

func main() {
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(logger); err != nil {
		logger.Error("orders: " + err.Error())
		os.Exit(1)
	}
}

func run(logger *slog.Logger) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	var opts []cognito.AuthorizerOption
	if endpoint := os.Getenv("COGNITO_ENDPOINT"); endpoint != "" {
		opts = append(opts, cognito.WithEndpoint(endpoint))
	}
	opts = append(opts, cognito.WithLogger(logger))
	if url := os.Getenv("ORDERS_REDIS_URL"); url != "" {
		list, closeList, err := revocationList(ctx, url, logger)
		if err != nil {
			return err
		}
		defer closeList()
		opts = append(opts, cognito.WithRevocationList(list))
	}

	// Inbound: any client of the pool, access or ID tokens; routes.yaml narrows it down.
	authzCfg, err := cognito.JWTAuthorizerConfigFromEnv()
	if err != nil {
		return err
	}
	authzCfg.Audience, authzCfg.AllowAnyClient, authzCfg.TokenUse = "", true, cognito.TokenUseAny
	authz, err := cognito.NewJWTAuthorizer(authzCfg, opts...)
	if err != nil {
		return err
	}
	warmCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := authz.Warm(warmCtx); err != nil {
		return fmt.Errorf("loading the pool's keys: %w", err)
	}

	// Outbound: the service's own client credentials.
	ccCfg, err := cognito.ClientCredentialsConfigFromEnv()
	if err != nil {
		return err
	}
	authn, err := cognito.NewClientCredentialsAuthenticator(ccCfg, cognito.WithLogger(logger))
	if err != nil {
		return err
	}

	addr := envOr("ORDERS_ADDR", "127.0.0.1:8080")
	protect, err := middleware(ctx, logger, authz)
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	svc := orders.New(&http.Client{Transport: authn.Transport(nil), Timeout: 10 * time.Second}, "http://"+ln.Addr().String())
	mux := http.NewServeMux()
	svc.Routes(mux)
	srv := &http.Server{
		Handler:           protect(mux),
		ReadHeaderTimeout: 10 * time.Second,
	}
	logger.Info("orders listening", "addr", ln.Addr().String(), "issuer", authz.Issuer())

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancelShutdown := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancelShutdown()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// middleware enforces the built-in policy, or the ORDERS_POLICY file, reloaded when it
// changes and on SIGHUP.
func middleware(ctx context.Context, logger *slog.Logger, authz *cognito.JWTAuthorizer) (func(http.Handler) http.Handler, error) {
	opts := []policy.MiddlewareOption{policy.WithRealm("orders"), policy.WithLogger(logger)}
	file := os.Getenv("ORDERS_POLICY")
	if file == "" {
		p, err := orders.Policy()
		if err != nil {
			return nil, err
		}
		return policy.Middleware(p, authz, opts...), nil
	}
	watcher, err := policy.Watch(ctx, file,
		policy.WithOnReloadError(func(err error) { logger.Warn("policy reload failed; keeping the last good policy", "err", err) }),
		policy.WithOnReload(func(p *policy.Policy) { logger.Info("policy reloaded", "routes", len(p.Routes())) }))
	if err != nil {
		return nil, err
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		defer signal.Stop(hup)
		for {
			select {
			case <-hup:
				_ = watcher.Reload()
			case <-ctx.Done():
				return
			}
		}
	}()
	return watcher.Middleware(authz, opts...), nil
}

// revocationList is the fleet's revocation list in the Redis of url, loaded before the
// service starts answering.
func revocationList(ctx context.Context, url string, logger *slog.Logger) (*redisstore.RevocationList, func(), error) {
	o, err := redis.ParseURL(url)
	if err != nil {
		return nil, nil, errors.New("ORDERS_REDIS_URL is not a redis:// or rediss:// URL")
	}
	rdb := redis.NewClient(o)
	list, err := redisstore.NewRevocationList(rdb, redisstore.WithLogger(logger))
	if err != nil {
		_ = rdb.Close()
		return nil, nil, err
	}
	loadCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := list.Wait(loadCtx); err != nil {
		// Not fatal: the list keeps trying, and verifies on its (empty) copy meanwhile,
		// counted as stale, as it would during an outage.
		logger.Warn("revocation list not loaded yet; serving meanwhile", "err", err)
	}
	return list, func() { _ = list.Close(); _ = rdb.Close() }, nil
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
