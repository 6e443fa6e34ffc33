package cognito

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"math"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cognitokit/cognitokit/gen"
)

// JWTAuthorizer verifies the Cognito access and ID tokens of one user pool. It is safe for
// concurrent use; build one per service, not per request, so its caches are shared.
//
// It keeps two caches. The pool's JWKS, per issuer, is fetched on first use (or by
// [JWTAuthorizer.Warm]) and refreshed in the background; see [JWTAuthorizer.Verify]. Tokens
// that verified are remembered (see [WithVerifiedCacheSize]), so a token presented again
// costs a hash lookup; its exp, nbf and iat are still checked on every call.
//
// The zero value is not usable: build one with [NewJWTAuthorizer].
type JWTAuthorizer struct {
	issuers   []*jwksCache // issuers[0] is the primary one
	clients   []string
	anyClient bool
	tokenUse  TokenUse
	scopes    []string
	groups    []string
	leeway    time.Duration
	maxSize   int
	clock     func() time.Time
	verified  *verifiedCache // nil when disabled
	keyGens   atomic.Uint64
	// scratch holds *[]byte buffers for decoding tokens: a ~1 KB token needs ~2 KB, about
	// 40% of what a verification allocates, and nothing of it outlives verify (the claims
	// are copied out of it).
	scratch sync.Pool

	// Details of refusals that name configured values, built once.
	tooLarge, wrongUse, noScope, noGroup string
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
// first Verify or by Warm.
//
// Options: [WithEndpoint], [WithJWKS], [WithHTTPClient], [WithClock], [WithLogger],
// [WithJWKSRefresh], [WithUnknownKeyCooldown], [WithVerifiedCacheSize],
// [WithMaxTokenSize].
func NewJWTAuthorizer(cfg JWTAuthorizerConfig, opts ...AuthorizerOption) (*JWTAuthorizer, error) {
	o := newAuthorizerOptions(opts)
	issuers, err := authorizerIssuers(cfg, o.endpoint)
	if err != nil {
		return nil, err
	}
	z := &JWTAuthorizer{
		anyClient: cfg.AllowAnyClient,
		tokenUse:  cfg.TokenUse,
		leeway:    cfg.Leeway,
		maxSize:   o.maxTokenSize,
		clock:     o.clock,
	}
	switch z.tokenUse {
	case "":
		z.tokenUse = TokenUseAccess
	case TokenUseAccess, TokenUseID, TokenUseAny:
	default:
		return nil, configError("TokenUse %q is not %q, %q or %q", cfg.TokenUse, TokenUseAccess, TokenUseID, TokenUseAny)
	}
	switch {
	case z.leeway == 0:
		z.leeway = DefaultLeeway
	case z.leeway < 0:
		z.leeway = 0
	}
	if cfg.Audience != "" {
		z.clients = append(z.clients, cfg.Audience)
	}
	for _, id := range cfg.ClientIDs {
		if id == "" {
			return nil, configError("ClientIDs has an empty client ID")
		}
		if !slices.Contains(z.clients, id) {
			z.clients = append(z.clients, id)
		}
	}
	switch {
	case len(z.clients) == 0 && !z.anyClient:
		return nil, configError("no app client: set Audience or ClientIDs, or AllowAnyClient to accept tokens of every client of the pool")
	case len(z.clients) > 0 && z.anyClient:
		return nil, configError("AllowAnyClient and Audience or ClientIDs are exclusive")
	}
	if slices.Contains(cfg.RequiredScopes, "") || slices.Contains(cfg.RequiredGroups, "") {
		return nil, configError("RequiredScopes and RequiredGroups must not hold empty names")
	}
	z.scopes = slices.Clone(cfg.RequiredScopes)
	z.groups = slices.Clone(cfg.RequiredGroups)
	z.tooLarge = "token is longer than " + strconv.Itoa(z.maxSize) + " bytes"
	z.wrongUse = "token_use is not " + string(z.tokenUse)
	if z.tokenUse == TokenUseAny {
		z.wrongUse = "token_use is neither access nor id"
	}
	z.noScope = "token has none of the required scopes: " + strings.Join(z.scopes, " ")
	z.noGroup = "token user is in none of the required groups: " + strings.Join(z.groups, ", ")

	var static *keySet
	if o.hasStaticJWKS {
		if static, err = parseJWKS(o.staticJWKS, o.logger, "WithJWKS"); err != nil {
			return nil, configError("WithJWKS: %v", err)
		}
		static.gen = z.keyGens.Add(1)
	}
	z.verified = newVerifiedCache(o.verifiedCacheSize)
	doer := limitedDoer{client: o.httpClient, limit: maxResponseBody}
	for _, iss := range issuers {
		i := strings.LastIndexByte(iss, '/')
		c := &jwksCache{
			issuer:       iss,
			jwksURL:      iss + "/.well-known/jwks.json",
			poolID:       iss[i+1:],
			clock:        o.clock,
			logger:       o.logger,
			refresh:      o.jwksRefresh,
			cooldown:     o.unknownKeyCooldown,
			fetchTimeout: DefaultHTTPTimeout,
			gens:         &z.keyGens,
			parse: func(body []byte) (*keySet, error) {
				return parseJWKS(body, o.logger, iss)
			},
		}
		if z.verified != nil {
			c.onChange = z.verified.purge
		}
		if static != nil {
			c.static = true
			c.set.Store(static)
			c.refreshAt.Store(math.MaxInt64)
		} else if c.client, err = gen.NewClientWithResponses(iss[:i], gen.WithHTTPClient(doer)); err != nil {
			return nil, configError("issuer %s: %v", iss, err)
		}
		z.issuers = append(z.issuers, c)
	}
	return z, nil
}

// authorizerIssuers lists the accepted issuers, the primary one first.
func authorizerIssuers(cfg JWTAuthorizerConfig, endpoint string) ([]string, error) {
	pool := cfg.UserPoolID
	var issuers []string
	if endpoint != "" {
		base, err := parseBaseURL(endpoint)
		if err != nil {
			return nil, configError("WithEndpoint: %v", err)
		}
		if !anyPoolID.MatchString(pool) {
			return nil, configError("UserPoolID %q is not <region>_<id>", pool)
		}
		issuers = append(issuers, base+"/"+pool)
	} else {
		m := awsPoolID.FindStringSubmatch(pool)
		if m == nil {
			return nil, configError("UserPoolID %q is not <region>_<id>, such as us-east-1_AbC123xyz", pool)
		}
		region := m[1]
		if cfg.Region != "" && cfg.Region != region {
			return nil, configError("UserPoolID %q is not in Region %q", pool, cfg.Region)
		}
		issuers = append(issuers,
			"https://cognito-idp."+region+".amazonaws.com/"+pool,
			"https://issuer-cognito-idp."+region+".amazonaws.com/"+pool)
	}
	for _, iss := range cfg.Issuers {
		if err := checkIssuer(iss); err != nil {
			return nil, configError("Issuers: %v", err)
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

// Issuer returns the primary issuer: the pool's regional Cognito URL
// "https://cognito-idp.<region>.amazonaws.com/<pool>", or "<endpoint>/<pool>" under
// WithEndpoint.
func (z *JWTAuthorizer) Issuer() string { return z.issuers[0].issuer }

// JWKSURL returns where the primary issuer's keys are fetched from,
// "<issuer>/.well-known/jwks.json".
func (z *JWTAuthorizer) JWKSURL() string { return z.issuers[0].jwksURL }

// Warm loads the key set of every issuer not yet loaded, waiting at most until ctx ends.
// Call it at start-up to fail early and to spare the first requests the wait. It returns an
// error matching [ErrJWKSUnavailable] when no issuer's keys could be loaded; when some
// could, the others are logged and retried on first use (a pool publishes its keys under
// the issuer it uses, so the other default issuer may legitimately be missing). With
// WithJWKS it does nothing.
func (z *JWTAuthorizer) Warm(ctx context.Context) error {
	now := z.clock()
	errs := make([]error, len(z.issuers))
	var wg sync.WaitGroup
	for i, c := range z.issuers {
		wg.Go(func() { errs[i] = c.load(ctx, now, true) })
	}
	wg.Wait()
	if slices.Contains(errs, nil) {
		return nil
	}
	return errors.Join(errs...)
}

// Verify checks token and returns its claims. It refuses with an [*AuthorizationError]
// whose reason (errors.Is) says why, checking in this order:
//
//  1. Size (at most [DefaultMaxTokenSize] unless [WithMaxTokenSize]): [ErrTokenTooLarge].
//     Three base64url parts: [ErrMalformedToken].
//  2. Header: alg RS256 ([ErrAlgorithmNotAllowed]: none, HS256, ES256, PS256 ... are
//     refused), a kid ([ErrMissingKeyID]), no crit ([ErrUnsupportedHeader]). jku, x5u, jwk
//     and x5c are ignored: keys come only from the pool's JWKS.
//  3. Key set: the payload's iss only picks which configured issuer's JWKS to use. An iss
//     that is none of them is refused with [ErrInvalidIssuer] at this point, before the
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
//     RequiredGroups ([ErrNotInGroup]).
//
// Keys: the first Verify of an issuer waits for its JWKS (bounded by ctx). After that,
// when the set is older than the refresh interval ([DefaultJWKSRefresh]) one Verify starts
// a background refresh and every call goes on with the current keys; a failed refresh keeps
// them and is retried with exponential backoff (1 s, 2 s, ... up to the refresh interval).
// A kid not in the set causes one refetch, which every caller with an unknown kid shares
// and waits for (bounded by its ctx); after it, unknown kids are refused at once for the
// cooldown ([DefaultUnknownKeyCooldown]), without a fetch.
//
// Verify does not check: that the token was not revoked or the user signed out (Cognito
// publishes no revocation list: ask its userInfo endpoint if you must know), the
// origin_jti, the auth_time age, the at_hash, a nonce, or custom claims (see
// [Claims.Get]). It logs nothing; errors hold neither the token nor claim values.
//
// The returned Claims may be shared with other callers of the same token: do not modify
// them.
func (z *JWTAuthorizer) Verify(ctx context.Context, token string) (*Claims, error) {
	if len(token) > z.maxSize {
		return nil, refuse(ErrTokenTooLarge, z.tooLarge)
	}
	now := z.clock()
	var bucket uint64
	if z.verified != nil {
		bucket = z.verified.bucket(token)
		if e := z.verified.getAt(bucket, token); e != nil {
			e.keys.refreshIfDue(ctx, now)
			if err := z.checkClaims(e.claims, now); err != nil {
				return nil, err
			}
			return e.claims, nil
		}
	}
	return z.verify(ctx, token, now, bucket)
}

// verify is Verify without the verified-token cache lookup; bucket is the token's hash in
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
	z.pickClient(claims)
	if err := z.checkClaims(claims, now); err != nil {
		return nil, err
	}
	if z.verified != nil {
		z.verified.putAt(bucket, token, &verifiedEntry{claims: claims, keys: keys, gen: set.gen})
	}
	return claims, nil
}

// maxScratch is the largest decoding buffer an authorizer keeps for reuse: enough for
// tokens of 4 KB, several times a Cognito token.
const maxScratch = 8 << 10

// keysFor picks the key cache of the issuer the unverified iss names. Nothing else is
// read from the payload before the signature is checked.
func (z *JWTAuthorizer) keysFor(iss any) (*jwksCache, error) {
	s, ok := iss.(string)
	switch {
	case iss == nil:
		return nil, refuse(ErrInvalidIssuer, "token has no iss claim")
	case !ok:
		return nil, malformedClaim("iss", "a string")
	}
	for _, c := range z.issuers {
		if c.issuer == s {
			return c, nil
		}
	}
	return nil, refuse(ErrInvalidIssuer, "iss is not an issuer of the user pool")
}

func verifyRS256(pub *rsa.PublicKey, signingInput, sig []byte) bool {
	digest := sha256.Sum256(signingInput)
	return rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig) == nil
}

// pickClient makes ClientID of an ID token whose aud lists several clients the first one
// allowed, so that policies reading ClientID see the client the token was accepted for.
func (z *JWTAuthorizer) pickClient(c *Claims) {
	if c.TokenUse != TokenUseID || len(c.Audience) < 2 || z.anyClient {
		return
	}
	for _, aud := range c.Audience {
		if slices.Contains(z.clients, aud) {
			c.ClientID = aud
			return
		}
	}
}

// checkClaims applies every claim rule to verified claims. It runs on every Verify,
// cached tokens included, so that time moves on for them too.
func (z *JWTAuthorizer) checkClaims(c *Claims, now time.Time) error {
	if !z.acceptsIssuer(c.Issuer) {
		return refuse(ErrInvalidIssuer, "iss is not an issuer of the user pool")
	}
	switch use := c.TokenUse; {
	case use != TokenUseAccess && use != TokenUseID,
		z.tokenUse != TokenUseAny && use != z.tokenUse:
		return refuse(ErrInvalidTokenUse, z.wrongUse)
	}
	if !z.anyClient {
		if c.TokenUse == TokenUseAccess {
			if c.ClientID == "" {
				return refuse(ErrInvalidClient, "access token has no client_id")
			}
			if !slices.Contains(z.clients, c.ClientID) {
				return refuse(ErrInvalidClient, "client_id is not an allowed app client")
			}
		} else if !slices.ContainsFunc(c.Audience, z.allowsClient) {
			return refuse(ErrInvalidClient, "aud names no allowed app client")
		}
	}
	if c.expiresAt.IsZero() {
		return refuse(ErrMissingClaim, "token has no exp")
	}
	if now.After(c.expiresAt.Add(z.leeway)) {
		return refuse(ErrTokenExpired, "exp is past by more than the leeway")
	}
	if !c.NotBefore.IsZero() && c.NotBefore.After(now.Add(z.leeway)) {
		return refuse(ErrTokenNotYetValid, "nbf is ahead by more than the leeway")
	}
	if !c.IssuedAt.IsZero() && c.IssuedAt.After(now.Add(z.leeway)) {
		return refuse(ErrIssuedInFuture, "iat is ahead by more than the leeway")
	}
	if c.Sub == "" {
		return refuse(ErrMissingClaim, "token has no sub")
	}
	if len(z.scopes) > 0 && !slices.ContainsFunc(z.scopes, c.HasScope) {
		return refuse(ErrInsufficientScope, z.noScope)
	}
	if len(z.groups) > 0 && !slices.ContainsFunc(z.groups, c.InGroup) {
		return refuse(ErrNotInGroup, z.noGroup)
	}
	return nil
}

func (z *JWTAuthorizer) allowsClient(id string) bool { return slices.Contains(z.clients, id) }

func (z *JWTAuthorizer) acceptsIssuer(iss string) bool {
	for _, c := range z.issuers {
		if c.issuer == iss {
			return true
		}
	}
	return false
}
