package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/cognitokit/cognitokit/pkg/cognito"
)

const verifySynopsis = `Usage: cognitokit verify [flags] [TOKEN|-]

Verifies a Cognito access or ID token: signature against the user pool's JWKS (fetched, or
--jwks-file offline), issuer, token_use, client, exp/nbf/iat with leeway, and any required
scopes and groups. --pools FILE accepts the tokens of several pools instead, each with its
own settings (a YAML list; see docs/cli.md); the pool a token verified for is then
printed on stderr ("pool: <id>"), or as "user_pool_id" in batch results. One TOKEN: prints the claims as JSON; exit 0 valid, 1 invalid (reason
code and message on stderr), 2 usage or configuration error.

With "-" or no TOKEN, reads tokens from stdin, one per line, and writes one JSON object per
line in the same order: {"line":N,"valid":true,"claims":{...}} or
{"line":N,"valid":false,"error":"<reason code>","message":"..."}; exit 0 if every token was
valid, 1 otherwise. --metrics prints the OpenTelemetry metrics of the run (verifications by
outcome, JWKS fetches) on stderr.`

// authorizerFlags are the flags that configure a JWTAuthorizer, shared by verify and
// policy explain.
type authorizerFlags struct {
	pool, region, endpoint, jwksFile, tokenUse, poolsFile string
	clients, scopes, groups                               stringList
	anyClient                                             bool
	leeway                                                time.Duration
}

func (f *authorizerFlags) register(fs *flag.FlagSet) {
	f.registerPool(fs)
	fs.Var(&f.scopes, "scope", "required scope; the token needs at least one of those given (repeatable)")
	fs.Var(&f.groups, "group", "required group; the user must be in at least one of those given (repeatable)")
}

// registerPool registers the flags that say which tokens are genuine (pool, clients,
// token use, keys, leeway), without verify's required scopes and groups: serve takes
// those from its policy.
func (f *authorizerFlags) registerPool(fs *flag.FlagSet) {
	fs.StringVar(&f.pool, "user-pool-id", os.Getenv("COGNITO_USER_POOL_ID"), "user pool ID, <region>_<id> (env COGNITO_USER_POOL_ID)")
	fs.StringVar(&f.region, "region", os.Getenv("AWS_REGION"), "AWS Region of the pool (env AWS_REGION; default: the pool ID's prefix)")
	fs.StringVar(&f.endpoint, "endpoint", "", "Cognito-compatible base URL instead of AWS (cognitokit local, LocalStack); the issuer becomes <endpoint>/<pool>")
	fs.StringVar(&f.jwksFile, "jwks-file", "", "verify against this JWKS file instead of fetching the pool's (no network)")
	fs.Var(&f.clients, "client-id", "allowed app client ID: client_id of access tokens, aud of ID tokens (repeatable)")
	fs.BoolVar(&f.anyClient, "any-client", false, "accept tokens of every app client of the pool (when no --client-id is given)")
	fs.StringVar(&f.tokenUse, "token-use", "access", "token kind accepted: access, id or any")
	fs.DurationVar(&f.leeway, "leeway", cognito.DefaultLeeway, "clock skew allowed on exp, nbf and iat")
	fs.StringVar(&f.poolsFile, "pools", "", "YAML file of several user pools, each with its own settings, instead of the per-pool flags (see docs/cli.md)")
}

// authorizer builds the authorizer the flags describe, with extra options; fs is the
// parsed flag set.
func (f *authorizerFlags) authorizer(fs *flag.FlagSet, extra ...cognito.AuthorizerOption) (*cognito.JWTAuthorizer, error) {
	if f.poolsFile != "" {
		return f.poolsAuthorizer(fs, extra...)
	}
	if f.pool == "" {
		return nil, usagef("--user-pool-id is required (or COGNITO_USER_POOL_ID)")
	}
	if len(f.clients) == 0 && !f.anyClient {
		if id := os.Getenv("COGNITO_CLIENT_ID"); id != "" {
			f.clients = append(f.clients, id)
		} else {
			return nil, usagef("give --client-id (repeatable), or --any-client to accept every client of the pool")
		}
	}
	cfg := cognito.JWTAuthorizerConfig{
		UserPoolID:     f.pool,
		Region:         f.region,
		ClientIDs:      f.clients,
		AllowAnyClient: f.anyClient,
		TokenUse:       cognito.TokenUse(f.tokenUse),
		RequiredScopes: f.scopes,
		RequiredGroups: f.groups,
		Leeway:         f.leeway,
	}
	if f.leeway == 0 {
		cfg.Leeway = -1 // an explicit --leeway 0 means none
	}
	var opts []cognito.AuthorizerOption
	if f.endpoint != "" {
		opts = append(opts, cognito.WithEndpoint(f.endpoint))
	}
	if f.jwksFile != "" {
		b, err := os.ReadFile(f.jwksFile)
		if err != nil {
			return nil, usagef("reading the JWKS: %v", err)
		}
		opts = append(opts, cognito.WithJWKS(b))
	}
	z, err := cognito.NewJWTAuthorizer(cfg, append(opts, extra...)...)
	if err != nil {
		return nil, usageError{err}
	}
	return z, nil
}

