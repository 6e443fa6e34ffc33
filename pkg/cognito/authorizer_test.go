package cognito

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cognitokit/cognitokit/pkg/cognitotest"
)

// verificationCase is one row of the authorizer's table: a token built against the shared
// fixture, the authorizer that checks it, and the reason it must be refused for (nil: it
// must verify).
type verificationCase struct {
	name  string
	authz string // key in fixture.authz; "" is "access"
	token func(t *testing.T, f *fixture) string
	want  error
	check func(t *testing.T, c *Claims) // extra checks on accepted tokens
}

// fixture is the world the table runs in: a local Cognito, a second JWKS server for an
// extra issuer whose set holds unusable keys, and authorizers of several configurations.
type fixture struct {
	srv      *cognitotest.Server
	clk      *fakeClock
	extraIss string // issuer served by the httptest JWKS
	replica  *rsa.PrivateKey
	short    *rsa.PrivateKey
	pub      *rsa.PublicKey // the pool's access-token key
	authz    map[string]*JWTAuthorizer
	logs     *logBuffer
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{clk: newFakeClock(), replica: spareKey(), logs: &logBuffer{}}
	f.srv = localCognito(t, f.clk)
	short, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	f.short = short
	// The extra issuer's JWKS: one good key and keys an RS256 token must never be
	// verified with.
	extraJWKS := jwksJSON(t,
		rsaJWK("replica-1", &f.replica.PublicKey, nil),
		ecJWK(t, "ec-1"),
		rsaJWK("short-1", &short.PublicKey, nil),
		rsaJWK("rs512-1", &f.replica.PublicKey, map[string]any{"alg": "RS512"}),
		rsaJWK("enc-1", &f.replica.PublicKey, map[string]any{"use": "enc"}),
		rsaJWK("ops-1", &f.replica.PublicKey, map[string]any{"key_ops": []string{"encrypt"}}),
	)
	hts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/"+poolID+"/.well-known/jwks.json" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(extraJWKS)
	}))
	t.Cleanup(hts.Close)
	f.extraIss = hts.URL + "/" + poolID

	f.pub = poolPublicKey(t, f.srv, kidOf(t, mintAccess(t, f.srv, cognitotest.TokenOptions{})))
	mk := func(cfg JWTAuthorizerConfig) *JWTAuthorizer {
		cfg.Issuers = []string{f.extraIss}
		return newAuthorizer(t, f.srv, f.clk, cfg, WithLogger(textLogger(f.logs)))
	}
	f.authz = map[string]*JWTAuthorizer{
		"access": mk(JWTAuthorizerConfig{}),
		"id":     mk(JWTAuthorizerConfig{TokenUse: TokenUseID}),
		"any":    mk(JWTAuthorizerConfig{TokenUse: TokenUseAny, AllowAnyClient: true}),
		"scopes": mk(JWTAuthorizerConfig{ClientIDs: []string{readerClient, writerClient, adminClient},
			RequiredScopes: []string{"orders/write", "orders/admin"}}),
		"groups":   mk(JWTAuthorizerConfig{TokenUse: TokenUseAny, RequiredGroups: []string{"admin", "auditors"}}),
		"noleeway": mk(JWTAuthorizerConfig{Leeway: -1}),
	}
	return f
}

// poolPublicKey finds a key of the local Cognito's JWKS.
func poolPublicKey(t *testing.T, srv *cognitotest.Server, kid string) *rsa.PublicKey {
	t.Helper()
	b, err := srv.JWKS(poolID)
	if err != nil {
		t.Fatal(err)
	}
	set, err := parseJWKS(b, discardLogger(), "test")
	if err != nil {
		t.Fatal(err)
	}
	return set.keys[kid]
}

// access mints an access token for alice (reader client) with claim overrides.
func (f *fixture) access(t *testing.T, claims map[string]any) string {
	return mintAccess(t, f.srv, cognitotest.TokenOptions{Username: "alice", Client: readerClient, Claims: claims})
}

// accessHeader mints an access token for alice with header overrides (still RS256-signed by
// the pool's key).
func (f *fixture) accessHeader(t *testing.T, header map[string]any) string {
	return mintAccess(t, f.srv, cognitotest.TokenOptions{Username: "alice", Client: readerClient, Header: header})
}

func (f *fixture) id(t *testing.T, claims map[string]any) string {
	return mintID(t, f.srv, cognitotest.TokenOptions{Username: "alice", Client: readerClient, Claims: claims})
}

// replicaToken is an access token of the extra issuer, signed by its replica key, with
// header and claim overrides.
func (f *fixture) replicaToken(t *testing.T, header, claims map[string]any, key *rsa.PrivateKey) string {
	h := map[string]any{"alg": "RS256", "kid": "replica-1"}
	maps.Copy(h, header)
	now := f.clk.Now().Unix()
	c := map[string]any{
		"iss": f.extraIss, "sub": "s-1", "client_id": readerClient, "token_use": "access",
		"scope": "orders/read", "iat": now, "exp": now + 3600, "jti": "j-1",
	}
	maps.Copy(c, claims)
	return signRS256(t, h, c, key)
}

// mutate rebuilds token with changed header and claims, keeping the old signature.
func mutate(t *testing.T, token string, header, claims map[string]any) string {
	h, c, sig := tokenParts(t, token)
	maps.Copy(h, header)
	maps.Copy(c, claims)
	return withParts(t, h, c, sig)
}

func rawToken(s string) func(*testing.T, *fixture) string {
	return func(*testing.T, *fixture) string { return s }
}

