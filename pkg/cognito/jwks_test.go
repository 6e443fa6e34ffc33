package cognito

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cognitokit/cognitokit/pkg/cognitotest"
)

// shortClient makes stalled fetches end quickly, so tests (and their servers' Close) do
// not wait for DefaultHTTPTimeout.
func shortClient() Option { return WithHTTPClient(&http.Client{Timeout: 500 * time.Millisecond}) }

func jwksRequests(srv *cognitotest.Server) int64 { return srv.Requests(cognitotest.EndpointJWKS) }

func wantRequests(t *testing.T, srv *cognitotest.Server, want int64) {
	t.Helper()
	if got := jwksRequests(srv); got != want {
		t.Fatalf("JWKS requests = %d, want %d", got, want)
	}
}

// withKid returns token with its header replaced by {"alg":"RS256","kid":kid}; payload and
// signature stay (the kid is judged before the signature).
func withKid(t testing.TB, token, kid string) string {
	t.Helper()
	return encodeJSON(t, map[string]any{"alg": "RS256", "kid": kid}) + token[strings.IndexByte(token, '.'):]
}

func TestFirstUseFetchesOnce(t *testing.T) {
	clk := newFakeClock()
	srv := localCognito(t, clk)
	z := newAuthorizer(t, srv, clk, JWTAuthorizerConfig{}, WithVerifiedCacheSize(0))
	tok := mintAccess(t, srv, cognitotest.TokenOptions{Client: readerClient})
	start := make(chan struct{})
	var wg sync.WaitGroup
	var failed atomic.Int64
	for range 200 {
		wg.Go(func() {
			<-start
			if _, err := z.Verify(context.Background(), tok); err != nil {
				failed.Add(1)
			}
		})
	}
	close(start)
	wg.Wait()
	if failed.Load() != 0 {
		t.Fatalf("%d Verify calls failed", failed.Load())
	}
	wantRequests(t, srv, 1)
}

func TestWarm(t *testing.T) {
	clk := newFakeClock()
	srv := localCognito(t, clk)
	z := newAuthorizer(t, srv, clk, JWTAuthorizerConfig{})
	if err := z.Warm(t.Context()); err != nil {
		t.Fatal(err)
	}
	wantRequests(t, srv, 1)
	if err := z.Warm(t.Context()); err != nil { // already loaded: no fetch
		t.Fatal(err)
	}
	if _, err := z.Verify(t.Context(), mintAccess(t, srv, cognitotest.TokenOptions{Client: readerClient})); err != nil {
		t.Fatal(err)
	}
	wantRequests(t, srv, 1)
}

func TestWarmFailure(t *testing.T) {
	clk := newFakeClock()
	srv := localCognito(t, clk)
	z := newAuthorizer(t, srv, clk, JWTAuthorizerConfig{}, shortClient())

	srv.FailNext(cognitotest.EndpointJWKS, 1, cognitotest.Fault{Status: 503, Body: "busy"})
	err := z.Warm(t.Context())
	wantReason(t, err, ErrJWKSUnavailable)
	if !strings.Contains(err.Error(), "HTTP 503") || !strings.Contains(err.Error(), z.JWKSURL()) {
		t.Errorf("error %q does not say what failed", err)
	}

	// Warm ignores the backoff that would make Verify fail fast: it is an explicit ask.
	srv.StallNext(cognitotest.EndpointJWKS, 1, 5*time.Second)
	err = z.Warm(ctxTimeout(t, 100*time.Millisecond))
	wantReason(t, err, ErrJWKSUnavailable)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the context's deadline", err)
	}
	awaitFetch(z.issuers[0])
	if err := z.Warm(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// TestWarmSomeIssuers: one issuer loading is enough for Warm; the other is logged.
func TestWarmSomeIssuers(t *testing.T) {
	clk := newFakeClock()
	srv := localCognito(t, clk)
	missing := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(missing.Close)
	logs := &logBuffer{}
	z := newAuthorizer(t, srv, clk, JWTAuthorizerConfig{Issuers: []string{missing.URL + "/" + poolID}}, WithLogger(textLogger(logs)))
	if err := z.Warm(t.Context()); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "HTTP 404") {
		t.Errorf("the failed issuer was not logged:\n%s", logs)
	}

	none := newAuthorizer(t, srv, clk, JWTAuthorizerConfig{Issuers: []string{missing.URL + "/" + poolID}},
		WithEndpoint(missing.URL))
	err := none.Warm(t.Context())
	wantReason(t, err, ErrJWKSUnavailable)
}

