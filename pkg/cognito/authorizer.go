package cognito

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// JWTAuthorizer verifies the Cognito access and ID tokens of one user pool, or of several
// (see [NewMultiPoolAuthorizer]). It is safe for concurrent use; build one per service, not
// per request, so its caches are shared.
//
// It keeps two caches. Each issuer's JWKS is fetched on first use (or by
// [JWTAuthorizer.Warm]) and refreshed in the background; see [JWTAuthorizer.Verify]. Tokens
// that verified are remembered (see [WithVerifiedCacheSize]), so a token presented again
// costs a hash lookup; its exp, nbf and iat, and the custom checks, are still checked on
// every call.
//
// The zero value is not usable: build one with [NewJWTAuthorizer] or
// [NewMultiPoolAuthorizer].
type JWTAuthorizer struct {
	pools   []*userPool
	issuers []*jwksCache // of every pool, in configuration order; issuers[0] is the primary one
	// byIssuer finds a token's pool by its exact iss: one map lookup, however many pools.
	byIssuer map[string]*jwksCache
	checks   []func(context.Context, *Claims) error
	// revocations is the WithRevocationList list, nil without one.
	revocations RevocationList
	maxSize     int
	clock       func() time.Time
	verified    *verifiedCache  // nil when disabled
	tel         *authzTelemetry // nil without a meter provider or Verify spans
	keyGens     atomic.Uint64
	// scratch holds *[]byte buffers for decoding tokens: a ~1 KB token needs ~2 KB, about
	// 40% of what a verification allocates, and nothing of it outlives verify (the claims
	// are copied out of it).
	scratch sync.Pool

	tooLarge string // the refusal detail naming maxSize, built once
}

var (
	// awsPoolID is "<region>_<id>" with an AWS Region name, such as "us-east-1_AbC123xyz".
	awsPoolID = regexp.MustCompile(`^([a-z]{2}(?:-[a-z]+)+-[0-9]+)_([0-9A-Za-z]+)$`)
	// anyPoolID is the looser shape Cognito-compatible servers accept (and a path segment
	// that needs no escaping).
	anyPoolID = regexp.MustCompile(`^[\w-]+_[0-9A-Za-z]+$`)
)

// NewJWTAuthorizer returns an authorizer for the tokens cfg describes. It fails with an
// error matching [ErrInvalidConfig] when cfg is incomplete or inconsistent: a pool ID that
// is not "<region>_<id>" (or whose region differs from cfg.Region), no client IDs without
// AllowAnyClient, an unknown TokenUse, an extra issuer that is not "<https URL>/<pool ID>",
// a WithJWKS set without a usable key. It makes no network call: keys are fetched on the
// first Verify or by Warm. It is [NewMultiPoolAuthorizer] with one pool.
//
// Options: [WithEndpoint], [WithJWKS], [WithPoolJWKS], [WithHTTPClient], [WithClock],
// [WithLogger], [WithJWKSRefresh], [WithUnknownKeyCooldown], [WithVerifiedCacheSize],
// [WithMaxTokenSize], [WithCustomCheck], [WithMeterProvider], [WithTracerProvider],
// [WithVerifySpans].
func NewJWTAuthorizer(cfg JWTAuthorizerConfig, opts ...AuthorizerOption) (*JWTAuthorizer, error) {
	return buildAuthorizer([]JWTAuthorizerConfig{cfg}, opts)
}

// authorizerIssuers lists the accepted issuers, the primary one first.
func authorizerIssuers(cfg JWTAuthorizerConfig, endpoint string) ([]string, error) {
	pool := cfg.UserPoolID
	var issuers []string
	if endpoint != "" {
		base, err := parseBaseURL(endpoint)
		if err != nil {
			return nil, fmt.Errorf("WithEndpoint: %v", err)
		}
		if !anyPoolID.MatchString(pool) {
			return nil, fmt.Errorf("UserPoolID %q is not <region>_<id>", pool)
		}
		issuers = append(issuers, base+"/"+pool)
	} else {
		m := awsPoolID.FindStringSubmatch(pool)
		if m == nil {
			return nil, fmt.Errorf("UserPoolID %q is not <region>_<id>, such as us-east-1_AbC123xyz", pool)
		}
		region := m[1]
		if cfg.Region != "" && cfg.Region != region {
			return nil, fmt.Errorf("UserPoolID %q is not in Region %q", pool, cfg.Region)
		}
		issuers = append(issuers,
			"https://cognito-idp."+region+".amazonaws.com/"+pool,
			"https://issuer-cognito-idp."+region+".amazonaws.com/"+pool)
	}
	for _, iss := range cfg.Issuers {
		if err := checkIssuer(iss); err != nil {
			// Named as the config field is, capitalised.
			return nil, fmt.Errorf("%s: %v", "Issuers", err)
		}
		if !slices.Contains(issuers, iss) {
			issuers = append(issuers, iss)
		}
	}
	return issuers, nil
}

