package cognito

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cognitokit/cognitokit/gen"
)

// userPool is one configured pool of an authorizer: its issuers and the rules its tokens
// are checked against. Tokens are routed to it by their iss before anything else is read,
// so a token is only ever judged by the rules, and verified with the keys, of the pool it
// names.
type userPool struct {
	index     int    // position in the configuration, for error messages
	id        string // JWTAuthorizerConfig.UserPoolID, reported as Claims.UserPoolID
	issuers   []*jwksCache
	clients   []string
	anyClient bool
	tokenUse  TokenUse
	scopes    []string
	groups    []string
	leeway    time.Duration

	// Details of refusals that name configured values, built once.
	wrongUse, noScope, noGroup string
}

// NewMultiPoolAuthorizer returns an authorizer that accepts the tokens of every pool
// configured, each checked against its own config: its client IDs, token use, required
// scopes and groups, leeway and extra issuers. The pool of a token is the one whose issuer
// is exactly the token's iss, found before any network call; a token whose iss is no
// pool's is refused with [ErrInvalidIssuer] without fetching anything. Each issuer has its
// own key cache, cooldown and stale-key state, so one pool's JWKS outage or a flood of
// unknown kids against it costs the other pools nothing. [Claims.UserPoolID] says which
// pool a token verified for.
//
// It fails with an error matching [ErrInvalidConfig], naming the pool by index and ID, when
// a pool's config is refused for the reasons [NewJWTAuthorizer] gives, or when two pools
// accept the same issuer. [WithJWKS] is refused with several pools (one key set for every
// pool would let one pool's key sign for another): use [WithPoolJWKS]. The options apply
// to every pool.
func NewMultiPoolAuthorizer(pools []JWTAuthorizerConfig, opts ...AuthorizerOption) (*JWTAuthorizer, error) {
	if len(pools) == 0 {
		return nil, configError("no user pool configured")
	}
	return buildAuthorizer(pools, opts)
}

// buildAuthorizer builds an authorizer for cfgs, one or more pools.
func buildAuthorizer(cfgs []JWTAuthorizerConfig, opts []AuthorizerOption) (*JWTAuthorizer, error) {
	o := newAuthorizerOptions(opts)
	multi := len(cfgs) > 1
	z := &JWTAuthorizer{
		maxSize:  o.maxTokenSize,
		clock:    o.clock,
		byIssuer: map[string]*jwksCache{},
		checks:   slices.Clone(o.checks),

		revocations: o.revocations,
	}
	z.tooLarge = "token is longer than " + strconv.Itoa(z.maxSize) + " bytes"
	static := map[string][]byte{}
	for _, pj := range o.poolKeys {
		if !slices.ContainsFunc(cfgs, func(c JWTAuthorizerConfig) bool { return c.UserPoolID == pj.pool }) {
			return nil, configError("WithPoolJWKS: no configured pool has ID %q", pj.pool)
		}
		static[pj.pool] = pj.jwks
	}
	if o.hasStaticJWKS {
		if multi {
			return nil, configError("WithJWKS gives one key set to every pool, so a key of one pool would sign for all; use WithPoolJWKS for each pool")
		}
		static[cfgs[0].UserPoolID] = o.staticJWKS
	}
	z.verified = newVerifiedCache(o.verifiedCacheSize)
	ids := make([]string, len(cfgs))
	for i, cfg := range cfgs {
		ids[i] = cfg.UserPoolID
	}
	var err error
	if z.tel, err = newAuthzTelemetry(&o, ids); err != nil {
		return nil, configError("meter provider: %v", err)
	}
	doer := o.traced(limitedDoer{client: o.httpClient, limit: maxResponseBody}, spanJWKSFetch)
	for i, cfg := range cfgs {
		// poolErr names the pool when there are several, and keeps the one-pool messages
		// as they were.
		poolErr := func(err error) error {
			if multi {
				return configError("pool %d (%q): %v", i, cfg.UserPoolID, err)
			}
			return configError("%v", err)
		}
		p, issuers, err := newUserPool(cfg, o.endpoint)
		if err != nil {
			return nil, poolErr(err)
		}
		p.index = i
		var set *keySet
		if jwks, ok := static[cfg.UserPoolID]; ok {
			what := "WithJWKS"
			if !o.hasStaticJWKS {
				what = "WithPoolJWKS"
			}
			if set, err = parseJWKS(jwks, o.logger, what); err != nil {
				return nil, poolErr(fmt.Errorf("%s: %v", what, err))
			}
			set.gen = z.keyGens.Add(1)
		}
		for _, iss := range issuers {
			if other, dup := z.byIssuer[iss]; dup {
				return nil, configError("pools %d (%q) and %d (%q) both accept issuer %s: a token of it would have two sets of rules",
					other.pool.index, other.pool.id, i, cfg.UserPoolID, iss)
			}
			c, err := z.newJWKSCache(iss, p, set, o, doer)
			if err != nil {
				return nil, poolErr(err)
			}
			p.issuers = append(p.issuers, c)
			z.issuers = append(z.issuers, c)
			z.byIssuer[iss] = c
		}
		z.pools = append(z.pools, p)
	}
	return z, nil
}

