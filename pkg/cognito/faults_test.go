package cognito

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/cognitokit/cognitokit/pkg/cognitotest"
)

// The faults an endpoint is made to show, for the token endpoint and the JWKS alike.
type fault string

const (
	faultNone      fault = ""
	faultRefused   fault = "connection refused"
	faultReset     fault = "reset mid-body"
	fault500       fault = "500"
	fault502       fault = "502"
	fault503       fault = "503 with Retry-After"
	fault429       fault = "429"
	faultHTML      fault = "HTML body"
	faultTruncated fault = "truncated JSON"
	faultHuge      fault = "10 MiB body"
	faultHugeSized fault = "10 MiB body, announced"
	faultEndless   fault = "never-ending body"
	faultStall     fault = "30 s stall"
	faultTLS       fault = "TLS handshake failure"
)

var allFaults = []fault{faultRefused, faultReset, fault500, fault502, fault503, fault429, faultHTML,
	faultTruncated, faultHuge, faultHugeSized, faultEndless, faultStall, faultTLS}

// faultServer is an HTTPS endpoint that answers good until told to misbehave. Keep-alives
// are off, so that every request opens a connection and goes through the TLS handshake
// (which faultTLS breaks) and a closed server refuses the next one.
type faultServer struct {
	*httptest.Server
	good     http.HandlerFunc
	mode     atomic.Value // fault
	requests atomic.Int64
	closed   sync.Once
}

// untrustedCert is a self-signed certificate no client of these tests trusts.
var untrustedCert = sync.OnceValue(func() tls.Certificate {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "untrusted"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		panic(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
})

func startFaultServer(t *testing.T, good http.HandlerFunc) *faultServer {
	t.Helper()
	s := &faultServer{good: good}
	s.mode.Store(faultNone)
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	s.Config.SetKeepAlivesEnabled(false)
	s.Config.ErrorLog = log.New(io.Discard, "", 0) // failed handshakes are the point
	s.TLS = &tls.Config{GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
		if s.mode.Load() == faultTLS {
			return &tls.Config{Certificates: []tls.Certificate{untrustedCert()}}, nil
		}
		return nil, nil
	}}
	s.StartTLS()
	t.Cleanup(s.close)
	return s
}

func (s *faultServer) close() { s.closed.Do(s.Server.Close) }

// set makes the server misbehave from now on; faultRefused closes it.
func (s *faultServer) set(f fault) {
	s.mode.Store(f)
	if f == faultRefused {
		s.close()
	}
}

// client trusts the server and bounds each request: what the tests give WithHTTPClient.
func (s *faultServer) client() *http.Client {
	c := s.Server.Client()
	c.Timeout = 500 * time.Millisecond
	return c
}

func (s *faultServer) serve(w http.ResponseWriter, r *http.Request) {
	s.requests.Add(1)
	serveFault(w, r, s.mode.Load().(fault), s.good)
}

