package main

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/cognitokit/cognitokit/internal/corpus"
)

// The corpus's user pool and app clients.
const (
	region  = "us-east-1"
	poolID  = "us-east-1_C0rpus0Pool"
	clientA = "1corpus0client0aaaaaaaaaa"
	clientB = "2corpus0client0bbbbbbbbbb"
	clientC = "3corpus0client0cccccccccc"

	// leeway is cognitokit's default clock skew, and the configs' unless they say.
	leeway = 60
	// farFuture is the last NumericDate cognitokit accepts: 9999-12-31T23:59:59Z.
	farFuture = 253402300799
)

// Names of the verifier configurations (see configs).
const (
	cfgAccess   = "access"
	cfgID       = "id"
	cfgAny      = "any"
	cfgMulti    = "multi"
	cfgScopes   = "scopes"
	cfgGroups   = "groups"
	cfgNoLeeway = "noleeway"
)

var configs = map[string]corpus.Config{
	cfgAccess:   {ClientIDs: []string{clientA}, TokenUse: "access", LeewaySeconds: leeway},
	cfgID:       {ClientIDs: []string{clientA}, TokenUse: "id", LeewaySeconds: leeway},
	cfgAny:      {AnyClient: true, TokenUse: "any", LeewaySeconds: leeway},
	cfgMulti:    {ClientIDs: []string{clientA, clientB}, TokenUse: "access", LeewaySeconds: leeway},
	cfgScopes:   {ClientIDs: []string{clientA, clientB, clientC}, TokenUse: "access", Scopes: []string{"orders/write", "orders/admin"}, LeewaySeconds: leeway},
	cfgGroups:   {AnyClient: true, TokenUse: "any", Groups: []string{"admin", "auditors"}, LeewaySeconds: leeway},
	cfgNoLeeway: {ClientIDs: []string{clientA}, TokenUse: "access", LeewaySeconds: 0},
}

// Reason codes (cognito.ReasonCode) the cases expect.
const (
	ok            = ""
	rMalformed    = "malformed_token"
	rTooLarge     = "token_too_large"
	rAlg          = "algorithm_not_allowed"
	rNoKid        = "missing_key_id"
	rHeader       = "unsupported_header"
	rUnknownKey   = "unknown_key"
	rSignature    = "invalid_signature"
	rIssuer       = "invalid_issuer"
	rTokenUse     = "invalid_token_use"
	rClient       = "invalid_client"
	rMissingClaim = "missing_claim"
	rExpired      = "expired"
	rNotYetValid  = "not_yet_valid"
	rFutureIat    = "issued_in_future"
	rScope        = "insufficient_scope"
	rGroup        = "not_in_group"
)

// gen builds the corpus.
type gen struct {
	seed   string
	now    int64
	issuer string
	values *stream // jti, sub and other random-looking values
	salts  *stream // PSS salts

	// Keys. access and id sign the pool's tokens (two kids, as Cognito); attacker is a
	// key the pool never published; ec, short and dup2 are published in the JWKS but
	// must never verify an RS256 token.
	accessKey, idKey, attacker, short, dup2 *rsa.PrivateKey
	ec                                      *ecdsa.PrivateKey
	kidAccess, kidID                        string

	jwks []obj
	file corpus.File
}

// Key IDs of the JWKS's other keys.
const (
	kidEC     = "ec-p256-1"
	kidShort  = "rsa-1024-1"
	kidNoAlg  = "rsa-noalg-1" // the access key's material, published without alg
	kidRS512  = "rsa-rs512-1" // the ID key's material, published for RS512
	kidEnc    = "rsa-enc-1"   // the access key's material, published for encryption
	kidDup    = "rsa-dup-1"   // published twice: the ID key first, then dup2
	kidAbsent = "4f1c3e0b-not-in-the-jwks"
)