// parseBaseURL checks a WithEndpoint URL and drops its trailing slash. Plain http only
// for loopback hosts (a local Cognito, LocalStack on this machine), as for issuers.
func parseBaseURL(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", errors.New("not an absolute http(s) URL without query or fragment")
	}
	if u.Scheme == "http" && !plainHTTPAllowed(u) {
		return "", errors.New(strconv.Quote(s) + " is plain http on a non-loopback host")
	}
	return strings.TrimRight(s, "/"), nil
}

// checkIssuer accepts "<https URL>/<pool ID>": the JWKS is fetched from the URL with the
// generated client, the pool ID as its path parameter. Plain http only for loopback hosts,
// since whoever can alter the JWKS in transit can sign tokens.
func checkIssuer(iss string) error {
	u, err := url.Parse(iss)
	if err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.RawPath != "" {
		return errors.New(strconv.Quote(iss) + " is not an absolute URL without query or fragment")
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !plainHTTPAllowed(u) {
			return errors.New(strconv.Quote(iss) + " is plain http on a non-loopback host")
		}
	default:
		return errors.New(strconv.Quote(iss) + " is not an https URL")
	}
	i := strings.LastIndexByte(u.Path, '/')
	if i < 0 || !anyPoolID.MatchString(u.Path[i+1:]) {
		return errors.New(strconv.Quote(iss) + " does not end in /<user pool ID>")
	}
	return nil
}

// Issuer returns the primary issuer of the first pool: its regional Cognito URL
// "https://cognito-idp.<region>.amazonaws.com/<pool>", or "<endpoint>/<pool>" under
// WithEndpoint.
func (z *JWTAuthorizer) Issuer() string { return z.issuers[0].issuer }

// JWKSURL returns where the first pool's primary issuer's keys are fetched from,
// "<issuer>/.well-known/jwks.json".
func (z *JWTAuthorizer) JWKSURL() string { return z.issuers[0].jwksURL }

// UserPoolIDs returns the IDs of the configured pools, in configuration order.
func (z *JWTAuthorizer) UserPoolIDs() []string {
	out := make([]string, len(z.pools))
	for i, p := range z.pools {
		out[i] = p.id
	}
	return out
}

// Warm loads the key set of every issuer not yet loaded, all at once, waiting at most until
// ctx ends. Call it at start-up to fail early and to spare the first requests the wait. A
// pool is ready when one of its issuers' keys loaded; the others are logged and retried on
// first use (a pool publishes its keys under the issuer it uses, so the other default
// issuer may legitimately be missing). Warm returns an error matching [ErrJWKSUnavailable]
// when some pool is not ready: with several pools, it joins one error per such pool, each
// naming the pool by index and ID, and the pools that are ready verify tokens all the same.
// With static keys it does nothing.
func (z *JWTAuthorizer) Warm(ctx context.Context) error {
	now := z.clock()
	errs := make([]error, len(z.issuers))
	var wg sync.WaitGroup
	for i, c := range z.issuers {
		wg.Go(func() { errs[i] = c.load(ctx, now, true) })
	}
	wg.Wait()
	var failed []error
	next := 0
	for _, p := range z.pools {
		pErrs := errs[next : next+len(p.issuers)]
		next += len(p.issuers)
		if slices.Contains(pErrs, nil) {
			continue
		}
		if len(z.pools) == 1 {
			return errors.Join(pErrs...)
		}
		failed = append(failed, fmt.Errorf("pool %d (%s): %w", p.index, p.id, errors.Join(pErrs...)))
	}
	return errors.Join(failed...)
}