// serveFault answers r as fault f says, or with good.
func serveFault(w http.ResponseWriter, r *http.Request, f fault, good http.HandlerFunc) {
	html := "<html><body><h1>Service Unavailable</h1></body></html>"
	goodBody := func() []byte {
		rec := httptest.NewRecorder()
		good(rec, r)
		return rec.Body.Bytes()
	}
	switch f {
	case faultNone, faultTLS, faultRefused:
		good(w, r)
	case fault500, fault502:
		code, _ := strconv.Atoi(string(f))
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(code)
		_, _ = io.WriteString(w, html)
	case fault503:
		w.Header().Set("Retry-After", "1")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, `{"error":"temporarily_unavailable"}`)
	case fault429:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusTooManyRequests)
		_, _ = io.WriteString(w, `{"error":"too_many_requests"}`)
	case faultHTML:
		w.Header().Set("Content-Type", "text/html")
		_, _ = io.WriteString(w, html)
	case faultTruncated:
		body := goodBody()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body[:len(body)/2])
	case faultReset:
		body := goodBody()
		conn, buf, err := http.NewResponseController(w).Hijack()
		if err != nil {
			panic(err)
		}
		fmt.Fprintf(buf, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", len(body))
		_, _ = buf.Write(body[:len(body)/2])
		_ = buf.Flush()
		if tc, ok := conn.(*tls.Conn); ok {
			if raw, ok := tc.NetConn().(*net.TCPConn); ok {
				_ = raw.SetLinger(0) // close with a TCP RST
			}
		}
		_ = conn.Close()
	case faultHuge, faultHugeSized:
		const size = 10 << 20
		w.Header().Set("Content-Type", "application/json")
		if f == faultHugeSized {
			w.Header().Set("Content-Length", strconv.Itoa(size))
		}
		chunk := []byte(strings.Repeat(" ", 64<<10))
		for sent := 0; sent < size; sent += len(chunk) {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	case faultEndless:
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"keys":[`)
		chunk := []byte(strings.Repeat(" ", 32<<10))
		for r.Context().Err() == nil {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	case faultStall:
		// Reading the body lets the server notice when the client gives up, which ends
		// r.Context(); a request body left unread would hold the handler for 30 s.
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
		case <-time.After(30 * time.Second):
		}
	default:
		panic("unknown fault " + string(f))
	}
}

// noLeaks fails the test if goroutines started during it are still running once every
// other cleanup (servers, flights) is done: register it first.
func noLeaks(t *testing.T) {
	t.Helper()
	opt := goleak.IgnoreCurrent()
	t.Cleanup(func() {
		if err := goleak.Find(opt); err != nil {
			t.Error(err)
		}
	})
}

// returnsWithin fails unless the call took less than d: liveness under the caller's
// context (a stalled endpoint would hold it for 30 s), not a performance measurement.
func returnsWithin(t *testing.T, start time.Time, d time.Duration) {
	t.Helper()
	if took := time.Since(start); took > d {
		t.Errorf("took %v, want under %v", took, d)
	}
}

// tokenFaultReason is what GetToken fails with for each fault.
func tokenFaultReason(f fault) error {
	switch f {
	case faultHTML, faultTruncated, faultHuge, faultHugeSized, faultEndless:
		return ErrInvalidTokenResponse
	case faultStall:
		return context.DeadlineExceeded
	default:
		return ErrTokenEndpointUnavailable
	}
}

// tokenFaultAttempts is how many requests GetToken makes for each fault (3 attempts by
// default; answers that are not a token are not retried).
func tokenFaultAttempts(f fault) int64 {
	switch f {
	case faultHTML, faultTruncated, faultHuge, faultHugeSized, faultEndless:
		return 1
	case faultRefused, faultTLS:
		return 0 // never reach the handler
	}
	return 3
}

func goodTokenAnswer(w http.ResponseWriter, _ *http.Request) {
	writeToken(w, "fault-test-token-"+strconv.FormatInt(time.Now().UnixNano(), 36), 3600)
}

// TestTokenEndpointFaults: for every fault of the token endpoint, GetToken fails with
// the documented reason within the caller's context, makes the documented number of
// requests, leaves no goroutine behind, and an authenticator holding a token keeps
// serving it while the fault lasts.
func TestTokenEndpointFaults(t *testing.T) {
	for _, f := range allFaults {
		t.Run(string(f)+"/no token yet", func(t *testing.T) {
			noLeaks(t)
			srv := startFaultServer(t, goodTokenAnswer)
			srv.set(f)
			a, sleeps := newAuth(t, testConfig(srv.URL+"/oauth2/token"), WithHTTPClient(srv.client()), stallRetry(f))
			t.Cleanup(func() { waitFlight(a) })
			deadline := 5 * time.Second
			if f == faultStall {
				deadline = 300 * time.Millisecond
			}
			ctx, cancel := context.WithTimeout(t.Context(), deadline)
			defer cancel()
			start := time.Now()
			tok, err := a.GetToken(ctx)
			returnsWithin(t, start, deadline+2*time.Second)
			if tok != nil || !errors.Is(err, tokenFaultReason(f)) {
				t.Fatalf("GetToken = %v, %v; want %v", tok, err, tokenFaultReason(f))
			}
			if f == faultStall {
				return
			}
			var ae *AuthenticationError
			if !errors.As(err, &ae) {
				t.Fatalf("err %T is not an *AuthenticationError", err)
			}
			if got, want := srv.requests.Load(), tokenFaultAttempts(f); got != want {
				t.Errorf("requests = %d, want %d", got, want)
			}
			if (f == faultHuge || f == faultHugeSized || f == faultEndless) && !errors.Is(err, errBodyTooLarge) {
				t.Errorf("err %v does not say the body was too large", err)
			}
			if f == fault503 && !slicesContain(sleeps.Waits(), time.Second) {
				t.Errorf("waits %v do not honour Retry-After: 1", sleeps.Waits())
			}
			if strings.Contains(err.Error(), "Service Unavailable") {
				t.Errorf("error %q holds the body", err)
			}
		})
		t.Run(string(f)+"/token cached", func(t *testing.T) {
			noLeaks(t)
			srv := startFaultServer(t, goodTokenAnswer)
			clock := newFakeClock()
			logger, logs := newLogger()
			a, _ := newAuth(t, testConfig(srv.URL+"/oauth2/token"), WithHTTPClient(srv.client()),
				WithClock(clock.Now), WithLogger(logger), stallRetry(f))
			t.Cleanup(func() { waitFlight(a) })
			cached := mustToken(t, a)
			srv.set(f)

			// In the refresh-ahead window: the cached token at once, one background refresh,
			// which fails; the token is still served.
			clock.Advance(50 * time.Minute)
			if tok := mustToken(t, a); tok != cached {
				t.Fatalf("got %v, want the cached token", tok)
			}
			waitFlight(a)
			if tok := mustToken(t, a); tok != cached {
				t.Fatalf("after the failed refresh: got %v, want the cached token", tok)
			}
			// Past the point where it would stop being served: still served while it has
			// not expired, since no better one can be had.
			clock.Set(cached.ExpiresAt.Add(-30 * time.Second))
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			defer cancel()
			tok, err := a.GetToken(ctx)
			if f == faultStall {
				// The caller waits for the refresh, at most until its context ends or the
				// refresh fails; either way it never gets an error with a token in hand
				// unless its own context ended.
				if err != nil && !errors.Is(err, context.DeadlineExceeded) || err == nil && tok != cached {
					t.Fatalf("GetToken = %v, %v", tok, err)
				}
			} else if err != nil || tok != cached {
				t.Fatalf("GetToken = %v, %v; want the cached token", tok, err)
			}
			waitFlight(a)
			if !strings.Contains(logs.String(), "serving the cached token") {
				t.Errorf("no warning logged:\n%s", logs)
			}
		})
	}
}

// stallRetry makes one attempt only against a stalled endpoint, so that the fetch the
// caller gave up on ends sooner (each attempt waits out the client's timeout).
func stallRetry(f fault) AuthenticatorOption {
	if f == faultStall {
		return WithRetry(RetryPolicy{MaxAttempts: 1})
	}
	return nil
}

func slicesContain(ds []time.Duration, d time.Duration) bool {
	for _, x := range ds {
		if x == d {
			return true
		}
	}
	return false
}

// faultPool is the local Cognito whose keys the JWKS fault servers publish, made once:
// keys are slow to make. Its tokens are minted with the iss of each fault server.
var faultPool = sync.OnceValues(func() (*cognitotest.Server, error) {
	return cognitotest.New("https://127.0.0.1:9", cognitotest.DefaultConfig())
})

func startJWKSFaultServer(t *testing.T) (*faultServer, *cognitotest.Server) {
	t.Helper()
	pool, err := faultPool()
	if err != nil {
		t.Fatal(err)
	}
	jwks, err := pool.JWKS(poolID)
	if err != nil {
		t.Fatal(err)
	}
	srv := startFaultServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/"+poolID+"/.well-known/jwks.json" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(jwks)
	})
	return srv, pool
}

// faultAuthorizer verifies reader-client access tokens of the fault server's issuer.
func faultAuthorizer(t *testing.T, srv *faultServer, clk *fakeClock, opts ...AuthorizerOption) *JWTAuthorizer {
	t.Helper()
	z, err := NewJWTAuthorizer(JWTAuthorizerConfig{UserPoolID: poolID, Audience: readerClient},
		append([]AuthorizerOption{WithEndpoint(srv.URL), WithHTTPClient(srv.client()), WithClock(clk.Now)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return z
}

// faultToken mints an access token of the fault server's issuer.
func faultToken(t *testing.T, srv *faultServer, pool *cognitotest.Server, username string) string {
	t.Helper()
	return mintAccess(t, pool, cognitotest.TokenOptions{Client: readerClient, Username: username,
		IssuedAt: t0, Claims: map[string]any{"iss": srv.URL + "/" + poolID}})
}

// jwksFaultCause checks the cause a failed JWKS fetch carries, where one is specific.
func jwksFaultCause(t *testing.T, f fault, err error) {
	t.Helper()
	var certErr *tls.CertificateVerificationError
	var ok bool
	switch f {
	case faultStall:
		ok = errors.Is(err, context.DeadlineExceeded)
	case faultTLS:
		ok = errors.As(err, &certErr)
	case faultRefused:
		ok = errors.Is(err, syscall.ECONNREFUSED)
	case faultHuge, faultHugeSized, faultEndless:
		ok = errors.Is(err, errBodyTooLarge)
	case fault500, fault502, fault503, fault429:
		ok = strings.Contains(err.Error(), "HTTP "+string(f)[:3])
	default:
		ok = true
	}
	if !ok {
		t.Errorf("err %v does not carry the cause of %q", err, f)
	}
}

// TestJWKSFaults: for every fault of the JWKS endpoint, a Verify that must wait for keys
// fails with ErrJWKSUnavailable and the cause within the caller's context, leaving no
// goroutine behind; once keys are loaded, a refresh meeting the fault keeps them
// (stale-while-error) and valid tokens keep verifying.
func TestJWKSFaults(t *testing.T) {
	for _, f := range allFaults {
		t.Run(string(f)+"/no keys yet", func(t *testing.T) {
			noLeaks(t)
			srv, pool := startJWKSFaultServer(t)
			clk := newFakeClock()
			z := faultAuthorizer(t, srv, clk)
			t.Cleanup(func() { awaitFetch(z.issuers[0]) })
			tok := faultToken(t, srv, pool, "")
			srv.set(f)
			deadline := 5 * time.Second
			if f == faultStall {
				deadline = 300 * time.Millisecond
			}
			ctx, cancel := context.WithTimeout(t.Context(), deadline)
			defer cancel()
			start := time.Now()
			claims, err := z.Verify(ctx, tok)
			returnsWithin(t, start, deadline+2*time.Second)
			if claims != nil {
				t.Fatal("verified without keys")
			}
			wantReason(t, err, ErrJWKSUnavailable)
			jwksFaultCause(t, f, err)
			assertNoTokenMaterial(t, err.Error(), tok)
		})
		t.Run(string(f)+"/keys loaded", func(t *testing.T) {
			noLeaks(t)
			srv, pool := startJWKSFaultServer(t)
			clk := newFakeClock()
			logs := &logBuffer{}
			z := faultAuthorizer(t, srv, clk, WithLogger(textLogger(logs)))
			t.Cleanup(func() { awaitFetch(z.issuers[0]) })
			if err := z.Warm(t.Context()); err != nil {
				t.Fatal(err)
			}
			srv.set(f)
			clk.Advance(DefaultJWKSRefresh)
			if _, err := z.Verify(t.Context(), faultToken(t, srv, pool, "")); err != nil { // starts the refresh
				t.Fatal(err)
			}
			awaitFetch(z.issuers[0])
			if !strings.Contains(logs.String(), "JWKS refresh failed") {
				t.Fatalf("no warning logged:\n%s", logs)
			}
			if _, err := z.Verify(t.Context(), faultToken(t, srv, pool, "alice")); err != nil {
				t.Fatalf("valid token refused after a failed refresh: %v", err)
			}
		})
	}
}