// newJWKSCache returns the key cache of one issuer of p: set when the keys are static,
// else fetched with the generated client.
func (z *JWTAuthorizer) newJWKSCache(iss string, p *userPool, set *keySet, o authorizerOptions, doer gen.HttpRequestDoer) (*jwksCache, error) {
	i := strings.LastIndexByte(iss, '/')
	c := &jwksCache{
		issuer:       iss,
		jwksURL:      iss + "/.well-known/jwks.json",
		poolID:       iss[i+1:],
		pool:         p,
		clock:        o.clock,
		logger:       o.logger,
		refresh:      o.jwksRefresh,
		cooldown:     o.unknownKeyCooldown,
		fetchTimeout: DefaultHTTPTimeout,
		gens:         &z.keyGens,
		tel:          z.tel,
		parse: func(body []byte) (*keySet, error) {
			return parseJWKS(body, o.logger, iss)
		},
	}
	if z.verified != nil {
		c.onChange = z.verified.purge
	}
	if set != nil {
		c.static = true
		c.set.Store(set)
		c.refreshAt.Store(math.MaxInt64)
		return c, nil
	}
	var err error
	if c.client, err = gen.NewClientWithResponses(iss[:i], gen.WithHTTPClient(doer)); err != nil {
		return nil, fmt.Errorf("issuer %s: %v", iss, err)
	}
	return c, nil
}

// newUserPool checks one pool's config and returns its rules and accepted issuers, the
// primary one first. Its errors are the bare reasons; the caller wraps them.
func newUserPool(cfg JWTAuthorizerConfig, endpoint string) (*userPool, []string, error) {
	issuers, err := authorizerIssuers(cfg, endpoint)
	if err != nil {
		return nil, nil, err
	}
	p := &userPool{
		id:        cfg.UserPoolID,
		anyClient: cfg.AllowAnyClient,
		tokenUse:  cfg.TokenUse,
		leeway:    cfg.Leeway,
	}
	switch p.tokenUse {
	case "":
		p.tokenUse = TokenUseAccess
	case TokenUseAccess, TokenUseID, TokenUseAny:
	default:
		return nil, nil, fmt.Errorf("TokenUse %q is not %q, %q or %q", cfg.TokenUse, TokenUseAccess, TokenUseID, TokenUseAny)
	}
	switch {
	case p.leeway == 0:
		p.leeway = DefaultLeeway
	case p.leeway < 0:
		p.leeway = 0
	}
	if cfg.Audience != "" {
		p.clients = append(p.clients, cfg.Audience)
	}
	for _, id := range cfg.ClientIDs {
		if id == "" {
			return nil, nil, errors.New("ClientIDs has an empty client ID")
		}
		if !slices.Contains(p.clients, id) {
			p.clients = append(p.clients, id)
		}
	}
	switch {
	case len(p.clients) == 0 && !p.anyClient:
		return nil, nil, errors.New("no app client: set Audience or ClientIDs, or AllowAnyClient to accept tokens of every client of the pool")
	case len(p.clients) > 0 && p.anyClient:
		return nil, nil, errors.New("AllowAnyClient and Audience or ClientIDs are exclusive")
	}
	if slices.Contains(cfg.RequiredScopes, "") || slices.Contains(cfg.RequiredGroups, "") {
		return nil, nil, errors.New("RequiredScopes and RequiredGroups must not hold empty names")
	}
	p.scopes = slices.Clone(cfg.RequiredScopes)
	p.groups = slices.Clone(cfg.RequiredGroups)
	p.wrongUse = "token_use is not " + string(p.tokenUse)
	if p.tokenUse == TokenUseAny {
		p.wrongUse = "token_use is neither access nor id"
	}
	p.noScope = "token has none of the required scopes: " + strings.Join(p.scopes, " ")
	p.noGroup = "token user is in none of the required groups: " + strings.Join(p.groups, ", ")
	return p, issuers, nil
}