// Verify checks token and returns its claims. It refuses with an [*AuthorizationError]
// whose reason (errors.Is) says why, checking in this order:
//
//  1. Size (at most [DefaultMaxTokenSize] unless [WithMaxTokenSize]): [ErrTokenTooLarge].
//     Three base64url parts: [ErrMalformedToken].
//  2. Header: alg RS256 ([ErrAlgorithmNotAllowed]: none, HS256, ES256, PS256 ... are
//     refused), a kid ([ErrMissingKeyID]), no crit ([ErrUnsupportedHeader]). jku, x5u, jwk
//     and x5c are ignored: keys come only from the pool's JWKS.
//  3. Pool and key set: the payload's iss only picks the pool, and which of its issuers'
//     JWKS to use, by exact comparison (one map lookup, however many pools). An iss that
//     is no pool's is refused with [ErrInvalidIssuer] at this point, before the
//     signature, without fetching anything; the refusal trusts nothing in the token.
//  4. Key by kid ([ErrUnknownKey]); a key that is not RSA, is shorter than 2048 bits or is
//     published for another alg or use: [ErrAlgorithmNotAllowed]. Keys that cannot be had:
//     [ErrJWKSUnavailable].
//  5. Signature, RSASSA-PKCS1-v1_5 with SHA-256: [ErrInvalidSignature].
//  6. Claims, only now and only from the verified payload: a claim of the wrong type
//     ([ErrMalformedToken]); iss exactly ([ErrInvalidIssuer]); token_use
//     ([ErrInvalidTokenUse]); client_id of access tokens, or aud of ID tokens, among the
//     allowed clients ([ErrInvalidClient]); exp present ([ErrMissingClaim]) and not past
//     by more than the leeway ([ErrTokenExpired]); nbf ([ErrTokenNotYetValid]) and iat
//     ([ErrIssuedInFuture]) not ahead by more than the leeway; sub present
//     ([ErrMissingClaim]); one of RequiredScopes ([ErrInsufficientScope]); one of
//     RequiredGroups ([ErrNotInGroup]). The rules are those of the token's pool.
//  7. The revocation list ([WithRevocationList]), if any: [ErrTokenRevoked], or
//     [ErrRevocationUnavailable] when the list cannot tell.
//  8. The custom checks ([WithCustomCheck]), in order, with ctx: [ErrCustomCheck].
//
// A refusal at steps 6 to 8, and only there, carries the claims of the refused token in
// [AuthorizationError.Claims]: the signature verified, so they are the issuer's, but the
// token was refused; see its doc.
//
// Keys: the first Verify of an issuer waits for its JWKS (bounded by ctx). After that,
// when the set is older than the refresh interval ([DefaultJWKSRefresh]) one Verify starts
// a background refresh and every call goes on with the current keys; a failed refresh keeps
// them and is retried with exponential backoff (1 s, 2 s, ... up to the refresh interval).
// A kid not in the set causes one refetch, which every caller with an unknown kid shares
// and waits for (bounded by its ctx); after it, unknown kids are refused at once for the
// cooldown ([DefaultUnknownKeyCooldown]), without a fetch.
//
// Without a revocation list, Verify does not check that the token was not revoked or the
// user signed out: Cognito publishes no revocation list. It does not check the auth_time
// age, the at_hash, a nonce, or custom claims (see [Claims.Get]). It logs nothing; errors hold neither the token nor claim values.
//
// On a verified-token cache hit, steps 1 to 5 are skipped; 6 (its time checks), 7 and 8
// run again.
//
// The returned Claims may be shared with other callers of the same token: do not modify
// them.
func (z *JWTAuthorizer) Verify(ctx context.Context, token string) (*Claims, error) {
	now := z.clock()
	if z.tel != nil {
		return z.verifyObserved(ctx, token, now)
	}
	claims, _, err := z.check(ctx, token, now)
	if err != nil {
		return nil, err
	}
	return claims, nil
}

// check is Verify at now; it also says whether the verified-token cache answered.
func (z *JWTAuthorizer) check(ctx context.Context, token string, now time.Time) (claims *Claims, hit bool, err error) {
	if len(token) > z.maxSize {
		return nil, false, refuse(ErrTokenTooLarge, z.tooLarge)
	}
	var bucket uint64
	if z.verified != nil {
		bucket = z.verified.bucket(token)
		if e := z.verified.getAt(bucket, token); e != nil {
			e.keys.refreshIfDue(ctx, now)
			if err := e.keys.pool.checkClaims(e.claims, now); err != nil {
				return nil, true, withClaims(err, e.claims)
			}
			if z.revocations != nil {
				if err := z.checkRevoked(e.claims); err != nil {
					return nil, true, err
				}
			}
			if len(z.checks) > 0 {
				if err := z.runChecks(ctx, e.claims); err != nil {
					return nil, true, err
				}
			}
			return e.claims, true, nil
		}
	}
	claims, err = z.verify(ctx, token, now, bucket)
	return claims, false, err
}

