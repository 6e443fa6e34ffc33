package cognito

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// rotationKeys are three RSA-2048 keys, made once (keys are slow to make).
var rotationKeys = sync.OnceValue(func() []*rsa.PrivateKey {
	keys := []*rsa.PrivateKey{spareKey()}
	for range 2 {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		keys = append(keys, k)
	}
	return keys
})

// jwksServer serves whatever key set it is given, at the pool's JWKS path.
type jwksServer struct {
	*httptest.Server
	body     atomic.Pointer[[]byte]
	requests atomic.Int64
}

func startJWKSServer(t *testing.T) *jwksServer {
	t.Helper()
	s := &jwksServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		if r.URL.Path != "/"+poolID+"/.well-known/jwks.json" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(*s.body.Load())
	}))
	t.Cleanup(s.Close)
	return s
}

// serve publishes keys under their kids ("k<i>" for rotationKeys()[i] unless named).
func (s *jwksServer) serve(t testing.TB, keys ...any) {
	b := jwksJSON(t, append([]any{}, keys...)...)
	s.body.Store(&b)
}

func kidKey(i int) map[string]any {
	return rsaJWK(fmt.Sprintf("k%d", i), &rotationKeys()[i].PublicKey, nil)
}

// signedBy mints a reader access token of the server's issuer under kid, signed by key.
func (s *jwksServer) signedBy(t testing.TB, kid string, key *rsa.PrivateKey, jti string, now time.Time) string {
	return signRS256(t, map[string]any{"alg": "RS256", "kid": kid}, map[string]any{
		"iss": s.URL + "/" + poolID, "sub": "s-1", "client_id": readerClient, "token_use": "access",
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "jti": jti,
	}, key)
}