func newGen(seed string, now time.Time) *gen {
	g := &gen{
		seed:   seed,
		now:    now.Unix(),
		issuer: "https://cognito-idp." + region + ".amazonaws.com/" + poolID,
		values: newStream(seed, "values"),
		salts:  newStream(seed, "pss-salts"),
	}
	g.accessKey = rsaKey(seed, "pool-access", 2048)
	g.idKey = rsaKey(seed, "pool-id", 2048)
	g.attacker = rsaKey(seed, "attacker", 2048)
	g.dup2 = rsaKey(seed, "duplicate-kid", 2048)
	g.short = rsaKey(seed, "short", 1024)
	g.ec = ecKey(seed, "ec")
	// Cognito's kids are base64 of 32 bytes; keep the shape.
	g.kidAccess = base64.StdEncoding.EncodeToString(newStream(seed, "kid-access").bytes(32))
	g.kidID = base64.StdEncoding.EncodeToString(newStream(seed, "kid-id").bytes(32))

	g.jwks = []obj{
		rsaJWK(&g.accessKey.PublicKey, kv{"alg", "RS256"}, kv{"kid", g.kidAccess}, kv{"use", "sig"}),
		rsaJWK(&g.idKey.PublicKey, kv{"alg", "RS256"}, kv{"kid", g.kidID}, kv{"use", "sig"}),
		ecJWK(g.ec, kv{"alg", "ES256"}, kv{"kid", kidEC}, kv{"use", "sig"}),
		rsaJWK(&g.short.PublicKey, kv{"alg", "RS256"}, kv{"kid", kidShort}, kv{"use", "sig"}),
		rsaJWK(&g.accessKey.PublicKey, kv{"kid", kidNoAlg}, kv{"use", "sig"}),
		rsaJWK(&g.idKey.PublicKey, kv{"alg", "RS512"}, kv{"kid", kidRS512}, kv{"use", "sig"}),
		rsaJWK(&g.accessKey.PublicKey, kv{"alg", "RS256"}, kv{"kid", kidEnc}, kv{"use", "enc"}),
		rsaJWK(&g.idKey.PublicKey, kv{"alg", "RS256"}, kv{"kid", kidDup}, kv{"use", "sig"}),
		rsaJWK(&g.dup2.PublicKey, kv{"alg", "RS256"}, kv{"kid", kidDup}, kv{"use", "sig"}),
	}
	g.file = corpus.File{
		Seed:         seed,
		Now:          g.now,
		ExpiredAfter: g.now + 2*86400,
		UserPoolID:   poolID,
		Region:       region,
		Issuer:       g.issuer,
		Configs:      configs,
	}
	return g
}

// uuid is a random-looking UUID from the value stream.
func (g *gen) uuid() string {
	b := g.values.bytes(16)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// Claims shaped as Cognito issues them, issued a minute before now for an hour.

func (g *gen) machineAccess(client string) obj {
	iat := g.now - 60
	return obj{
		{"sub", client}, {"iss", g.issuer}, {"version", 2}, {"client_id", client},
		{"token_use", "access"}, {"scope", "orders/read"}, {"auth_time", iat},
		{"exp", iat + 3600}, {"iat", iat}, {"jti", g.uuid()},
	}
}

func (g *gen) userAccess(client string, groups ...string) obj {
	iat := g.now - 60
	o := obj{{"sub", g.uuid()}}
	if len(groups) > 0 {
		o = append(o, kv{"cognito:groups", groups})
	}
	return append(o, obj{
		{"iss", g.issuer}, {"client_id", client}, {"origin_jti", g.uuid()}, {"event_id", g.uuid()},
		{"token_use", "access"}, {"scope", "openid email profile orders/read"}, {"auth_time", iat},
		{"exp", iat + 3600}, {"iat", iat}, {"jti", g.uuid()}, {"username", "alice"},
	}...)
}

func (g *gen) idClaims(aud any) obj {
	iat := g.now - 60
	return obj{
		{"sub", g.uuid()}, {"cognito:groups", []string{"admin", "ops"}}, {"email_verified", true},
		{"iss", g.issuer}, {"cognito:username", "alice"}, {"origin_jti", g.uuid()}, {"aud", aud},
		{"event_id", g.uuid()}, {"token_use", "id"}, {"auth_time", iat}, {"name", "Alice Admin"},
		{"exp", iat + 3600}, {"iat", iat}, {"jti", g.uuid()}, {"email", "alice@example.com"},
		{"custom:tenant", "acme"},
	}
}

// Headers as Cognito writes them: kid first.
func (g *gen) accessHeader() obj { return obj{{"kid", g.kidAccess}, {"alg", "RS256"}} }
func (g *gen) idHeader() obj     { return obj{{"kid", g.kidID}, {"alg", "RS256"}} }

// Signers of the pool.
func (g *gen) signAccess() signer { return rs(g.accessKey, crypto.SHA256) }
func (g *gen) signID() signer     { return rs(g.idKey, crypto.SHA256) }

// jws builds a compact JWS of header and payload (each an obj, or []byte / string of raw
// JSON), signed by s over the encoded parts.
func jws(header, payload any, s signer) string {
	input := part(header) + "." + part(payload)
	return input + "." + b64(s([]byte(input)))
}

// part encodes one JWS part.
func part(v any) string {
	switch v := v.(type) {
	case string:
		return b64([]byte(v))
	case []byte:
		return b64(v)
	default:
		return b64(enc(v))
	}
}

// access is a valid machine access token of client A: the base most cases mutate.
func (g *gen) accessToken(claims obj) string { return jws(g.accessHeader(), claims, g.signAccess()) }
func (g *gen) idToken(claims obj) string     { return jws(g.idHeader(), claims, g.signID()) }

// tc is one case being added.
type tc struct {
	name, group, config, token, reason, note string
}

func (g *gen) add(c tc) {
	if c.config == "" {
		c.config = cfgAccess
	}
	expect := corpus.Valid
	if c.reason != ok {
		expect = corpus.Invalid
	}
	g.file.Cases = append(g.file.Cases, corpus.Case{
		Name: c.name, Group: c.group, Config: c.config, Token: c.token,
		Expect: expect, Reason: c.reason, ReasonAfterExpiry: g.afterExpiry(c), Note: c.note,
	})
}

// afterExpiry is the reason a case gets once ExpiredAfter has passed. Verify checks, in
// order, structure, header, issuer, key, signature, claim types, iss, token_use, client,
// exp present, exp, nbf, iat, sub, scopes, groups: a case refused before the exp check
// keeps its reason; one that reaches it (accepted, or refused for nbf, iat, sub, scopes or
// groups) is then expired, unless its exp is far in the future.
func (g *gen) afterExpiry(c tc) string {
	switch c.reason {
	case ok, rNotYetValid, rFutureIat, rScope, rGroup, rMissingClaim:
	default:
		return c.reason
	}
	v, present := payloadOf(c.token)["exp"]
	if !present {
		return c.reason // no exp: refused before the expiry check
	}
	exp, isNumber := v.(float64)
	if !isNumber {
		panic(fmt.Sprintf("case %q: reason %q with an exp that is not a number", c.name, c.reason))
	}
	if exp+leeway < float64(g.file.ExpiredAfter) {
		return rExpired
	}
	return c.reason
}

// payloadOf decodes a token's payload leniently (the cases that need it are well formed).
func payloadOf(token string) map[string]any {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil
	}
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return nil
	}
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return m
}

