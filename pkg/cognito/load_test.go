package cognito

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// loadDuration is how long TestLoadUnderFaults runs: a few seconds in `make test`,
// longer with COGNITOKIT_LOAD_DURATION (a Go duration, such as 10s).
func loadDuration(t *testing.T) time.Duration {
	if v := os.Getenv("COGNITOKIT_LOAD_DURATION"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("COGNITOKIT_LOAD_DURATION: %v", err)
		}
		return d
	}
	return 2 * time.Second
}

// chaosFaults are the faults a chaos server picks from for one request in three.
var chaosFaults = []fault{fault500, fault502, fault503, fault429, faultHTML, faultTruncated, faultReset,
	faultStall, faultHuge, faultEndless, faultTLS}

// chaosServer is a token endpoint and a JWKS whose every request may meet a random fault,
// and whose keys rotate.
type chaosServer struct {
	*httptest.Server
	keys    []*rsaKeyPair
	stage   atomic.Int64 // which keys are published: stage%len and (stage+1)%len when odd
	tlsFail atomic.Int64 // handshakes made to fail
	served  atomic.Int64
	faulted atomic.Int64
	minted  sync.Map // stage -> genuine token
}

type rsaKeyPair struct {
	kid  string
	sign func(t testing.TB, header, claims map[string]any) string
	jwk  map[string]any
}

func startChaosServer(t *testing.T) *chaosServer {
	t.Helper()
	c := &chaosServer{}
	for i, k := range rotationKeys() {
		kid := fmt.Sprintf("chaos-%d", i)
		c.keys = append(c.keys, &rsaKeyPair{kid: kid, jwk: rsaJWK(kid, &k.PublicKey, nil),
			sign: func(t testing.TB, h, cl map[string]any) string { return signRS256(t, h, cl, k) }})
	}
	c.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.served.Add(1)
		f := faultNone
		if rand.IntN(3) == 0 {
			f = chaosFaults[rand.IntN(len(chaosFaults)-1)] // faultTLS is the handshake's business
			c.faulted.Add(1)
		}
		serveFault(w, r, f, func(w http.ResponseWriter, r *http.Request) { c.good(t, w, r) })
	}))
	c.Config.SetKeepAlivesEnabled(false)
	c.Config.ErrorLog = log.New(io.Discard, "", 0) // failed handshakes are the point
	c.TLS = &tls.Config{GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
		if rand.IntN(20) == 0 {
			c.tlsFail.Add(1)
			return &tls.Config{Certificates: []tls.Certificate{untrustedCert()}}, nil
		}
		return nil, nil
	}}
	c.StartTLS()
	t.Cleanup(c.Close)
	return c
}

// published returns the keys of the current stage; the newest signs.
func (c *chaosServer) published() []*rsaKeyPair {
	s := int(c.stage.Load())
	n := len(c.keys)
	if s%2 == 1 {
		return []*rsaKeyPair{c.keys[(s/2)%n], c.keys[(s/2+1)%n]}
	}
	return []*rsaKeyPair{c.keys[(s/2)%n]}
}

func (c *chaosServer) issuer() string { return c.URL + "/" + poolID }

// mint returns a token signed by the newest published key.
func (c *chaosServer) mint(t testing.TB, client string, ttl time.Duration) string {
	keys := c.published()
	k := keys[len(keys)-1]
	now := time.Now()
	return k.sign(t, map[string]any{"alg": "RS256", "kid": k.kid}, map[string]any{
		"iss": c.issuer(), "sub": client, "client_id": client, "token_use": "access", "scope": "orders/read",
		"iat": now.Unix(), "exp": now.Add(ttl).Unix(), "jti": fmt.Sprint(rand.Uint64()),
	})
}

func (c *chaosServer) good(t testing.TB, w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/oauth2/token":
		user, _, _ := r.BasicAuth()
		writeToken(w, c.mint(t, user, 2*time.Second), 2)
	case "/" + poolID + "/.well-known/jwks.json":
		keys := []any{}
		for _, k := range c.published() {
			keys = append(keys, k.jwk)
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(jwksJSON(t, keys...))
	default:
		http.NotFound(w, r)
	}
}