func b64s(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func verificationCases() []verificationCase {
	now := t0.Unix()
	return []verificationCase{
		// Valid tokens.
		{name: "valid machine access token from the token endpoint", token: func(t *testing.T, f *fixture) string {
			return mintAccess(t, f.srv, cognitotest.TokenOptions{Client: readerClient})
		}, check: func(t *testing.T, c *Claims) {
			if c.Sub != readerClient || c.ClientID != readerClient || c.TokenUse != "access" || !c.HasScope("orders/read") {
				t.Errorf("claims = %+v", c)
			}
		}},
		{name: "valid user access token", token: func(t *testing.T, f *fixture) string { return f.access(t, nil) },
			check: func(t *testing.T, c *Claims) {
				if c.Username != "alice" || !c.InGroup("admin") || c.ClientID != readerClient || len(c.Audience) != 0 {
					t.Errorf("claims = %+v", c)
				}
			}},
		{name: "valid ID token", authz: "id", token: func(t *testing.T, f *fixture) string { return f.id(t, nil) },
			check: func(t *testing.T, c *Claims) {
				tenant, _ := c.Get("custom:tenant")
				if c.Email != "alice@example.com" || !c.EmailVerified || c.Name != "Alice Admin" || c.Username != "alice" ||
					c.ClientID != readerClient || tenant != "acme" {
					t.Errorf("claims = %+v", c)
				}
			}},
		{name: "ID token with aud array holding the client", authz: "id", token: func(t *testing.T, f *fixture) string {
			return f.id(t, map[string]any{"aud": []string{"someone-else", readerClient}})
		}, check: func(t *testing.T, c *Claims) {
			if c.ClientID != readerClient || len(c.Audience) != 2 {
				t.Errorf("ClientID = %q, Audience = %q", c.ClientID, c.Audience)
			}
		}},
		{name: "access token accepted by any-use authorizer", authz: "any", token: func(t *testing.T, f *fixture) string {
			return mintAccess(t, f.srv, cognitotest.TokenOptions{Client: adminClient})
		}},
		{name: "ID token accepted by any-use authorizer", authz: "any", token: func(t *testing.T, f *fixture) string { return f.id(t, nil) }},
		{name: "jku header ignored", token: func(t *testing.T, f *fixture) string {
			return f.accessHeader(t, map[string]any{"jku": "http://127.0.0.1:1/evil-jwks.json"})
		}},
		{name: "x5u header ignored", token: func(t *testing.T, f *fixture) string {
			return f.accessHeader(t, map[string]any{"x5u": "http://127.0.0.1:1/evil.pem"})
		}},
		{name: "embedded jwk header ignored", token: func(t *testing.T, f *fixture) string {
			return f.accessHeader(t, map[string]any{"jwk": rsaJWK("attacker", &f.short.PublicKey, nil)})
		}},
		{name: "x5c header ignored", token: func(t *testing.T, f *fixture) string {
			return f.accessHeader(t, map[string]any{"x5c": []string{"MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA"}})
		}},
		{name: "typ JWT header accepted", token: func(t *testing.T, f *fixture) string {
			return f.accessHeader(t, map[string]any{"typ": "JWT"})
		}},
		{name: "extra issuer token verified with its own JWKS", token: func(t *testing.T, f *fixture) string {
			return f.replicaToken(t, nil, nil, f.replica)
		}},
		{name: "expired 60s ago exactly is within leeway", token: func(t *testing.T, f *fixture) string {
			return f.access(t, map[string]any{"exp": now - 60})
		}},
		{name: "expired 59s ago is within leeway", token: func(t *testing.T, f *fixture) string {
			return f.access(t, map[string]any{"exp": now - 59})
		}},
		{name: "nbf 60s ahead is within leeway", token: func(t *testing.T, f *fixture) string {
			return f.access(t, map[string]any{"nbf": now + 60})
		}},
		{name: "iat 60s ahead is within leeway", token: func(t *testing.T, f *fixture) string {
			return f.access(t, map[string]any{"iat": now + 60})
		}},
		{name: "exp with fraction of a second", token: func(t *testing.T, f *fixture) string {
			return f.access(t, map[string]any{"exp": float64(now) + 0.5})
		}, check: func(t *testing.T, c *Claims) {
			if got := c.ExpiresAt(); !got.Equal(time.Unix(now, 5e8)) {
				t.Errorf("ExpiresAt = %v", got)
			}
		}},
		{name: "unknown and custom claims kept", token: func(t *testing.T, f *fixture) string {
			return f.access(t, map[string]any{"custom:tier": "gold", "x-nested": map[string]any{"a": 1}})
		}, check: func(t *testing.T, c *Claims) {
			if v, _ := c.Get("custom:tier"); v != "gold" {
				t.Errorf("custom:tier = %v", v)
			}
			if v, ok := c.Get("x-nested"); !ok || v.(map[string]any)["a"] != 1.0 {
				t.Errorf("x-nested = %v", v)
			}
		}},
		{name: "email_verified as string", authz: "id", token: func(t *testing.T, f *fixture) string {
			return f.id(t, map[string]any{"email_verified": "true"})
		}, check: func(t *testing.T, c *Claims) {
			if !c.EmailVerified {
				t.Error("EmailVerified = false")
			}
		}},
		{name: "writer has a required scope", authz: "scopes", token: func(t *testing.T, f *fixture) string {
			return mintAccess(t, f.srv, cognitotest.TokenOptions{Client: writerClient})
		}},
		{name: "alice is in a required group", authz: "groups", token: func(t *testing.T, f *fixture) string { return f.id(t, nil) }},
		{name: "no leeway: exp equal to now is valid", authz: "noleeway", token: func(t *testing.T, f *fixture) string {
			return f.access(t, map[string]any{"exp": now})
		}},

		// alg.
		{name: "alg none", want: ErrAlgorithmNotAllowed, token: func(t *testing.T, f *fixture) string {
			tok := f.accessHeader(t, map[string]any{"alg": "none"})
			return tok[:strings.LastIndexByte(tok, '.')+1]
		}},
		{name: "alg None", want: ErrAlgorithmNotAllowed, token: func(t *testing.T, f *fixture) string {
			return f.accessHeader(t, map[string]any{"alg": "None"})
		}},
		{name: "alg NONE without kid", want: ErrAlgorithmNotAllowed, token: func(t *testing.T, f *fixture) string {
			return f.accessHeader(t, map[string]any{"alg": "NONE", "kid": nil})
		}},
		{name: "HS256 signed with the RSA public key (key confusion)", want: ErrAlgorithmNotAllowed, token: func(t *testing.T, f *fixture) string {
			der, err := x509.MarshalPKIXPublicKey(f.pub)
			if err != nil {
				t.Fatal(err)
			}
			secret := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
			h, c, _ := tokenParts(t, f.access(t, nil))
			h["alg"] = "HS256"
			input := encodeJSON(t, h) + "." + encodeJSON(t, c)
			mac := hmac.New(sha256.New, secret)
			mac.Write([]byte(input))
			return input + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
		}},
		{name: "ES256 header", want: ErrAlgorithmNotAllowed, token: func(t *testing.T, f *fixture) string {
			return f.accessHeader(t, map[string]any{"alg": "ES256"})
		}},
		{name: "PS256 header", want: ErrAlgorithmNotAllowed, token: func(t *testing.T, f *fixture) string {
			return f.accessHeader(t, map[string]any{"alg": "PS256"})
		}},
		{name: "RS512 header", want: ErrAlgorithmNotAllowed, token: func(t *testing.T, f *fixture) string {
			return f.accessHeader(t, map[string]any{"alg": "RS512"})
		}},
		{name: "lower-case rs256", want: ErrAlgorithmNotAllowed, token: func(t *testing.T, f *fixture) string {
			return f.accessHeader(t, map[string]any{"alg": "rs256"})
		}},
		{name: "no alg", want: ErrAlgorithmNotAllowed, token: func(t *testing.T, f *fixture) string {
			return f.accessHeader(t, map[string]any{"alg": nil})
		}},
		{name: "alg is a number", want: ErrMalformedToken, token: func(t *testing.T, f *fixture) string {
			return f.accessHeader(t, map[string]any{"alg": 256})
		}},
		{name: "RS256 header naming an EC key", want: ErrAlgorithmNotAllowed, token: func(t *testing.T, f *fixture) string {
			return f.replicaToken(t, map[string]any{"kid": "ec-1"}, nil, f.replica)
		}},
		{name: "RS256 signed by a 1024-bit RSA key in the JWKS", want: ErrAlgorithmNotAllowed, token: func(t *testing.T, f *fixture) string {
			return f.replicaToken(t, map[string]any{"kid": "short-1"}, nil, f.short)
		}},
		{name: "key published for RS512", want: ErrAlgorithmNotAllowed, token: func(t *testing.T, f *fixture) string {
			return f.replicaToken(t, map[string]any{"kid": "rs512-1"}, nil, f.replica)
		}},
		{name: "key published for encryption", want: ErrAlgorithmNotAllowed, token: func(t *testing.T, f *fixture) string {
			return f.replicaToken(t, map[string]any{"kid": "enc-1"}, nil, f.replica)
		}},
		{name: "key whose key_ops exclude verify", want: ErrAlgorithmNotAllowed, token: func(t *testing.T, f *fixture) string {
			return f.replicaToken(t, map[string]any{"kid": "ops-1"}, nil, f.replica)
		}},

		// kid and crit.
		{name: "missing kid", want: ErrMissingKeyID, token: func(t *testing.T, f *fixture) string {
			return f.accessHeader(t, map[string]any{"kid": nil})
		}},
		{name: "empty kid", want: ErrMissingKeyID, token: func(t *testing.T, f *fixture) string {
			return f.accessHeader(t, map[string]any{"kid": ""})
		}},
		{name: "kid is a number", want: ErrMalformedToken, token: func(t *testing.T, f *fixture) string {
			return f.accessHeader(t, map[string]any{"kid": 7})
		}},
		{name: "unknown kid", want: ErrUnknownKey, token: func(t *testing.T, f *fixture) string {
			return f.accessHeader(t, map[string]any{"kid": "not-a-pool-key"})
		}},
		{name: "crit with exp", want: ErrUnsupportedHeader, token: func(t *testing.T, f *fixture) string {
			return f.accessHeader(t, map[string]any{"crit": []string{"exp"}, "exp": now})
		}},
		{name: "crit with b64", want: ErrUnsupportedHeader, token: func(t *testing.T, f *fixture) string {
			return f.accessHeader(t, map[string]any{"crit": []string{"b64"}, "b64": false})
		}},
		{name: "empty crit", want: ErrUnsupportedHeader, token: func(t *testing.T, f *fixture) string {
			return f.accessHeader(t, map[string]any{"crit": []string{}})
		}},

		// Signature.
		{name: "tampered payload", want: ErrInvalidSignature, token: func(t *testing.T, f *fixture) string {
			return mutate(t, f.access(t, nil), nil, map[string]any{"sub": "b0b00000-0000-4000-8000-000000000002"})
		}},
		{name: "tampered scope", want: ErrInvalidSignature, token: func(t *testing.T, f *fixture) string {
			return mutate(t, f.access(t, nil), nil, map[string]any{"scope": "orders/admin"})
		}},
		{name: "tampered header", want: ErrInvalidSignature, token: func(t *testing.T, f *fixture) string {
			return mutate(t, f.access(t, nil), map[string]any{"typ": "JWT"}, nil)
		}},
		{name: "signed by another key with the pool's kid", want: ErrInvalidSignature, token: func(t *testing.T, f *fixture) string {
			return mintAccess(t, f.srv, cognitotest.TokenOptions{Username: "alice", Client: readerClient, SigningKey: f.replica})
		}},
		{name: "access token naming the ID-token key", want: ErrInvalidSignature, token: func(t *testing.T, f *fixture) string {
			return f.accessHeader(t, map[string]any{"kid": kidOf(t, f.id(t, nil))})
		}},
		{name: "signature of another token", want: ErrInvalidSignature, token: func(t *testing.T, f *fixture) string {
			a, b := f.access(t, nil), f.access(t, map[string]any{"scope": "orders/admin"})
			return b[:strings.LastIndexByte(b, '.')] + a[strings.LastIndexByte(a, '.'):]
		}},
		{name: "truncated signature", want: ErrInvalidSignature, token: func(t *testing.T, f *fixture) string {
			h, c, sig := tokenParts(t, f.access(t, nil))
			sigBytes, _ := base64.RawURLEncoding.DecodeString(sig)
			return withParts(t, h, c, base64.RawURLEncoding.EncodeToString(sigBytes[:len(sigBytes)-1]))
		}},
		{name: "empty signature", want: ErrInvalidSignature, token: func(t *testing.T, f *fixture) string {
			tok := f.access(t, nil)
			return tok[:strings.LastIndexByte(tok, '.')+1]
		}},

		// Issuer.
		{name: "wrong issuer", want: ErrInvalidIssuer, token: func(t *testing.T, f *fixture) string {
			return f.access(t, map[string]any{"iss": "https://evil.example/" + poolID})
		}},
		{name: "issuer with trailing slash", want: ErrInvalidIssuer, token: func(t *testing.T, f *fixture) string {
			return f.access(t, map[string]any{"iss": f.srv.Issuer(poolID) + "/"})
		}},
		{name: "issuer of another pool", want: ErrInvalidIssuer, token: func(t *testing.T, f *fixture) string {
			return f.access(t, map[string]any{"iss": f.srv.Issuer("us-east-1_OtherPool")})
		}},
		{name: "issuer in other case", want: ErrInvalidIssuer, token: func(t *testing.T, f *fixture) string {
			return f.access(t, map[string]any{"iss": strings.ToUpper(f.srv.Issuer(poolID))})
		}},
		{name: "AWS issuer under an endpoint override", want: ErrInvalidIssuer, token: func(t *testing.T, f *fixture) string {
			return f.access(t, map[string]any{"iss": "https://cognito-idp.us-east-1.amazonaws.com/" + poolID})
		}},
		{name: "no issuer", want: ErrInvalidIssuer, token: func(t *testing.T, f *fixture) string {
			return f.access(t, map[string]any{"iss": nil})
		}},
		{name: "issuer is a number", want: ErrMalformedToken, token: func(t *testing.T, f *fixture) string {
			return f.access(t, map[string]any{"iss": 42})
		}},
		{name: "extra issuer's claim on a pool-signed token", want: ErrUnknownKey, token: func(t *testing.T, f *fixture) string {
			return f.access(t, map[string]any{"iss": f.extraIss})
		}},

		// token_use.
		{name: "ID token where access is required", want: ErrInvalidTokenUse, token: func(t *testing.T, f *fixture) string {
			return f.id(t, nil)
		}},
		{name: "access token where ID is required", authz: "id", want: ErrInvalidTokenUse, token: func(t *testing.T, f *fixture) string {
			return f.access(t, nil)
		}},
		{name: "refresh token_use", authz: "any", want: ErrInvalidTokenUse, token: func(t *testing.T, f *fixture) string {
			return f.access(t, map[string]any{"token_use": "refresh"})
		}},
		{name: "no token_use", want: ErrInvalidTokenUse, token: func(t *testing.T, f *fixture) string {
			return f.access(t, map[string]any{"token_use": nil})
		}},
		{name: "token_use is a number", want: ErrMalformedToken, token: func(t *testing.T, f *fixture) string {
			return f.access(t, map[string]any{"token_use": 1})
		}},

		// Client.
		{name: "access token of another client", want: ErrInvalidClient, token: func(t *testing.T, f *fixture) string {
			return mintAccess(t, f.srv, cognitotest.TokenOptions{Client: writerClient})
		}},
		{name: "access token without client_id", want: ErrInvalidClient, token: func(t *testing.T, f *fixture) string {
			return f.access(t, map[string]any{"client_id": nil})
		}},
		{name: "access token with aud of the client but no client_id", want: ErrInvalidClient, token: func(t *testing.T, f *fixture) string {
			return f.access(t, map[string]any{"client_id": nil, "aud": readerClient})
		}},
		{name: "ID token of another client", authz: "id", want: ErrInvalidClient, token: func(t *testing.T, f *fixture) string {
			return mintID(t, f.srv, cognitotest.TokenOptions{Client: writerClient})
		}},
		{name: "ID token with aud array without the client", authz: "id", want: ErrInvalidClient, token: func(t *testing.T, f *fixture) string {
			return f.id(t, map[string]any{"aud": []string{writerClient, adminClient}})
		}},
		{name: "ID token with empty aud array", authz: "id", want: ErrInvalidClient, token: func(t *testing.T, f *fixture) string {
			return f.id(t, map[string]any{"aud": []string{}})
		}},
		{name: "ID token client_id does not stand in for aud", authz: "id", want: ErrInvalidClient, token: func(t *testing.T, f *fixture) string {
			return f.id(t, map[string]any{"aud": nil, "client_id": readerClient})
		}},
		{name: "aud array with a number", authz: "id", want: ErrMalformedToken, token: func(t *testing.T, f *fixture) string {
			return f.id(t, map[string]any{"aud": []any{readerClient, 3}})
		}},
		{name: "aud is an object", authz: "id", want: ErrMalformedToken, token: func(t *testing.T, f *fixture) string {
			return f.id(t, map[string]any{"aud": map[string]any{"x": readerClient}})
		}},

		// Time.
		{name: "expired 61s ago", want: ErrTokenExpired, token: func(t *testing.T, f *fixture) string {
			return f.access(t, map[string]any{"exp": now - 61})
		}},
		{name: "expired an hour ago", want: ErrTokenExpired, token: func(t *testing.T, f *fixture) string {
			return mintAccess(t, f.srv, cognitotest.TokenOptions{Client: readerClient, IssuedAt: t0.Add(-2 * time.Hour)})
		}},
		{name: "no leeway: expired 1s ago", authz: "noleeway", want: ErrTokenExpired, token: func(t *testing.T, f *fixture) string {
			return f.access(t, map[string]any{"exp": now - 1})
		}},
		{name: "missing exp", want: ErrMissingClaim, token: func(t *testing.T, f *fixture) string {
			return f.access(t, map[string]any{"exp": nil})
		}},
		{name: "string exp", want: ErrMalformedToken, token: func(t *testing.T, f *fixture) string {
			return f.access(t, map[string]any{"exp": "4102444800"})
		}},
		{name: "boolean exp", want: ErrMalformedToken, token: func(t *testing.T, f *fixture) string {
			return f.access(t, map[string]any{"exp": true})
		}},
		{name: "exp past year 9999", want: ErrMalformedToken, token: func(t *testing.T, f *fixture) string {
			return f.access(t, map[string]any{"exp": 1e300})
		}},
		{name: "negative exp", want: ErrMalformedToken, token: func(t *testing.T, f *fixture) string {
			return f.access(t, map[string]any{"exp": -1})
		}},
		{name: "nbf 61s ahead", want: ErrTokenNotYetValid, token: func(t *testing.T, f *fixture) string {
			return f.access(t, map[string]any{"nbf": now + 61})
		}},
		{name: "iat 61s ahead", want: ErrIssuedInFuture, token: func(t *testing.T, f *fixture) string {
			return f.access(t, map[string]any{"iat": now + 61})
		}},
		{name: "no leeway: nbf 1s ahead", authz: "noleeway", want: ErrTokenNotYetValid, token: func(t *testing.T, f *fixture) string {
			return f.access(t, map[string]any{"nbf": now + 1})
		}},
		{name: "string nbf", want: ErrMalformedToken, token: func(t *testing.T, f *fixture) string {
			return f.access(t, map[string]any{"nbf": "soon"})
		}},
		{name: "string iat", want: ErrMalformedToken, token: func(t *testing.T, f *fixture) string {
			return f.access(t, map[string]any{"iat": "now"})
		}},

		// sub and other claim types.
		{name: "missing sub", want: ErrMissingClaim, token: func(t *testing.T, f *fixture) string {
			return f.access(t, map[string]any{"sub": nil})
		}},
		{name: "empty sub", want: ErrMissingClaim, token: func(t *testing.T, f *fixture) string {
			return f.access(t, map[string]any{"sub": ""})
		}},
		{name: "number sub", want: ErrMalformedToken, token: func(t *testing.T, f *fixture) string {
			return f.access(t, map[string]any{"sub": 12345})
		}},
		{name: "number username", want: ErrMalformedToken, token: func(t *testing.T, f *fixture) string {
			return f.access(t, map[string]any{"username": 7})
		}},
		{name: "email_verified is a number", authz: "id", want: ErrMalformedToken, token: func(t *testing.T, f *fixture) string {
			return f.id(t, map[string]any{"email_verified": 1})
		}},
		{name: "scope is an array", want: ErrMalformedToken, token: func(t *testing.T, f *fixture) string {
			return f.access(t, map[string]any{"scope": []string{"orders/read"}})
		}},
		{name: "groups is a string", want: ErrMalformedToken, token: func(t *testing.T, f *fixture) string {
			return f.access(t, map[string]any{"cognito:groups": "admin"})
		}},
		{name: "groups holds a number", want: ErrMalformedToken, token: func(t *testing.T, f *fixture) string {
			return f.access(t, map[string]any{"cognito:groups": []any{"admin", 1}})
		}},

		// Scopes and groups.
		{name: "reader lacks the required scopes", authz: "scopes", want: ErrInsufficientScope, token: func(t *testing.T, f *fixture) string {
			return mintAccess(t, f.srv, cognitotest.TokenOptions{Client: readerClient})
		}},
		{name: "token without scope claim", authz: "scopes", want: ErrInsufficientScope, token: func(t *testing.T, f *fixture) string {
			return mintAccess(t, f.srv, cognitotest.TokenOptions{Client: adminClient, Claims: map[string]any{"scope": nil}})
		}},
		{name: "scope name must match exactly", authz: "scopes", want: ErrInsufficientScope, token: func(t *testing.T, f *fixture) string {
			return mintAccess(t, f.srv, cognitotest.TokenOptions{Client: adminClient, Scopes: []string{"orders/write2", "Orders/admin"}})
		}},
		{name: "bob is in no required group", authz: "groups", want: ErrNotInGroup, token: func(t *testing.T, f *fixture) string {
			return mintID(t, f.srv, cognitotest.TokenOptions{Username: "bob", Client: readerClient})
		}},
		{name: "machine token has no groups", authz: "groups", want: ErrNotInGroup, token: func(t *testing.T, f *fixture) string {
			return mintAccess(t, f.srv, cognitotest.TokenOptions{Client: readerClient})
		}},

		// Structure.
		{name: "empty token", want: ErrMalformedToken, token: rawToken("")},
		{name: "one segment", want: ErrMalformedToken, token: rawToken(b64s(`{"alg":"RS256"}`))},
		{name: "two segments", want: ErrMalformedToken, token: func(t *testing.T, f *fixture) string {
			tok := f.access(t, nil)
			return tok[:strings.LastIndexByte(tok, '.')]
		}},
		{name: "four segments", want: ErrMalformedToken, token: func(t *testing.T, f *fixture) string {
			return f.access(t, nil) + ".AAAA"
		}},
		{name: "five segments (JWE shape)", want: ErrMalformedToken, token: func(t *testing.T, f *fixture) string {
			return b64s(`{"alg":"RSA-OAEP","enc":"A256GCM"}`) + ".a.b.c.d"
		}},
		{name: "huge number of dots", want: ErrMalformedToken, token: rawToken(strings.Repeat(".", 15000))},
		{name: "dots over the size limit", want: ErrTokenTooLarge, token: rawToken(strings.Repeat(".", 20000))},
		{name: "20 KiB token", want: ErrTokenTooLarge, token: func(t *testing.T, f *fixture) string {
			return f.access(t, map[string]any{"pad": strings.Repeat("x", 20<<10)})
		}},
		{name: "bad base64 in header", want: ErrMalformedToken, token: func(t *testing.T, f *fixture) string {
			return "*" + f.access(t, nil)[1:]
		}},
		{name: "padded base64", want: ErrMalformedToken, token: func(t *testing.T, f *fixture) string {
			tok := f.access(t, nil)
			return tok + "=="
		}},
		{name: "standard base64 alphabet", want: ErrMalformedToken, token: func(t *testing.T, f *fixture) string {
			h, c, sig := tokenParts(t, f.access(t, nil))
			sigBytes, _ := base64.RawURLEncoding.DecodeString(sig)
			std := base64.RawStdEncoding.EncodeToString(sigBytes)
			if !strings.ContainsAny(std, "+/") {
				std = "+" + std[1:]
			}
			return withParts(t, h, c, std)
		}},
		{name: "non-canonical base64 trailing bits", want: ErrMalformedToken, token: func(t *testing.T, f *fixture) string {
			tok := f.access(t, nil)
			d := strings.IndexByte(tok, '.')
			// A header whose length leaves spare bits: set them.
			h := b64s(`{"alg":"RS256","kid":"k"}`) // 25 bytes: 34 chars, 4 spare bits
			last := strings.IndexByte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", h[len(h)-1])
			h = h[:len(h)-1] + string("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"[last|1])
			return h + tok[d:]
		}},
		{name: "line break in token", want: ErrMalformedToken, token: func(t *testing.T, f *fixture) string {
			tok := f.access(t, nil)
			return tok[:20] + "\n" + tok[20:]
		}},
		{name: "space in token", want: ErrMalformedToken, token: func(t *testing.T, f *fixture) string {
			return " " + f.access(t, nil)
		}},
		{name: "header not JSON", want: ErrMalformedToken, token: func(t *testing.T, f *fixture) string {
			tok := f.access(t, nil)
			return b64s("not json") + tok[strings.IndexByte(tok, '.'):]
		}},
		{name: "header is JSON null", want: ErrMalformedToken, token: func(t *testing.T, f *fixture) string {
			tok := f.access(t, nil)
			return b64s("null") + tok[strings.IndexByte(tok, '.'):]
		}},
		{name: "payload not JSON", want: ErrMalformedToken, token: func(t *testing.T, f *fixture) string {
			h, _, sig := tokenParts(t, f.access(t, nil))
			return encodeJSON(t, h) + "." + b64s("{not json") + "." + sig
		}},
		{name: "payload is a JSON array", want: ErrMalformedToken, token: func(t *testing.T, f *fixture) string {
			h, _, sig := tokenParts(t, f.access(t, nil))
			return encodeJSON(t, h) + "." + b64s(`[{"iss":"x"}]`) + "." + sig
		}},
		{name: "payload is JSON null", want: ErrMalformedToken, token: func(t *testing.T, f *fixture) string {
			h, _, sig := tokenParts(t, f.access(t, nil))
			return encodeJSON(t, h) + "." + b64s("null") + "." + sig
		}},
		{name: "payload with trailing garbage", want: ErrMalformedToken, token: func(t *testing.T, f *fixture) string {
			h, _, sig := tokenParts(t, f.access(t, nil))
			return encodeJSON(t, h) + "." + b64s(`{"iss":"x"} x`) + "." + sig
		}},
	}
}

// TestVerifyTable runs every case against the fixture; each refusal must be an
// *AuthorizationError with the expected reason and code, free of token material.
func TestVerifyTable(t *testing.T) {
	cases := verificationCases()
	if len(cases) < 60 {
		t.Fatalf("only %d cases", len(cases))
	}
	f := newFixture(t)
	seen := map[string]bool{}
	for _, tc := range cases {
		if seen[tc.name] {
			t.Fatalf("duplicate case %q", tc.name)
		}
		seen[tc.name] = true
		t.Run(tc.name, func(t *testing.T) {
			z := f.authz[tc.authz]
			if tc.authz == "" {
				z = f.authz["access"]
			}
			token := tc.token(t, f)
			claims, err := z.Verify(t.Context(), token)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				if tc.check != nil {
					tc.check(t, claims)
				}
				return
			}
			if claims != nil {
				t.Errorf("claims = %+v, want nil", claims)
			}
			wantReason(t, err, tc.want)
			assertNoTokenMaterial(t, err.Error(), token)
		})
	}
	assertNoTokenMaterial(t, f.logs.String(), "")
}