// TestUnknownKidStorm: 10,000 concurrent Verify calls with random unknown kids cause one
// JWKS request per cooldown window, and valid tokens keep verifying meanwhile.
func TestUnknownKidStorm(t *testing.T) {
	clk := newFakeClock()
	srv := localCognito(t, clk)
	z := newAuthorizer(t, srv, clk, JWTAuthorizerConfig{})
	if err := z.Warm(t.Context()); err != nil {
		t.Fatal(err)
	}
	valid := mintAccess(t, srv, cognitotest.TokenOptions{Client: readerClient})
	storm := func(n int) {
		t.Helper()
		start := make(chan struct{})
		var wg sync.WaitGroup
		var wrong, validFailed atomic.Int64
		for i := range n {
			wg.Go(func() {
				kid := make([]byte, 12)
				_, _ = rand.Read(kid)
				tok := withKid(t, valid, fmt.Sprintf("%x", kid))
				<-start
				_, err := z.Verify(context.Background(), tok)
				if !errors.Is(err, ErrUnknownKey) {
					wrong.Add(1)
				}
				if i%100 == 0 {
					if _, err := z.Verify(context.Background(), valid); err != nil {
						validFailed.Add(1)
					}
				}
			})
		}
		close(start)
		wg.Wait()
		if wrong.Load() != 0 || validFailed.Load() != 0 {
			t.Fatalf("%d unknown-kid calls not refused with ErrUnknownKey, %d valid tokens refused", wrong.Load(), validFailed.Load())
		}
	}
	storm(10_000)
	wantRequests(t, srv, 2) // the warm-up and one refetch
	storm(1_000)
	wantRequests(t, srv, 2) // still in the cooldown
	clk.Advance(DefaultUnknownKeyCooldown)
	storm(1_000)
	wantRequests(t, srv, 3) // one per window
}

// TestUnknownKidInCooldownFailsFast: inside the cooldown an unknown kid is refused without
// waiting, even while the JWKS endpoint would stall.
func TestUnknownKidInCooldownFailsFast(t *testing.T) {
	clk := newFakeClock()
	srv := localCognito(t, clk)
	z := newAuthorizer(t, srv, clk, JWTAuthorizerConfig{}, WithUnknownKeyCooldown(time.Minute), shortClient())
	valid := mintAccess(t, srv, cognitotest.TokenOptions{Client: readerClient})
	if _, err := z.Verify(t.Context(), valid); err != nil {
		t.Fatal(err)
	}
	_, err := z.Verify(t.Context(), withKid(t, valid, "first-unknown"))
	wantReason(t, err, ErrUnknownKey)
	wantRequests(t, srv, 2)

	srv.StallNext(cognitotest.EndpointJWKS, 1, 5*time.Second)
	clk.Advance(59 * time.Second)
	_, err = z.Verify(ctxTimeout(t, 5*time.Second), withKid(t, valid, "second-unknown"))
	wantReason(t, err, ErrUnknownKey)
	if !strings.Contains(err.Error(), "cooling down") {
		t.Fatalf("err = %v, want the cooldown refusal", err)
	}
	wantRequests(t, srv, 2)
	srv.ClearFaults()

	clk.Advance(time.Second)
	_, err = z.Verify(t.Context(), withKid(t, valid, "third-unknown"))
	wantReason(t, err, ErrUnknownKey)
	wantRequests(t, srv, 3)
}