// genuine returns a token of the current stage's newest key, minted once per stage so
// that verifiers spend their time verifying, not signing.
func (c *chaosServer) genuine(t testing.TB) string {
	stage := c.stage.Load()
	if tok, ok := c.minted.Load(stage); ok {
		return tok.(string)
	}
	tok, _ := c.minted.LoadOrStore(stage, c.mint(t, readerClient, time.Hour))
	return tok.(string)
}

// forgeries are tokens no verifier may accept: signed by a key the JWKS never published
// under a published kid, alg none, HS256 keyed with a published public key, a genuine
// token with its payload changed.
func (c *chaosServer) forgeries(t *testing.T) []string {
	t.Helper()
	var out []string
	claims := map[string]any{"iss": c.issuer(), "sub": "mallory", "client_id": readerClient, "token_use": "access",
		"scope": "orders/admin", "iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix()}
	for i, k := range c.keys {
		out = append(out, c.keys[(i+1)%len(c.keys)].sign(t, map[string]any{"alg": "RS256", "kid": k.kid}, claims))
		der, err := x509.MarshalPKIXPublicKey(&rotationKeys()[i].PublicKey)
		if err != nil {
			t.Fatal(err)
		}
		input := encodeJSON(t, map[string]any{"alg": "HS256", "kid": k.kid}) + "." + encodeJSON(t, claims)
		mac := hmac.New(sha256.New, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
		mac.Write([]byte(input))
		out = append(out, input+"."+base64.RawURLEncoding.EncodeToString(mac.Sum(nil)))
		out = append(out, encodeJSON(t, map[string]any{"alg": "none", "kid": k.kid})+"."+encodeJSON(t, claims)+".")
		genuine := k.sign(t, map[string]any{"alg": "RS256", "kid": k.kid}, map[string]any{
			"iss": c.issuer(), "sub": "s", "client_id": readerClient, "token_use": "access", "scope": "orders/read",
			"iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix()})
		h, _, sig := tokenParts(t, genuine)
		out = append(out, withParts(t, h, claims, sig))
	}
	return out
}

// TestLoadUnderFaults: 48 goroutines verify genuine and forged tokens and 16 fetch tokens
// (and verify them) for a few seconds (COGNITOKIT_LOAD_DURATION), against a token
// endpoint and a JWKS that fail one request in three at random (5xx, 429, HTML,
// truncated, reset, stalls, oversized and endless bodies, failed TLS handshakes) while
// their keys rotate. No forged token is ever accepted; genuine ones are refused only for
// reasons the faults explain; the heap and the goroutine count stay bounded; nothing
// panics; and when it is over no goroutine is left behind.
func TestLoadUnderFaults(t *testing.T) {
	noLeaks(t)
	srv := startChaosServer(t)
	client := srv.Client()
	client.Timeout = 300 * time.Millisecond
	z, err := NewJWTAuthorizer(JWTAuthorizerConfig{UserPoolID: poolID, AllowAnyClient: true},
		WithEndpoint(srv.URL), WithHTTPClient(client), WithJWKSRefresh(200*time.Millisecond),
		WithUnknownKeyCooldown(100*time.Millisecond), WithVerifiedCacheSize(256))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { awaitFetch(z.issuers[0]) })
	var authns []*ClientCredentialsAuthenticator
	for i := range 4 {
		a, err := NewClientCredentialsAuthenticator(ClientCredentialsConfig{ClientID: fmt.Sprintf("client-%d", i),
			ClientSecret: "s", TokenURL: srv.URL + "/oauth2/token"}, WithHTTPClient(client),
			WithRetry(RetryPolicy{MaxAttempts: 3, BaseDelay: 10 * time.Millisecond, MaxDelay: 100 * time.Millisecond}))
		if err != nil {
			t.Fatal(err)
		}
		authns = append(authns, a)
		t.Cleanup(func() { waitFlight(a) })
	}
	forged := srv.forgeries(t)

	var runtime0 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&runtime0)

	ctx, stop := context.WithTimeout(t.Context(), loadDuration(t))
	defer stop()
	var (
		wg                                     sync.WaitGroup
		accepted, refused, fetched, fetchFails atomic.Int64
		wrong                                  sync.Map
		maxHeap, maxGoroutines                 atomic.Uint64
	)
	report := func(format string, args ...any) { wrong.Store(fmt.Sprintf(format, args...), struct{}{}) }
	// A genuine token may be refused while its key is not (or no longer) known, while the
	// keys cannot be fetched, or once it has expired; for nothing else.
	genuineRefusal := func(err error) bool {
		return errors.Is(err, ErrUnknownKey) || errors.Is(err, ErrJWKSUnavailable) || errors.Is(err, ErrTokenExpired)
	}
	for range 48 {
		wg.Go(func() {
			for ctx.Err() == nil {
				opCtx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
				if rand.IntN(4) == 0 {
					if c, err := z.Verify(opCtx, forged[rand.IntN(len(forged))]); err == nil {
						report("forged token accepted: %+v", c)
					}
				}
				if rand.IntN(10) == 0 {
					// An unknown kid: a refetch, at most one per cooldown, and a refusal.
					h, c, sig := tokenParts(t, srv.genuine(t))
					h["kid"] = fmt.Sprint("unknown-", rand.Uint64())
					if _, err := z.Verify(opCtx, withParts(t, h, c, sig)); err == nil {
						report("token with an unknown kid accepted")
					}
				}
				_, err := z.Verify(opCtx, srv.genuine(t))
				cancel()
				switch {
				case err == nil:
					accepted.Add(1)
				case genuineRefusal(err):
					refused.Add(1)
				case ctx.Err() == nil:
					report("genuine token refused: %v", err)
				}
			}
		})
	}
	for i := range 16 {
		wg.Go(func() {
			a := authns[i%len(authns)]
			for ctx.Err() == nil {
				opCtx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
				tok, err := a.GetToken(opCtx)
				if err == nil {
					fetched.Add(1)
					if _, err := z.Verify(opCtx, tok.Token); err != nil && !genuineRefusal(err) && ctx.Err() == nil {
						report("fetched token refused: %v", err)
					}
					if rand.IntN(3) == 0 {
						a.Invalidate() // as after a downstream 401: the next call fetches
					}
				} else {
					fetchFails.Add(1)
					var ae *AuthenticationError
					if !errors.As(err, &ae) && !errors.Is(err, context.DeadlineExceeded) {
						report("GetToken error %T: %v", err, err)
					}
				}
				cancel()
			}
		})
	}
	// Rotate the keys and watch the process's resources while the load runs.
	wg.Go(func() {
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for n := 0; ; n++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			if n%3 == 2 {
				srv.stage.Add(1)
			}
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			maxHeap.Store(max(maxHeap.Load(), m.HeapInuse))
			maxGoroutines.Store(max(maxGoroutines.Load(), uint64(runtime.NumGoroutine())))
		}
	})
	wg.Wait()

	wrong.Range(func(k, _ any) bool {
		t.Error(k)
		return true
	})
	if accepted.Load() == 0 || fetched.Load() == 0 {
		t.Errorf("no progress under faults: %d tokens accepted, %d fetched", accepted.Load(), fetched.Load())
	}
	// Bounds generous enough for the race detector, tight enough to catch growth with
	// the load: a leak of goroutines or of response bodies would pass them in seconds.
	if g := maxGoroutines.Load(); g > 500 {
		t.Errorf("up to %d goroutines", g)
	}
	if h := maxHeap.Load(); h > runtime0.HeapInuse+128<<20 {
		t.Errorf("heap in use up to %d MiB (%d MiB before)", h>>20, runtime0.HeapInuse>>20)
	}
	t.Logf("%v: %d genuine tokens accepted, %d refused for keys or expiry, %d tokens fetched, %d fetches failed; "+
		"server: %d requests, %d faulted, %d TLS handshakes failed; key stage %d; up to %d goroutines, %d MiB heap",
		loadDuration(t), accepted.Load(), refused.Load(), fetched.Load(), fetchFails.Load(), srv.served.Load(),
		srv.faulted.Load(), srv.tlsFail.Load(), srv.stage.Load(), maxGoroutines.Load(), maxHeap.Load()>>20)
}