// assertNoTokenMaterial fails if s holds any dot-separated part of token longer than 8
// characters, or any of alice's claim values.
func assertNoTokenMaterial(t *testing.T, s, token string) {
	t.Helper()
	for part := range strings.SplitSeq(token, ".") {
		if len(part) > 8 && strings.Contains(s, part) {
			t.Errorf("%q contains a part of the token", s)
		}
	}
	for _, v := range []string{"a11ce000", "alice@example.com", "Alice Admin", "acme", "b0b00000"} {
		if strings.Contains(s, v) {
			t.Errorf("%q contains the claim value %q", s, v)
		}
	}
}

func TestVerifyHeaderCritNull(t *testing.T) {
	// "crit": null is still a crit parameter; refusing it is the safe reading.
	f := newFixture(t)
	tok := f.accessHeader(t, map[string]any{"crit": json.RawMessage("null")})
	_, err := f.authz["access"].Verify(t.Context(), tok)
	wantReason(t, err, ErrUnsupportedHeader)
}

// TestInvalidIssuerFetchesNothing: a token naming an issuer that is not configured is
// refused before any key is fetched, so forged iss values cannot be used to make the
// authorizer download anything.
func TestInvalidIssuerFetchesNothing(t *testing.T) {
	clk := newFakeClock()
	srv := localCognito(t, clk)
	z := newAuthorizer(t, srv, clk, JWTAuthorizerConfig{})
	for _, iss := range []string{srv.Issuer("us-east-1_OtherPool"), "http://127.0.0.1:1/x_y", ""} {
		tok := mintAccess(t, srv, cognitotest.TokenOptions{Client: readerClient, Claims: map[string]any{"iss": iss},
			Header: map[string]any{"kid": "never-seen"}})
		_, err := z.Verify(t.Context(), tok)
		wantReason(t, err, ErrInvalidIssuer)
	}
	if n := srv.Requests(cognitotest.EndpointJWKS); n != 0 {
		t.Fatalf("JWKS requests = %d, want 0", n)
	}
}