// check guards the corpus against authoring mistakes: unique names, every config used,
// enough cases.
func (g *gen) check() error {
	seen := map[string]bool{}
	used := map[string]bool{}
	var errs []error
	for _, c := range g.file.Cases {
		if seen[c.Name] {
			errs = append(errs, fmt.Errorf("duplicate case name %q", c.Name))
		}
		seen[c.Name] = true
		used[c.Config] = true
		if c.Group == "" {
			errs = append(errs, fmt.Errorf("case %q has no group", c.Name))
		}
		if _, ok := configs[c.Config]; !ok {
			errs = append(errs, fmt.Errorf("case %q: unknown config %q", c.Name, c.Config))
		}
	}
	for name := range configs {
		if !used[name] {
			errs = append(errs, fmt.Errorf("config %q is used by no case", name))
		}
	}
	if len(g.file.Cases) < 150 {
		errs = append(errs, fmt.Errorf("only %d cases", len(g.file.Cases)))
	}
	return errors.Join(errs...)
}

// rawHeader and rawPayload are JSON texts written by hand, for what an encoder cannot
// produce (duplicate names, odd spellings).
func (g *gen) accessHeaderJSON() string {
	return `{"kid":` + string(enc(g.kidAccess)) + `,"alg":"RS256"}`
}

// sign signs header.payload parts given already encoded (for encoding tricks).
func signEncoded(h, p string, s signer) string {
	input := h + "." + p
	return input + "." + b64(s([]byte(input)))
}

// replaceSig returns token with its signature part replaced.
func replaceSig(token, sig string) string {
	return token[:strings.LastIndexByte(token, '.')+1] + sig
}

// sigBytes returns the decoded signature of a token.
func sigBytes(token string) []byte {
	b, err := base64.RawURLEncoding.DecodeString(token[strings.LastIndexByte(token, '.')+1:])
	if err != nil {
		panic(err)
	}
	return b
}

// compactJSON re-encodes a JSON text compactly (for raw texts written readably).
func compactJSON(s string) string {
	var b bytes.Buffer
	if err := json.Compact(&b, []byte(s)); err != nil {
		panic(err)
	}
	return b.String()
}
