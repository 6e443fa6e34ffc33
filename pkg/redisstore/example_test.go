package redisstore_test

import (
	"crypto/tls"
	"fmt"
	"log"
	"log/slog"
	"net/http"
	"os"

	"github.com/redis/go-redis/v9"

	"github.com/cognitokit/cognitokit/pkg/cognito"
	"github.com/cognitokit/cognitokit/pkg/redisstore"
)

// Every instance of the service builds its authenticator this way: they share one token,
// and one of them at a time requests a new one. (Not run: it needs a Redis; the tests run
// the same setup against a real redis-server.)
func Example() {
	rdb := redis.NewClient(&redis.Options{
		Addr:      "redis.internal:6379",
		Username:  "orders-service", // an ACL user limited to the key prefix
		Password:  os.Getenv("REDIS_PASSWORD"),
		TLSConfig: &tls.Config{MinVersion: tls.VersionTLS12},
	})
	store, err := redisstore.New(rdb,
		redisstore.WithKeyPrefix("orders-service:"),
		redisstore.WithLogger(slog.Default()))
	if err != nil {
		log.Fatal(err)
	}
	cfg, err := cognito.ClientCredentialsConfigFromEnv()
	if err != nil {
		log.Fatal(err)
	}
	auth, err := cognito.NewClientCredentialsAuthenticator(cfg,
		cognito.WithTokenStore(store),
		cognito.WithLogger(slog.Default()))
	if err != nil {
		log.Fatal(err)
	}
	client := &http.Client{Transport: auth.Transport(nil)}
	_ = client // calls other services with the fleet's token

	// Export these as metrics: fallbacks mean Redis is failing the fleet.
	s := store.Stats()
	fmt.Println(s.Hits, s.Misses, s.Locks, s.LockWaits, s.Fallbacks)
}
