package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cognitokit/cognitokit/pkg/cognito"
	"github.com/cognitokit/cognitokit/pkg/redisstore"
)

const revokeSynopsis = `Usage: cognitokit revoke --redis-url URL (--jti ID | --origin-jti ID | --sub SUB | --client-id ID)
                         [--issued-before RFC3339] [--issuer ISS] [--ttl D]
       cognitokit revoke --redis-url URL --list

Puts an entry on the fleet's revocation list in Redis (the list every service built with
redisstore.NewRevocationList enforces, within a second): one token (--jti), one sign-in
session (--origin-jti), every token of a user (--sub) or of an app client (--client-id)
issued at or before --issued-before (default: now). --issuer limits the entry to one
issuer; --ttl is how long it is kept (default 24h, the longest token lifetime). Prints the
entry as stored. --list prints the list, one entry per line: IDs, never tokens.

Exit 0 written, 1 Redis could not take it, 2 usage error.`

func runRevoke(ctx context.Context, e env, args []string) error {
	fs := newFlagSet("revoke", revokeSynopsis, e.stdout)
	var (
		redisURL, prefix, jti, origin, sub, client, issuer, before string
		ttl, timeout                                               time.Duration
		list, cluster                                              bool
	)
	fs.StringVar(&redisURL, "redis-url", os.Getenv("COGNITOKIT_REDIS_URL"), "Redis URL, redis:// or rediss:// (env COGNITOKIT_REDIS_URL)")
	fs.BoolVar(&cluster, "cluster", false, "Redis Cluster: --redis-url names one node (more with ?addr=host:port)")
	fs.StringVar(&prefix, "key-prefix", redisstore.DefaultKeyPrefix, "prefix of the list's Redis keys, as the services are configured")
	fs.StringVar(&jti, "jti", "", "revoke one access or ID token, by its jti")
	fs.StringVar(&origin, "origin-jti", "", "revoke every token of one sign-in session, by its origin_jti")
	fs.StringVar(&sub, "sub", "", "revoke every token of this user (sub) issued at or before --issued-before")
	fs.StringVar(&client, "client-id", "", "revoke every token of this app client issued at or before --issued-before")
	fs.StringVar(&before, "issued-before", "", "cut-off for --sub and --client-id, RFC 3339 (default: now)")
	fs.StringVar(&issuer, "issuer", "", "limit the entry to tokens of this issuer (iss)")
	fs.DurationVar(&ttl, "ttl", cognito.DefaultRevocationTTL, "how long the entry is kept")
	fs.DurationVar(&timeout, "timeout", 10*time.Second, "how long to wait for Redis")
	fs.BoolVar(&list, "list", false, "print the list instead of adding to it")
	rest, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usagef("unexpected argument %q", rest[0])
	}
	if redisURL == "" {
		return usagef("--redis-url is required (or COGNITOKIT_REDIS_URL)")
	}
	var r cognito.Revocation
	if !list {
		var kinds []string
		for _, k := range []struct {
			kind cognito.RevocationKind
			flag string
			id   string
		}{{cognito.RevokeJTI, "--jti", jti}, {cognito.RevokeOriginJTI, "--origin-jti", origin},
			{cognito.RevokeSubject, "--sub", sub}, {cognito.RevokeClient, "--client-id", client}} {
			if k.id != "" {
				kinds = append(kinds, k.flag)
				r = cognito.Revocation{Kind: k.kind, ID: k.id, Issuer: issuer}
			}
		}
		if len(kinds) != 1 {
			return usagef("give exactly one of --jti, --origin-jti, --sub, --client-id (or --list)")
		}
		if before != "" {
			if r.Kind != cognito.RevokeSubject && r.Kind != cognito.RevokeClient {
				return usagef("--issued-before goes with --sub or --client-id")
			}
			t, err := time.Parse(time.RFC3339, before)
			if err != nil {
				return usagef("--issued-before: %v", err)
			}
			r.IssuedBefore = t
		}
		if ttl <= 0 {
			return usagef("--ttl must be positive")
		}
	} else if jti+origin+sub+client+before != "" {
		return usagef("--list takes no entry")
	}
	rdb, err := redisClient(redisURL, cluster)
	if err != nil {
		return usagef("--redis-url: %v", err)
	}
	defer rdb.Close()
	rl, err := redisstore.NewRevocationList(rdb, redisstore.WithKeyPrefix(prefix), redisstore.WithRevocationTTL(ttl),
		redisstore.WithTimeout(timeout))
	if err != nil {
		return err
	}
	defer rl.Close()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := rl.Wait(ctx); err != nil {
		return fmt.Errorf("loading the list from Redis: %w", err)
	}
	if list {
		for _, e2 := range rl.List() {
			fmt.Fprintln(e.stdout, describeRevocation(e2))
		}
		return nil
	}
	done, err := rl.Revoke(ctx, r)
	if err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, "revoked:", describeRevocation(done[0]))
	return nil
}

// redisClient connects to the Redis of rawURL: one server, or a Cluster.
func redisClient(rawURL string, cluster bool) (redis.UniversalClient, error) {
	if cluster {
		o, err := redis.ParseClusterURL(rawURL)
		if err != nil {
			return nil, redactURLError(err, rawURL)
		}
		return redis.NewClusterClient(o), nil
	}
	o, err := redis.ParseURL(rawURL)
	if err != nil {
		return nil, redactURLError(err, rawURL)
	}
	return redis.NewClient(o), nil
}

// redactURLError keeps a Redis password out of an error that quotes the URL.
func redactURLError(err error, rawURL string) error {
	msg := err.Error()
	if i := strings.Index(rawURL, "@"); i >= 0 {
		msg = strings.ReplaceAll(msg, rawURL[:i], "<redacted>")
	}
	return errors.New(msg)
}

// describeRevocation is one line about an entry: kind, ID, issuer, cut-off and expiry.
func describeRevocation(r cognito.Revocation) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", r.Kind, r.ID)
	if r.Issuer != "" {
		fmt.Fprintf(&b, " issuer=%s", r.Issuer)
	}
	if !r.IssuedBefore.IsZero() {
		fmt.Fprintf(&b, " issued_before=%s", r.IssuedBefore.UTC().Format(time.RFC3339Nano))
	}
	fmt.Fprintf(&b, " expires=%s", r.Expires.UTC().Format(time.RFC3339))
	return b.String()
}
