// Package redisstore shares client-credentials tokens across a fleet through Redis: a
// [cognito.TokenStore] and [cognito.CoalescingStore] for
// [cognito.ClientCredentialsAuthenticator], so that every instance of a service uses one
// token per app client and one instance at a time requests a new one.
//
//	rdb := redis.NewClient(&redis.Options{Addr: "redis:6379", TLSConfig: &tls.Config{}})
//	store, err := redisstore.New(rdb, redisstore.WithKeyPrefix("orders-service:"))
//	auth, err := cognito.NewClientCredentialsAuthenticator(cfg, cognito.WithTokenStore(store))
//
// It also shares a revocation list ([RevocationList], for [cognito.WithRevocationList]):
// every instance holds the whole list in memory and applies each revocation within
// milliseconds, through pub/sub; see the type's doc.
//
// It lives in its own package so that pkg/cognito does not depend on go-redis.
//
// # What it does
//
// Each authenticator still keeps its token in memory and serves it from there; Redis is
// read only when that copy is missing or due for a refresh. Then one instance takes a
// lock in Redis (with a random fence value, in the same round trip as reading the token),
// uses the stored token if it is fresh or requests a new one, and, in a second round
// trip, stores it, releases the lock if it still holds it, and hands the token to the
// instances that found the lock taken and wait for it. A cold fleet makes one token
// request and each instance two Redis round trips. If the holder dies, its lock expires
// after the lock TTL and another instance takes over; a holder renews its lock while it
// fetches.
//
// A stored token carries its own expiry and issue instants; its Redis TTL is its fresh
// window, but nothing depends on Redis expiring it: the authenticators check those
// instants themselves. A token is never replaced by one that expires earlier.
//
// # Failures
//
// Redis failing, or answering later than the per-call timeout, never fails a caller: the
// store returns an error matching [ErrUnavailable], the authenticator logs it and fetches
// its token on its own, and the store leaves Redis alone for a cooldown so that further
// misses do not wait for timeouts. The store logs when Redis becomes unavailable and when
// it answers again; [Store.Stats] counts fallbacks, lock waits, hits and misses.
//
// # Security
//
// The stored value holds the access token, its type, scope, expiry and issue time —
// never the client secret; keys hold the client ID and a truncated hash
// ([cognito.TokenKey]). But an access token is a bearer credential: whoever can read the
// Redis keys can call your downstream services as your app client until the token
// expires, and whoever can write them can make your instances send a token of their
// choosing, or hold the lock to slow the fleet down to its fallback. The Redis instance
// must be as trusted as the service itself: require authentication (ACL user limited to
// the key prefix), use TLS (go-redis's Options.TLSConfig), and do not share it with
// less trusted tenants.
package redisstore