// TestUnknownKidInCooldownDoesNotJoinARefresh: inside the cooldown an unknown kid fails
// fast even while a periodic refresh is in flight (and stalled): it must not wait for it.
func TestUnknownKidInCooldownDoesNotJoinARefresh(t *testing.T) {
	clk := newFakeClock()
	srv := localCognito(t, clk)
	z := newAuthorizer(t, srv, clk, JWTAuthorizerConfig{}, WithUnknownKeyCooldown(time.Minute),
		WithJWKSRefresh(30*time.Second), WithVerifiedCacheSize(0), shortClient())
	valid := mintAccess(t, srv, cognitotest.TokenOptions{Client: readerClient})
	if _, err := z.Verify(t.Context(), valid); err != nil {
		t.Fatal(err)
	}
	_, err := z.Verify(t.Context(), withKid(t, valid, "first-unknown")) // starts the cooldown
	wantReason(t, err, ErrUnknownKey)
	wantRequests(t, srv, 2)

	srv.StallNext(cognitotest.EndpointJWKS, 1, time.Minute)
	clk.Advance(31 * time.Second)                           // the periodic refresh is due, the cooldown still on
	if _, err := z.Verify(t.Context(), valid); err != nil { // starts the stalled refresh
		t.Fatal(err)
	}
	_, err = z.Verify(t.Context(), withKid(t, valid, "second-unknown"))
	wantReason(t, err, ErrUnknownKey)
	if !strings.Contains(err.Error(), "cooling down") {
		t.Fatalf("err = %v; want the immediate cooldown refusal, not the refresh's outcome", err)
	}
}

// TestKeyRotation: after Cognito rotates its keys, a new token verifies after exactly one
// refetch, and tokens of the removed keys stop verifying (cached ones included).
func TestKeyRotation(t *testing.T) {
	clk := newFakeClock()
	srv := localCognito(t, clk)
	z := newAuthorizer(t, srv, clk, JWTAuthorizerConfig{})
	old := mintAccess(t, srv, cognitotest.TokenOptions{Client: readerClient})
	if _, err := z.Verify(t.Context(), old); err != nil {
		t.Fatal(err)
	}
	if _, err := z.Verify(t.Context(), old); err != nil { // now cached
		t.Fatal(err)
	}
	wantRequests(t, srv, 1)

	if err := srv.RotateKeys(poolID); err != nil {
		t.Fatal(err)
	}
	fresh := mintAccess(t, srv, cognitotest.TokenOptions{Client: readerClient})
	if _, err := z.Verify(t.Context(), fresh); err != nil {
		t.Fatalf("new token after rotation: %v", err)
	}
	wantRequests(t, srv, 2)
	if _, err := z.Verify(t.Context(), fresh); err != nil {
		t.Fatal(err)
	}
	_, err := z.Verify(t.Context(), old)
	wantReason(t, err, ErrUnknownKey)
	wantRequests(t, srv, 2)
}

// TestRemovedKeyStopsAfterRefresh: the periodic refresh alone retires removed keys, even
// for a token served from the verified-token cache.
func TestRemovedKeyStopsAfterRefresh(t *testing.T) {
	clk := newFakeClock()
	srv := localCognito(t, clk)
	z := newAuthorizer(t, srv, clk, JWTAuthorizerConfig{}, WithJWKSRefresh(5*time.Minute))
	old := mintAccess(t, srv, cognitotest.TokenOptions{Client: readerClient, TTL: 24 * time.Hour})
	if _, err := z.Verify(t.Context(), old); err != nil {
		t.Fatal(err)
	}
	if err := srv.RotateKeys(poolID); err != nil {
		t.Fatal(err)
	}
	clk.Advance(5 * time.Minute)
	// Due for refresh: this call starts it in the background and is answered from the
	// current keys.
	if _, err := z.Verify(t.Context(), old); err != nil {
		t.Fatal(err)
	}
	awaitFetch(z.issuers[0])
	wantRequests(t, srv, 2)
	_, err := z.Verify(t.Context(), old)
	wantReason(t, err, ErrUnknownKey)
}