func runVerify(ctx context.Context, e env, args []string) error {
	fs := newFlagSet("verify", verifySynopsis, e.stdout)
	var af authorizerFlags
	af.register(fs)
	metrics := fs.Bool("metrics", false, "print the metrics of the run on stderr")
	rest, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 1 {
		return usagef("give one TOKEN, or - to read tokens from stdin")
	}
	var opts []cognito.AuthorizerOption
	if *metrics {
		m := newRunMetrics()
		opts = append(opts, cognito.WithMeterProvider(m.provider))
		defer func() { _ = m.print(context.WithoutCancel(ctx), e.stderr) }()
	}
	z, err := af.authorizer(fs, opts...)
	if err != nil {
		return err
	}
	if len(rest) == 0 || rest[0] == "-" {
		return verifyBatch(ctx, e, z, af.poolsFile != "")
	}
	claims, err := z.Verify(ctx, rest[0])
	if err != nil {
		fmt.Fprintf(e.stderr, "invalid: %s: %s\n", reasonCode(err), oneLine(err))
		return exitError{exitFail}
	}
	if af.poolsFile != "" {
		fmt.Fprintf(e.stderr, "pool: %s\n", claims.UserPoolID)
	}
	enc := json.NewEncoder(e.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(claims.Raw())
}

// reasonCode is the reason code of a verification error; "invalid_token" for an error
// that carries none.
func reasonCode(err error) string {
	if code := cognito.ReasonCode(err); code != "" {
		return code
	}
	return "invalid_token"
}

// maxLine bounds a line of batch input; longer lines are refused as too large without
// being held in memory.
const maxLine = 1 << 20

type batchResult struct {
	Line    int            `json:"line"`
	Valid   bool           `json:"valid"`
	Pool    string         `json:"user_pool_id,omitempty"` // with --pools
	Claims  map[string]any `json:"claims,omitempty"`
	Error   string         `json:"error,omitempty"`
	Message string         `json:"message,omitempty"`
}

// verifyBatch verifies one token per line of stdin, answering one JSON line each; with
// several pools, valid results name the pool.
func verifyBatch(ctx context.Context, e env, z *cognito.JWTAuthorizer, pools bool) error {
	r := bufio.NewReaderSize(e.stdin, 64<<10)
	w := bufio.NewWriter(e.stdout)
	enc := json.NewEncoder(w)
	allValid := true
	for n := 1; ; n++ {
		line, tooLong, err := readLine(r, maxLine)
		if errors.Is(err, io.EOF) && line == "" && !tooLong {
			break
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("reading stdin: %w", err)
		}
		res := batchResult{Line: n}
		if tooLong {
			res.Error, res.Message = "token_too_large", "line is longer than 1 MiB"
		} else if claims, verr := z.Verify(ctx, strings.TrimSpace(line)); verr != nil {
			res.Error, res.Message = reasonCode(verr), oneLine(verr)
		} else {
			res.Valid, res.Claims = true, claims.Raw()
			if pools {
				res.Pool = claims.UserPoolID
			}
		}
		allValid = allValid && res.Valid
		if err := enc.Encode(res); err != nil {
			return err
		}
		if errors.Is(err, io.EOF) {
			break
		}
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if !allValid {
		return exitError{exitFail}
	}
	return nil
}

// readLine reads up to the next newline. A line longer than limit is consumed and
// reported as too long, without being kept.
func readLine(r *bufio.Reader, limit int) (line string, tooLong bool, err error) {
	var b strings.Builder
	for {
		chunk, isPrefix, err := r.ReadLine()
		if !tooLong {
			if b.Len()+len(chunk) > limit {
				tooLong = true
				b.Reset()
			} else {
				b.Write(chunk)
			}
		}
		if err != nil {
			return b.String(), tooLong, err
		}
		if !isPrefix {
			return b.String(), tooLong, nil
		}
	}
}