// verify is check without the verified-token cache lookup; bucket is the token's hash in
// that cache, if there is one.
func (z *JWTAuthorizer) verify(ctx context.Context, token string, now time.Time, bucket uint64) (*Claims, error) {
	scratch, _ := z.scratch.Get().(*[]byte)
	if scratch == nil {
		scratch = new([]byte)
	}
	jws, err := splitJWS(token, *scratch)
	defer func() {
		// Keep the buffer used, unless an unusually large token needed one bigger than a
		// Cognito token does.
		if b := jws.buf; b != nil && cap(b) <= maxScratch {
			*scratch = b[:0]
		}
		z.scratch.Put(scratch)
	}()
	if err != nil {
		return nil, err
	}
	header, ok := scanHeader(jws.header)
	if !ok {
		if header, err = parseHeader(jws.header); err != nil {
			return nil, err
		}
	}
	if header.Alg != "RS256" {
		return nil, refuse(ErrAlgorithmNotAllowed, "alg is not RS256")
	}
	if header.Kid == "" {
		return nil, refuse(ErrMissingKeyID, "header has no kid")
	}
	if len(header.Crit) > 0 {
		return nil, refuse(ErrUnsupportedHeader, "header has crit; no critical extension is supported")
	}
	// The fast path (scan.go) reads the claims now, but nothing of them but iss is used
	// before the signature is checked; the general path decodes them after it.
	claims, hasIss, ok := scanClaims(jws.payload)
	var raw map[string]any
	var iss any
	if ok {
		if hasIss {
			iss = claims.Issuer
		}
	} else {
		if raw, err = parsePayload(jws.payload); err != nil {
			return nil, err
		}
		iss = raw["iss"]
	}
	keys, err := z.keysFor(iss)
	if err != nil {
		return nil, err
	}
	pub, set, err := keys.key(ctx, header.Kid, now)
	if err != nil {
		return nil, err
	}
	if !verifyRS256(pub, jws.signingInput, jws.signature) {
		return nil, refuse(ErrInvalidSignature, "signature does not verify with the key the kid names")
	}
	if claims == nil {
		if claims, err = newClaimsFromPayload(raw); err != nil {
			return nil, err
		}
	}
	p := keys.pool
	claims.UserPoolID = p.id
	p.pickClient(claims)
	if z.revocations != nil {
		claims.hashIDs()
	}
	if err := p.checkClaims(claims, now); err != nil {
		return nil, withClaims(err, claims)
	}
	// Remembered before the custom checks run: the cache holds the built-in verdict only,
	// and the custom checks run again on every hit, since their answer may change.
	if z.verified != nil {
		z.verified.putAt(bucket, token, &verifiedEntry{claims: claims, keys: keys, gen: set.gen})
	}
	// Asked on every call, cache hits included: a token may be revoked at any time.
	if z.revocations != nil {
		if err := z.checkRevoked(claims); err != nil {
			return nil, err
		}
	}
	if len(z.checks) > 0 {
		if err := z.runChecks(ctx, claims); err != nil {
			return nil, err
		}
	}
	return claims, nil
}

// maxScratch is the largest decoding buffer an authorizer keeps for reuse: enough for
// tokens of 4 KB, several times a Cognito token.
const maxScratch = 8 << 10

// keysFor picks the key cache of the issuer the unverified iss names, and with it the
// pool. Nothing else is read from the payload before the signature is checked.
func (z *JWTAuthorizer) keysFor(iss any) (*jwksCache, error) {
	s, ok := iss.(string)
	switch {
	case iss == nil:
		return nil, refuse(ErrInvalidIssuer, "token has no iss claim")
	case !ok:
		return nil, malformedClaim("iss", "a string")
	}
	if c, ok := z.byIssuer[s]; ok {
		return c, nil
	}
	return nil, refuse(ErrInvalidIssuer, "iss is not an issuer of a configured user pool")
}

func verifyRS256(pub *rsa.PublicKey, signingInput, sig []byte) bool {
	digest := sha256.Sum256(signingInput)
	return rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig) == nil
}