// TestRefreshFailureKeepsKeys: once keys are loaded, a JWKS endpoint that fails in any way
// does not stop valid tokens from verifying, and retries back off.
func TestRefreshFailureKeepsKeys(t *testing.T) {
	jsonHeader := http.Header{"Content-Type": []string{"application/json"}}
	faults := map[string]cognitotest.Fault{
		"500":         {Status: 500, Body: "internal error"},
		"HTML":        {Status: 200, Body: "<html><body>Service Unavailable</body></html>", Header: http.Header{"Content-Type": []string{"text/html"}}},
		"5 MiB":       {Status: 200, Body: `{"keys":[` + strings.Repeat(" ", 5<<20) + `]}`, Header: jsonHeader},
		"stall":       {Delay: 5 * time.Second},
		"no keys":     {Status: 200, Body: `{"keys":[]}`, Header: jsonHeader},
		"keys null":   {Status: 200, Body: `{"keys":null}`, Header: jsonHeader},
		"not JSON":    {Status: 200, Body: `{"keys":[`, Header: jsonHeader},
		"only EC key": {Status: 200, Body: string(jwksJSON(t, ecJWK(t, "ec"))), Header: jsonHeader},
	}
	// One local Cognito for all faults (keys are slow to make); each fault gets a new
	// authorizer and counts requests from where the previous one left them.
	clk := newFakeClock()
	srv := localCognito(t, clk)
	for name, fault := range faults {
		t.Run(name, func(t *testing.T) {
			base := jwksRequests(srv)
			wantRequests := func(t *testing.T, _ *cognitotest.Server, n int64) {
				t.Helper()
				if got := jwksRequests(srv) - base; got != n {
					t.Fatalf("JWKS requests = %d, want %d", got, n)
				}
			}
			logs := &logBuffer{}
			z := newAuthorizer(t, srv, clk, JWTAuthorizerConfig{}, shortClient(), WithLogger(textLogger(logs)))
			if err := z.Warm(t.Context()); err != nil {
				t.Fatal(err)
			}
			srv.FailNext(cognitotest.EndpointJWKS, 1, fault)
			clk.Advance(DefaultJWKSRefresh)
			tok := mintAccess(t, srv, cognitotest.TokenOptions{Client: readerClient})
			if _, err := z.Verify(t.Context(), tok); err != nil { // starts the refresh
				t.Fatal(err)
			}
			awaitFetch(z.issuers[0])
			wantRequests(t, srv, 2)
			if !strings.Contains(logs.String(), "JWKS refresh failed") {
				t.Fatalf("no warning logged:\n%s", logs)
			}
			// Still verifying with the last good keys, and not refetching before the
			// backoff (1 s) is over.
			tok2 := mintAccess(t, srv, cognitotest.TokenOptions{Client: readerClient, Username: "bob"})
			if _, err := z.Verify(t.Context(), tok2); err != nil {
				t.Fatalf("valid token refused after failed refresh: %v", err)
			}
			wantRequests(t, srv, 2)
			clk.Advance(time.Second)
			if _, err := z.Verify(t.Context(), tok2); err != nil {
				t.Fatal(err)
			}
			awaitFetch(z.issuers[0])
			wantRequests(t, srv, 3)
		})
	}
}

// TestColdFetchFailure: before any key set is loaded, a failing JWKS endpoint gives
// ErrJWKSUnavailable within the caller's deadline, and retries back off.
func TestColdFetchFailure(t *testing.T) {
	clk := newFakeClock()
	srv := localCognito(t, clk)
	z := newAuthorizer(t, srv, clk, JWTAuthorizerConfig{}, shortClient())
	tok := mintAccess(t, srv, cognitotest.TokenOptions{Client: readerClient})

	srv.FailNext(cognitotest.EndpointJWKS, 1, cognitotest.Fault{Status: 500})
	_, err := z.Verify(t.Context(), tok)
	wantReason(t, err, ErrJWKSUnavailable)
	wantRequests(t, srv, 1)
	_, err = z.Verify(t.Context(), tok) // within the backoff: fails fast, no request
	wantReason(t, err, ErrJWKSUnavailable)
	wantRequests(t, srv, 1)

	clk.Advance(time.Second)
	srv.StallNext(cognitotest.EndpointJWKS, 1, 5*time.Second)
	_, err = z.Verify(ctxTimeout(t, 100*time.Millisecond), tok)
	wantReason(t, err, ErrJWKSUnavailable)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the caller's deadline", err)
	}
	awaitFetch(z.issuers[0]) // the stalled fetch times out on the client
	wantRequests(t, srv, 2)

	clk.Advance(2 * time.Second)
	if _, err := z.Verify(t.Context(), tok); err != nil {
		t.Fatal(err)
	}
	wantRequests(t, srv, 3)
}