// TestVerifyCachedReturnsSameClaims checks the cache returns the same
// *Claims for the same token (the documented sharing) and nothing for others.
func TestVerifyCachedReturnsSameClaims(t *testing.T) {
	clk := newFakeClock()
	srv := localCognito(t, clk)
	z := newAuthorizer(t, srv, clk, JWTAuthorizerConfig{})
	tok := mintAccess(t, srv, cognitotest.TokenOptions{Client: readerClient})
	a, err := z.Verify(t.Context(), tok)
	if err != nil {
		t.Fatal(err)
	}
	b, err := z.Verify(t.Context(), tok)
	if err != nil {
		t.Fatal(err)
	}
	if a != b {
		t.Fatal("second Verify of a token did not come from the verified-token cache")
	}
}

func TestNewJWTAuthorizerConfig(t *testing.T) {
	ok := JWTAuthorizerConfig{UserPoolID: "us-east-1_AbC123xyz", Audience: "client"}
	tests := []struct {
		name    string
		cfg     func(*JWTAuthorizerConfig)
		opts    []AuthorizerOption
		wantErr bool
		issuer  string
		jwks    string
	}{
		{name: "AWS pool", issuer: "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_AbC123xyz",
			jwks: "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_AbC123xyz/.well-known/jwks.json"},
		{name: "region given and matching", cfg: func(c *JWTAuthorizerConfig) { c.Region = "us-east-1" },
			issuer: "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_AbC123xyz"},
		{name: "GovCloud pool", cfg: func(c *JWTAuthorizerConfig) { c.UserPoolID = "us-gov-west-1_AbC123xyz" },
			issuer: "https://cognito-idp.us-gov-west-1.amazonaws.com/us-gov-west-1_AbC123xyz"},
		{name: "region mismatch", cfg: func(c *JWTAuthorizerConfig) { c.Region = "eu-west-1" }, wantErr: true},
		{name: "no pool", cfg: func(c *JWTAuthorizerConfig) { c.UserPoolID = "" }, wantErr: true},
		{name: "pool without region", cfg: func(c *JWTAuthorizerConfig) { c.UserPoolID = "AbC123xyz" }, wantErr: true},
		{name: "pool with path characters", cfg: func(c *JWTAuthorizerConfig) { c.UserPoolID = "us-east-1_abc/../x" }, wantErr: true},
		{name: "pool with bogus region", cfg: func(c *JWTAuthorizerConfig) { c.UserPoolID = "local_abc" }, wantErr: true},
		{name: "bogus region allowed with endpoint", cfg: func(c *JWTAuthorizerConfig) { c.UserPoolID = "local_abc"; c.Region = "x" },
			opts: []AuthorizerOption{WithEndpoint("http://localhost:4566/")}, issuer: "http://localhost:4566/local_abc",
			jwks: "http://localhost:4566/local_abc/.well-known/jwks.json"},
		{name: "endpoint not a URL", opts: []AuthorizerOption{WithEndpoint("localhost:4566")}, wantErr: true},
		{name: "endpoint with query", opts: []AuthorizerOption{WithEndpoint("http://localhost:4566/?a=b")}, wantErr: true},
		{name: "endpoint over plain http to a remote host", opts: []AuthorizerOption{WithEndpoint("http://localstack:4566")}, wantErr: true},
		{name: "endpoint over https to a remote host", cfg: func(c *JWTAuthorizerConfig) { c.UserPoolID = "local_abc"; c.Region = "x" },
			opts: []AuthorizerOption{WithEndpoint("https://cognito.internal.example")}, issuer: "https://cognito.internal.example/local_abc",
			jwks: "https://cognito.internal.example/local_abc/.well-known/jwks.json"},
		{name: "no client", cfg: func(c *JWTAuthorizerConfig) { c.Audience = "" }, wantErr: true},
		{name: "any client explicit", cfg: func(c *JWTAuthorizerConfig) { c.Audience = ""; c.AllowAnyClient = true },
			issuer: "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_AbC123xyz"},
		{name: "any client and a client", cfg: func(c *JWTAuthorizerConfig) { c.AllowAnyClient = true }, wantErr: true},
		{name: "client IDs only", cfg: func(c *JWTAuthorizerConfig) { c.Audience = ""; c.ClientIDs = []string{"a", "b"} },
			issuer: "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_AbC123xyz"},
		{name: "empty client ID", cfg: func(c *JWTAuthorizerConfig) { c.ClientIDs = []string{""} }, wantErr: true},
		{name: "bad token use", cfg: func(c *JWTAuthorizerConfig) { c.TokenUse = "refresh" }, wantErr: true},
		{name: "empty required scope", cfg: func(c *JWTAuthorizerConfig) { c.RequiredScopes = []string{""} }, wantErr: true},
		{name: "empty required group", cfg: func(c *JWTAuthorizerConfig) { c.RequiredGroups = []string{"a", ""} }, wantErr: true},
		{name: "extra https issuer", cfg: func(c *JWTAuthorizerConfig) {
			c.Issuers = []string{"https://cognito-idp.us-west-2.amazonaws.com/us-east-1_AbC123xyz"}
		}, issuer: "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_AbC123xyz"},
		{name: "extra issuer over plain http", cfg: func(c *JWTAuthorizerConfig) { c.Issuers = []string{"http://example.com/us-east-1_x"} }, wantErr: true},
		{name: "extra issuer with trailing slash", cfg: func(c *JWTAuthorizerConfig) {
			c.Issuers = []string{"https://example.com/us-east-1_x/"}
		}, wantErr: true},
		{name: "extra issuer without pool", cfg: func(c *JWTAuthorizerConfig) { c.Issuers = []string{"https://example.com"} }, wantErr: true},
		{name: "extra issuer relative", cfg: func(c *JWTAuthorizerConfig) { c.Issuers = []string{"/us-east-1_x"} }, wantErr: true},
		{name: "static JWKS not JSON", opts: []AuthorizerOption{WithJWKS([]byte("<html>"))}, wantErr: true},
		{name: "static JWKS without usable key", opts: []AuthorizerOption{WithJWKS([]byte(`{"keys":[{"kty":"oct","k":"c2VjcmV0","kid":"h"}]}`))}, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := ok
			if tc.cfg != nil {
				tc.cfg(&cfg)
			}
			z, err := NewJWTAuthorizer(cfg, tc.opts...)
			if tc.wantErr {
				if err == nil || !errors.Is(err, ErrInvalidConfig) || !strings.HasPrefix(err.Error(), "cognito: ") {
					t.Fatalf("err = %v, want ErrInvalidConfig", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if z.Issuer() != tc.issuer {
				t.Errorf("Issuer = %q, want %q", z.Issuer(), tc.issuer)
			}
			if tc.jwks != "" && z.JWKSURL() != tc.jwks {
				t.Errorf("JWKSURL = %q, want %q", z.JWKSURL(), tc.jwks)
			}
		})
	}
}

func TestDefaultIssuers(t *testing.T) {
	z, err := NewJWTAuthorizer(JWTAuthorizerConfig{UserPoolID: "eu-central-1_AbC123xyz", Audience: "c",
		Issuers: []string{"https://cognito-idp.eu-west-1.amazonaws.com/eu-central-1_AbC123xyz"}})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range z.issuers {
		got = append(got, c.issuer+" "+c.jwksURL)
	}
	want := []string{
		"https://cognito-idp.eu-central-1.amazonaws.com/eu-central-1_AbC123xyz https://cognito-idp.eu-central-1.amazonaws.com/eu-central-1_AbC123xyz/.well-known/jwks.json",
		"https://issuer-cognito-idp.eu-central-1.amazonaws.com/eu-central-1_AbC123xyz https://issuer-cognito-idp.eu-central-1.amazonaws.com/eu-central-1_AbC123xyz/.well-known/jwks.json",
		"https://cognito-idp.eu-west-1.amazonaws.com/eu-central-1_AbC123xyz https://cognito-idp.eu-west-1.amazonaws.com/eu-central-1_AbC123xyz/.well-known/jwks.json",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("issuers:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestStaticJWKS: WithJWKS verifies without any network.
func TestStaticJWKS(t *testing.T) {
	clk := newFakeClock()
	srv := localCognito(t, clk)
	jwks, err := srv.JWKS(poolID)
	if err != nil {
		t.Fatal(err)
	}
	z := newAuthorizer(t, srv, clk, JWTAuthorizerConfig{}, WithJWKS(jwks))
	if _, err := z.Verify(t.Context(), mintAccess(t, srv, cognitotest.TokenOptions{Client: readerClient})); err != nil {
		t.Fatal(err)
	}
	_, err = z.Verify(t.Context(), mintAccess(t, srv, cognitotest.TokenOptions{Client: readerClient, Header: map[string]any{"kid": "x"}}))
	wantReason(t, err, ErrUnknownKey)
	if err := z.Warm(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := srv.Requests(cognitotest.EndpointJWKS); n != 0 {
		t.Fatalf("JWKS requests = %d, want 0", n)
	}
}

// TestVerifyNeverLogsTokens verifies, refuses and refreshes with a debug logger and
// checks that neither the token nor claim values reach the log.
func TestVerifyNeverLogsTokens(t *testing.T) {
	clk := newFakeClock()
	srv := localCognito(t, clk)
	logs := &logBuffer{}
	z := newAuthorizer(t, srv, clk, JWTAuthorizerConfig{TokenUse: TokenUseAny}, WithLogger(textLogger(logs)))
	good := mintID(t, srv, cognitotest.TokenOptions{Client: readerClient})
	bad := mintID(t, srv, cognitotest.TokenOptions{Client: readerClient, Header: map[string]any{"kid": "unknown"}})
	for _, tok := range []string{good, bad, good} {
		_, _ = z.Verify(t.Context(), tok)
	}
	srv.FailNext(cognitotest.EndpointJWKS, 1, cognitotest.Fault{Status: 500, Body: good})
	clk.Advance(DefaultJWKSRefresh + time.Second)
	_, _ = z.Verify(t.Context(), good)
	awaitFetch(z.issuers[0])
	out := logs.String()
	if !strings.Contains(out, "JWKS refresh failed") {
		t.Fatalf("expected a refresh warning in the log:\n%s", out)
	}
	assertNoTokenMaterial(t, out, good)
	assertNoTokenMaterial(t, out, bad)
}

// TestVerifyConcurrentMixed verifies from many goroutines at once under -race.
func TestVerifyConcurrentMixed(t *testing.T) {
	clk := newFakeClock()
	srv := localCognito(t, clk)
	z := newAuthorizer(t, srv, clk, JWTAuthorizerConfig{TokenUse: TokenUseAny, AllowAnyClient: true}, WithVerifiedCacheSize(8))
	var toks []string
	for _, c := range []string{readerClient, writerClient, adminClient} {
		toks = append(toks, mintAccess(t, srv, cognitotest.TokenOptions{Client: c}), mintID(t, srv, cognitotest.TokenOptions{Client: c}))
	}
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := range 32 {
		wg.Go(func() {
			for i := range 50 {
				tok := toks[(g+i)%len(toks)]
				c, err := z.Verify(context.Background(), tok)
				if err != nil {
					errs <- err
					return
				}
				if c.Sub == "" {
					errs <- errors.New("empty sub")
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}