// pickClient makes ClientID of an ID token whose aud lists several clients the first one
// allowed, so that policies reading ClientID see the client the token was accepted for.
func (p *userPool) pickClient(c *Claims) {
	if c.TokenUse != TokenUseID || len(c.Audience) < 2 || p.anyClient {
		return
	}
	for _, aud := range c.Audience {
		if slices.Contains(p.clients, aud) {
			c.ClientID = aud
			return
		}
	}
}

// checkClaims applies the pool's claim rules to verified claims. It runs on every Verify,
// cached tokens included, so that time moves on for them too.
func (p *userPool) checkClaims(c *Claims, now time.Time) error {
	if !p.acceptsIssuer(c.Issuer) {
		return refuse(ErrInvalidIssuer, "iss is not an issuer of the user pool")
	}
	switch use := c.TokenUse; {
	case use != TokenUseAccess && use != TokenUseID,
		p.tokenUse != TokenUseAny && use != p.tokenUse:
		return refuse(ErrInvalidTokenUse, p.wrongUse)
	}
	if !p.anyClient {
		if c.TokenUse == TokenUseAccess {
			if c.ClientID == "" {
				return refuse(ErrInvalidClient, "access token has no client_id")
			}
			if !slices.Contains(p.clients, c.ClientID) {
				return refuse(ErrInvalidClient, "client_id is not an allowed app client")
			}
		} else if !slices.ContainsFunc(c.Audience, p.allowsClient) {
			return refuse(ErrInvalidClient, "aud names no allowed app client")
		}
	}
	if c.expiresAt.IsZero() {
		return refuse(ErrMissingClaim, "token has no exp")
	}
	if now.After(c.expiresAt.Add(p.leeway)) {
		return refuse(ErrTokenExpired, "exp is past by more than the leeway")
	}
	if !c.NotBefore.IsZero() && c.NotBefore.After(now.Add(p.leeway)) {
		return refuse(ErrTokenNotYetValid, "nbf is ahead by more than the leeway")
	}
	if !c.IssuedAt.IsZero() && c.IssuedAt.After(now.Add(p.leeway)) {
		return refuse(ErrIssuedInFuture, "iat is ahead by more than the leeway")
	}
	if c.Sub == "" {
		return refuse(ErrMissingClaim, "token has no sub")
	}
	if len(p.scopes) > 0 && !slices.ContainsFunc(p.scopes, c.HasScope) {
		return refuse(ErrInsufficientScope, p.noScope)
	}
	if len(p.groups) > 0 && !slices.ContainsFunc(p.groups, c.InGroup) {
		return refuse(ErrNotInGroup, p.noGroup)
	}
	return nil
}

func (p *userPool) allowsClient(id string) bool { return slices.Contains(p.clients, id) }

func (p *userPool) acceptsIssuer(iss string) bool {
	for _, c := range p.issuers {
		if c.issuer == iss {
			return true
		}
	}
	return false
}