// TestCallerCancelDoesNotCancelFetch: the fetch started for a caller who gives up still
// completes for the others.
func TestCallerCancelDoesNotCancelFetch(t *testing.T) {
	clk := newFakeClock()
	srv := localCognito(t, clk)
	z := newAuthorizer(t, srv, clk, JWTAuthorizerConfig{})
	tok := mintAccess(t, srv, cognitotest.TokenOptions{Client: readerClient})
	srv.StallNext(cognitotest.EndpointJWKS, 1, 200*time.Millisecond)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := z.Verify(ctx, tok)
	wantReason(t, err, ErrJWKSUnavailable)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	if _, err := z.Verify(t.Context(), tok); err != nil {
		t.Fatal(err)
	}
	wantRequests(t, srv, 1)
}

func TestJWKSBackoff(t *testing.T) {
	clk := newFakeClock()
	srv := localCognito(t, clk)
	z := newAuthorizer(t, srv, clk, JWTAuthorizerConfig{}, WithJWKSRefresh(10*time.Second))
	c := z.issuers[0]
	var got []time.Duration
	for range 6 {
		srv.FailNext(cognitotest.EndpointJWKS, 1, cognitotest.Fault{Status: 502})
		_ = c.load(t.Context(), clk.Now(), true)
		c.mu.Lock()
		got = append(got, c.retryAt.Sub(clk.Now()))
		c.mu.Unlock()
	}
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 10 * time.Second, 10 * time.Second}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("backoff = %v, want %v", got, want)
	}
	cold := newAuthorizer(t, srv, clk, JWTAuthorizerConfig{}).issuers[0]
	for range 8 {
		srv.FailNext(cognitotest.EndpointJWKS, 1, cognitotest.Fault{Status: 502})
		_ = cold.load(t.Context(), clk.Now(), true)
	}
	if d := cold.retryAt.Sub(clk.Now()); d != jwksMaxColdBackoff {
		t.Fatalf("cold backoff after 8 failures = %v, want %v", d, jwksMaxColdBackoff)
	}
}

// TestIdenticalRefreshKeepsCache: a refresh that brings the same keys does not throw the
// verified tokens away.
func TestIdenticalRefreshKeepsCache(t *testing.T) {
	clk := newFakeClock()
	srv := localCognito(t, clk)
	z := newAuthorizer(t, srv, clk, JWTAuthorizerConfig{})
	tok := mintAccess(t, srv, cognitotest.TokenOptions{Client: readerClient})
	first, err := z.Verify(t.Context(), tok)
	if err != nil {
		t.Fatal(err)
	}
	gen := z.issuers[0].set.Load().gen
	clk.Advance(DefaultJWKSRefresh)
	if _, err := z.Verify(t.Context(), tok); err != nil {
		t.Fatal(err)
	}
	awaitFetch(z.issuers[0])
	wantRequests(t, srv, 2)
	if g := z.issuers[0].set.Load().gen; g != gen {
		t.Fatalf("generation %d -> %d for an unchanged key set", gen, g)
	}
	again, err := z.Verify(t.Context(), tok)
	if err != nil || again != first {
		t.Fatalf("token not served from the cache after an identical refresh (err %v)", err)
	}
}

