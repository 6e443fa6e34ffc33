package cognito

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cognitokit/cognitokit/internal/testkit"
	"github.com/cognitokit/cognitokit/pkg/cognitotest"
)

const (
	poolID       = "us-east-1_LocalPool1"
	readerClient = "1reader0orders0client00001"
	writerClient = "2writer0orders0client00002"
	adminClient  = "3admin00orders0client00003"
)

// localCognito starts the default local Cognito on clk.
func localCognito(t testing.TB, clk *fakeClock) *cognitotest.Server {
	t.Helper()
	cfg := cognitotest.DefaultConfig()
	cfg.Clock = clk.Now
	return cognitotest.Start(t, cfg)
}

// newAuthorizer builds an authorizer for the local Cognito's default pool on clk.
func newAuthorizer(t testing.TB, srv *cognitotest.Server, clk *fakeClock, cfg JWTAuthorizerConfig, opts ...AuthorizerOption) *JWTAuthorizer {
	t.Helper()
	if cfg.UserPoolID == "" {
		cfg.UserPoolID = poolID
	}
	if cfg.Audience == "" && len(cfg.ClientIDs) == 0 && !cfg.AllowAnyClient {
		cfg.Audience = readerClient
	}
	base := []AuthorizerOption{WithEndpoint(srv.BaseURL()), WithClock(clk.Now)}
	z, err := NewJWTAuthorizer(cfg, append(base, opts...)...)
	if err != nil {
		t.Fatalf("NewJWTAuthorizer: %v", err)
	}
	return z
}

func mintAccess(t testing.TB, srv *cognitotest.Server, o cognitotest.TokenOptions) string {
	t.Helper()
	tok, err := srv.MintAccessToken(o)
	if err != nil {
		t.Fatalf("MintAccessToken: %v", err)
	}
	return tok
}

func mintID(t testing.TB, srv *cognitotest.Server, o cognitotest.TokenOptions) string {
	t.Helper()
	if o.Username == "" {
		o.Username = "alice"
	}
	tok, err := srv.MintIDToken(o)
	if err != nil {
		t.Fatalf("MintIDToken: %v", err)
	}
	return tok
}

// spareKey is a second RSA-2048 key, generated once: keys cost ~100 ms each.
var spareKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

// signRS256 builds a compact JWS over header and claims, signed by key.
func signRS256(t testing.TB, header, claims map[string]any, key *rsa.PrivateKey) string {
	t.Helper()
	input := encodeJSON(t, header) + "." + encodeJSON(t, claims)
	digest := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func encodeJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// tokenParts decodes a token's header and payload (for building variants of it).
func tokenParts(t testing.TB, token string) (header, claims map[string]any, sig string) {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d parts", len(parts))
	}
	for i, dst := range []*map[string]any{&header, &claims} {
		b, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			t.Fatal(err)
		}
		d := json.NewDecoder(bytes.NewReader(b))
		d.UseNumber()
		if err := d.Decode(dst); err != nil {
			t.Fatal(err)
		}
	}
	return header, claims, parts[2]
}

// withParts rebuilds a token from a new header and payload, keeping its signature.
func withParts(t testing.TB, header, claims map[string]any, sig string) string {
	t.Helper()
	return encodeJSON(t, header) + "." + encodeJSON(t, claims) + "." + sig
}

// kidOf returns the kid of a token.
func kidOf(t testing.TB, token string) string {
	h, _, _ := tokenParts(t, token)
	kid, _ := h["kid"].(string)
	return kid
}

// rsaJWK is the JWK JSON object of an RSA public key.
func rsaJWK(kid string, pub *rsa.PublicKey, extra map[string]any) map[string]any {
	m := map[string]any{
		"kty": "RSA", "kid": kid, "alg": "RS256", "use": "sig",
		"n": base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
		"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes()),
	}
	for k, v := range extra {
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	return m
}

// ecJWK is the JWK JSON object of a fresh P-256 key.
func ecJWK(t testing.TB, kid string) map[string]any {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pt, err := k.PublicKey.Bytes() // uncompressed point: 0x04 || X || Y
	if err != nil {
		t.Fatal(err)
	}
	return map[string]any{
		"kty": "EC", "kid": kid, "crv": "P-256", "use": "sig", "alg": "ES256",
		"x": base64.RawURLEncoding.EncodeToString(pt[1:33]),
		"y": base64.RawURLEncoding.EncodeToString(pt[33:]),
	}
}

// jwksJSON returns the JSON of a JWKS holding keys (each a JSON value).
func jwksJSON(t testing.TB, keys ...any) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{"keys": keys})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// poolJWKS returns the local Cognito's JWKS keys as JSON values.
func poolJWKS(t testing.TB, srv *cognitotest.Server) []any {
	t.Helper()
	b, err := srv.JWKS(poolID)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct{ Keys []any }
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	return doc.Keys
}

// wantReason fails unless err is an *AuthorizationError with reason want.
func wantReason(t testing.TB, err, want error) {
	t.Helper()
	if err == nil {
		t.Fatalf("err = nil, want %v", want)
	}
	var ae *AuthorizationError
	if !errors.As(err, &ae) {
		t.Fatalf("err = %T %v, want an *AuthorizationError", err, err)
	}
	if !errors.Is(err, want) {
		t.Fatalf("err = %v (%s), want reason %v", err, ReasonCode(err), want)
	}
	if got, wantCode := ReasonCode(err), ReasonCode(want); got != wantCode {
		t.Fatalf("ReasonCode = %q, want %q", got, wantCode)
	}
	if !strings.HasPrefix(err.Error(), "cognito: ") {
		t.Fatalf("error %q does not start with \"cognito: \"", err)
	}
}

// awaitFetch waits for the fetch in flight on c, if any: tests synchronise on it rather
// than sleeping.
func awaitFetch(c *jwksCache) {
	c.mu.Lock()
	f := c.flight
	c.mu.Unlock()
	if f != nil {
		<-f.call.Done()
	}
}

// logBuffer is where tests' loggers write, searched for leaked secrets.
type logBuffer = testkit.LogBuffer

// textLogger is a debug-level text logger writing into b.
func textLogger(b *logBuffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func ctxTimeout(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