func (s *jwksServer) authorizer(t testing.TB, clock func() time.Time, opts ...AuthorizerOption) *JWTAuthorizer {
	t.Helper()
	z, err := NewJWTAuthorizer(JWTAuthorizerConfig{UserPoolID: poolID, Audience: readerClient},
		append([]AuthorizerOption{WithEndpoint(s.URL), WithClock(clock)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return z
}

// TestKeyRotationUnderLoad: 16 goroutines verify genuine and forged tokens while the
// JWKS goes through a Cognito-style rotation (a new key is added, then the old one is
// removed) twice. A genuine token is only ever refused as unknown_key (its key was added
// after the last fetch, or removed), a forged one is never accepted, the JWKS is fetched
// at most twice per stage (one refresh, one unknown-kid refetch per cooldown) however
// many unknown kids arrive, and once the rotation is over the current key verifies and
// the removed ones do not. The clock is moved by hand at each stage.
func TestKeyRotationUnderLoad(t *testing.T) {
	noLeaks(t)
	keys := rotationKeys()
	srv := startJWKSServer(t)
	stages := [][]any{{kidKey(0)}, {kidKey(0), kidKey(1)}, {kidKey(1)}, {kidKey(1), kidKey(2)}, {kidKey(2)}}
	srv.serve(t, stages[0]...)
	clk := newFakeClock()
	z := srv.authorizer(t, clk.Now)
	t.Cleanup(func() { awaitFetch(z.issuers[0]) })
	genuine := make([]string, len(keys))
	forged := make([]string, len(keys))
	for i, k := range keys {
		genuine[i] = srv.signedBy(t, fmt.Sprintf("k%d", i), k, "genuine", clk.Now())
		forged[i] = srv.signedBy(t, fmt.Sprintf("k%d", i), keys[(i+1)%len(keys)], "forged", clk.Now())
	}

	var done atomic.Bool
	// gate is opened by the verification that brings the count of verified genuine
	// tokens to its goal: the driver moves to the next stage when it opens.
	type gate struct {
		goal int64
		once sync.Once
		open chan struct{}
	}
	var current atomic.Pointer[gate]
	var verified, refused atomic.Int64
	newGate := func() *gate {
		g := &gate{goal: verified.Load() + 300, open: make(chan struct{})}
		current.Store(g)
		return g
	}
	first := newGate()
	var wrong sync.Map // description -> struct{}
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Go(func() {
			for i := 0; !done.Load(); i++ {
				k := (w + i) % len(keys)
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				if _, err := z.Verify(ctx, forged[k]); err == nil {
					wrong.Store(fmt.Sprintf("forged token of k%d accepted", k), struct{}{})
				}
				_, err := z.Verify(ctx, genuine[k])
				cancel()
				switch {
				case err == nil:
					if n := verified.Add(1); n >= current.Load().goal {
						g := current.Load()
						g.once.Do(func() { close(g.open) })
					}
				case errors.Is(err, ErrUnknownKey):
					refused.Add(1)
				default:
					wrong.Store(fmt.Sprintf("genuine token of k%d refused: %v", k, err), struct{}{})
				}
			}
		})
	}
	for g, next := first, 1; next <= len(stages); next++ {
		within(t, g.open, 30*time.Second, "300 genuine tokens verifying")
		if next < len(stages) {
			srv.serve(t, stages[next]...)
			clk.Advance(DefaultJWKSRefresh) // due for a refresh, and past any cooldown
			g = newGate()
		}
	}
	done.Store(true)
	wg.Wait()
	wrong.Range(func(k, _ any) bool {
		t.Error(k)
		return true
	})
	if max := int64(2*len(stages) + 1); srv.requests.Load() > max {
		t.Errorf("%d JWKS requests in %d stages, want at most %d", srv.requests.Load(), len(stages), max)
	}
	// The rotation is over: k2 verifies, k0 and k1 are gone.
	awaitFetch(z.issuers[0])
	clk.Advance(DefaultUnknownKeyCooldown)
	if _, err := z.Verify(t.Context(), genuine[2]); err != nil {
		t.Fatalf("current key: %v", err)
	}
	awaitFetch(z.issuers[0])
	for i := range 2 {
		_, err := z.Verify(t.Context(), genuine[i])
		wantReason(t, err, ErrUnknownKey)
	}
	t.Logf("%d genuine tokens verified, %d refused as unknown during the rotation; %d JWKS requests",
		verified.Load(), refused.Load(), srv.requests.Load())
}

// TestAllKeysRemoved: a JWKS that suddenly publishes no key is a failed refresh, not a
// revocation of every key: the last good keys keep verifying (Cognito never empties a
// pool's JWKS; a broken proxy or cache may). A token naming a key the authorizer has not
// seen then waits for a refetch, which fails: ErrJWKSUnavailable, a 503 rather than a
// 401. When keys come back, the next refetch installs them and the removed key retires.
func TestAllKeysRemoved(t *testing.T) {
	noLeaks(t)
	keys := rotationKeys()
	srv := startJWKSServer(t)
	srv.serve(t, kidKey(0))
	clk := newFakeClock()
	logs := &logBuffer{}
	z := srv.authorizer(t, clk.Now, WithLogger(textLogger(logs)))
	t.Cleanup(func() { awaitFetch(z.issuers[0]) })
	old := srv.signedBy(t, "k0", keys[0], "old", clk.Now())
	if _, err := z.Verify(t.Context(), old); err != nil {
		t.Fatal(err)
	}

	srv.serve(t) // {"keys":[]}
	clk.Advance(DefaultJWKSRefresh)
	if _, err := z.Verify(t.Context(), old); err != nil { // starts the refresh
		t.Fatal(err)
	}
	awaitFetch(z.issuers[0])
	if !strings.Contains(logs.String(), "no usable RSA signing key") {
		t.Fatalf("the empty key set was not logged:\n%s", logs)
	}
	if _, err := z.Verify(t.Context(), old); err != nil {
		t.Fatalf("last good key dropped after an empty JWKS: %v", err)
	}
	fresh := srv.signedBy(t, "k1", keys[1], "fresh", clk.Now())
	_, err := z.Verify(t.Context(), fresh)
	wantReason(t, err, ErrJWKSUnavailable)

	srv.serve(t, kidKey(1))
	clk.Advance(DefaultUnknownKeyCooldown)
	if _, err := z.Verify(t.Context(), fresh); err != nil {
		t.Fatalf("key published again: %v", err)
	}
	_, err = z.Verify(t.Context(), old)
	wantReason(t, err, ErrUnknownKey)
}

// TestDuplicateKidsServed: of two keys under one kid, the first verifies; when a refresh
// brings them in the other order, tokens the cache holds for the first key stop
// verifying at once.
func TestDuplicateKidsServed(t *testing.T) {
	noLeaks(t)
	keys := rotationKeys()
	srv := startJWKSServer(t)
	first := rsaJWK("dup", &keys[0].PublicKey, nil)
	second := rsaJWK("dup", &keys[1].PublicKey, nil)
	srv.serve(t, first, second)
	clk := newFakeClock()
	z := srv.authorizer(t, clk.Now)
	t.Cleanup(func() { awaitFetch(z.issuers[0]) })
	byFirst := srv.signedBy(t, "dup", keys[0], "a", clk.Now())
	bySecond := srv.signedBy(t, "dup", keys[1], "b", clk.Now())
	for range 2 { // the second time from the verified-token cache
		if _, err := z.Verify(t.Context(), byFirst); err != nil {
			t.Fatal(err)
		}
	}
	_, err := z.Verify(t.Context(), bySecond)
	wantReason(t, err, ErrInvalidSignature)

	srv.serve(t, second, first)
	clk.Advance(DefaultJWKSRefresh)
	if _, err := z.Verify(t.Context(), byFirst); err != nil { // served by the current keys, starts the refresh
		t.Fatal(err)
	}
	awaitFetch(z.issuers[0])
	_, err = z.Verify(t.Context(), byFirst)
	wantReason(t, err, ErrInvalidSignature)
	if _, err := z.Verify(t.Context(), bySecond); err != nil {
		t.Fatal(err)
	}
}