// TestJWKSKeyByKey: one malformed key does not drop the others; only usable keys verify.
func TestJWKSKeyByKey(t *testing.T) {
	clk := newFakeClock()
	srv := localCognito(t, clk)
	keys := poolJWKS(t, srv)
	spare := rsaJWK(keys[0].(map[string]any)["kid"].(string), &spareKey().PublicKey, nil)
	body := jwksJSON(t,
		map[string]any{"kty": "RSA", "kid": 5, "n": "AQAB", "e": "AQAB"}, // kid of the wrong type
		map[string]any{"kty": "RSA", "kid": "bad-n", "n": "!!!", "e": "AQAB"},
		map[string]any{"kty": "RSA", "kid": "no-e", "n": keys[0].(map[string]any)["n"]},
		"not an object",
		map[string]any{"kty": "RSA", "n": keys[0].(map[string]any)["n"], "e": "AQAB"}, // no kid
		keys[0],
		spare, // same kid as keys[0]: the first is kept
		keys[1],
	)
	logs := &logBuffer{}
	set, err := parseJWKS(body, textLogger(logs), "test")
	if err != nil {
		t.Fatal(err)
	}
	if len(set.keys) != 2 {
		t.Fatalf("kept %d keys, want 2", len(set.keys))
	}
	if got := strings.Count(logs.String(), "JWKS key skipped"); got != 6 {
		t.Fatalf("%d keys logged as skipped, want 6:\n%s", got, logs)
	}
	z := newAuthorizer(t, srv, clk, JWTAuthorizerConfig{TokenUse: TokenUseAny}, WithJWKS(body))
	for _, tok := range []string{
		mintAccess(t, srv, cognitotest.TokenOptions{Client: readerClient}),
		mintID(t, srv, cognitotest.TokenOptions{Client: readerClient}),
	} {
		if _, err := z.Verify(t.Context(), tok); err != nil {
			t.Fatal(err)
		}
	}
	// The duplicate's private key must not verify under the kept key's kid.
	forged := mintAccess(t, srv, cognitotest.TokenOptions{Client: readerClient, SigningKey: spareKey()})
	_, err = z.Verify(t.Context(), forged)
	wantReason(t, err, ErrInvalidSignature)
}

func TestParseJWKSRejects(t *testing.T) {
	for _, body := range []string{``, `null`, `[]`, `{}`, `{"keys":{}}`, `{"keys":"x"}`, `<html>`, `{"keys":[{"kty":"oct","kid":"a","k":"AAAA"}]}`} {
		if _, err := parseJWKS([]byte(body), discardLogger(), "test"); err == nil {
			t.Errorf("parseJWKS(%q) = nil error", body)
		}
	}
}

// TestJWKSBodyLimit: a JWKS larger than 1 MiB is refused whether or not its length is
// announced.
func TestJWKSBodyLimit(t *testing.T) {
	big := `{"keys":[` + strings.Repeat(" ", maxResponseBody) + `]}`
	for _, announce := range []bool{true, false} {
		t.Run(fmt.Sprint("announced=", announce), func(t *testing.T) {
			hts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if announce {
					w.Header().Set("Content-Length", fmt.Sprint(len(big)))
				}
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(200)
				for i := 0; i < len(big); i += 64 << 10 {
					_, _ = w.Write([]byte(big[i:min(i+64<<10, len(big))]))
					w.(http.Flusher).Flush()
				}
			}))
			t.Cleanup(hts.Close)
			z, err := NewJWTAuthorizer(JWTAuthorizerConfig{UserPoolID: poolID, Audience: readerClient}, WithEndpoint(hts.URL))
			if err != nil {
				t.Fatal(err)
			}
			err = z.Warm(t.Context())
			wantReason(t, err, ErrJWKSUnavailable)
			if !errors.Is(err, errBodyTooLarge) {
				t.Fatalf("err = %v, want the body limit", err)
			}
		})
	}
}

// TestJWKSRequestShape: the fetch is a GET of <issuer>/.well-known/jwks.json through the
// generated client.
func TestJWKSRequestShape(t *testing.T) {
	clk := newFakeClock()
	srv := localCognito(t, clk)
	var got atomic.Value
	hts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.Store(r.Method + " " + r.URL.Path)
		b, _ := srv.JWKS(poolID)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(b)
	}))
	t.Cleanup(hts.Close)
	z, err := NewJWTAuthorizer(JWTAuthorizerConfig{UserPoolID: poolID, Audience: readerClient}, WithEndpoint(hts.URL+"/prefix/"))
	if err != nil {
		t.Fatal(err)
	}
	if err := z.Warm(t.Context()); err != nil {
		t.Fatal(err)
	}
	if want := "GET /prefix/" + poolID + "/.well-known/jwks.json"; got.Load() != want {
		t.Fatalf("request %q, want %q", got.Load(), want)
	}
}
