package cognito

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

// apiCall is what the downstream service received.
type apiCall struct{ authorization, body string }

// startAPI starts a downstream service that answers status(authorization) and records
// each call.
func startAPI(t *testing.T, status func(authorization string) int) (*httptest.Server, func() []apiCall) {
	var mu sync.Mutex
	var calls []apiCall
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		auth := r.Header.Get("Authorization")
		mu.Lock()
		calls = append(calls, apiCall{auth, string(body)})
		mu.Unlock()
		code := status(auth)
		w.WriteHeader(code)
		_, _ = io.WriteString(w, http.StatusText(code))
	}))
	t.Cleanup(srv.Close)
	return srv, func() []apiCall {
		mu.Lock()
		defer mu.Unlock()
		return append([]apiCall(nil), calls...)
	}
}

func rejectToken(token string) func(string) int {
	return func(auth string) int {
		if auth == "Bearer "+token {
			return http.StatusUnauthorized
		}
		return http.StatusOK
	}
}

func TestTransportSetsBearer(t *testing.T) {
	te := startTokenEndpoint(t, nil)
	a, _ := newAuth(t, testConfig(te.TokenURL()))
	api, calls := startAPI(t, rejectToken("none"))
	client := &http.Client{Transport: a.Transport(nil)}
	req, _ := http.NewRequest(http.MethodGet, api.URL+"/orders", nil)
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := calls(); len(got) != 1 || got[0].authorization != "Bearer token-1" {
		t.Errorf("calls = %+v; want one with Bearer token-1", got)
	}
	if req.Header.Get("Authorization") != "" || req.Header.Get("Accept") != "application/json" {
		t.Error("the caller's request was modified")
	}
}

func TestTransport401RetriesOnceWithFreshToken(t *testing.T) {
	te := startTokenEndpoint(t, nil)
	a, _ := newAuth(t, testConfig(te.TokenURL()))
	api, calls := startAPI(t, rejectToken("token-1"))
	client := &http.Client{Transport: a.Transport(http.DefaultTransport)}
	// http.NewRequest sets GetBody for a strings.Reader: the body can be sent again.
	req, _ := http.NewRequest(http.MethodPost, api.URL+"/orders", strings.NewReader(`{"id":1}`))
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("status = %d; want 200 after the retry", resp.StatusCode)
	}
	want := []apiCall{{"Bearer token-1", `{"id":1}`}, {"Bearer token-2", `{"id":1}`}}
	if got := calls(); len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("calls = %+v; want %+v", got, want)
	}
	if n := te.requests.Load(); n != 2 {
		t.Errorf("token requests = %d; want 2", n)
	}
}

// recordingBody is a request body without GetBody, that records Close.
type recordingBody struct {
	io.Reader
	closed atomic.Bool
}

func (b *recordingBody) Close() error { b.closed.Store(true); return nil }

func TestTransportNoRetryWhenBodyCannotBeReplayed(t *testing.T) {
	te := startTokenEndpoint(t, nil)
	a, _ := newAuth(t, testConfig(te.TokenURL()))
	api, calls := startAPI(t, rejectToken("token-1"))
	client := &http.Client{Transport: a.Transport(nil)}
	body := &recordingBody{Reader: strings.NewReader("once")}
	req, _ := http.NewRequest(http.MethodPost, api.URL+"/orders", body)
	if req.GetBody != nil {
		t.Fatal("test needs a request without GetBody")
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	text, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || string(text) != "Unauthorized" {
		t.Errorf("got %d %q; want the 401 with its body", resp.StatusCode, text)
	}
	if got := calls(); len(got) != 1 {
		t.Errorf("calls = %+v; want 1", got)
	}
	if !body.closed.Load() {
		t.Error("request body not closed")
	}
	// The rejected token was still dropped.
	if tok := mustToken(t, a); tok.Token != "token-2" {
		t.Errorf("next token = %v; want token-2", tok)
	}
}

func TestTransportNoLoopWhenRetryIs401Too(t *testing.T) {
	te := startTokenEndpoint(t, nil)
	clock := newFakeClock()
	a, _ := newAuth(t, testConfig(te.TokenURL()), WithClock(clock.Now))
	api, calls := startAPI(t, func(string) int { return http.StatusUnauthorized })
	client := &http.Client{Transport: a.Transport(nil)}
	get := func() {
		t.Helper()
		resp, err := client.Get(api.URL)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("status = %d", resp.StatusCode)
		}
	}
	get()
	if n, tokens := len(calls()), te.requests.Load(); n != 2 || tokens != 2 {
		t.Fatalf("first call: %d API calls, %d token requests; want 2 and 2", n, tokens)
	}
	// A service that rejects every token does not get a token request per call.
	for range 10 {
		get()
	}
	if n, tokens := len(calls()), te.requests.Load(); n != 12 || tokens != 2 {
		t.Fatalf("after 10 more calls: %d API calls, %d token requests; want 12 and 2", n, tokens)
	}
	clock.Advance(rejectCooldown)
	get()
	if n, tokens := len(calls()), te.requests.Load(); n != 14 || tokens != 3 {
		t.Errorf("after the cooldown: %d API calls, %d token requests; want 14 and 3", n, tokens)
	}
}

func TestTransportConcurrent401sInvalidateOnce(t *testing.T) {
	te := startTokenEndpoint(t, nil)
	a, _ := newAuth(t, testConfig(te.TokenURL()))
	const n = 50
	var arrived atomic.Int64
	allIn := make(chan struct{})
	api, _ := startAPI(t, func(auth string) int {
		if auth != "Bearer token-1" {
			return http.StatusOK
		}
		// Hold every first attempt until all have been sent with the same token.
		if arrived.Add(1) == n {
			close(allIn)
		}
		<-allIn
		return http.StatusUnauthorized
	})
	client := &http.Client{Transport: a.Transport(nil)}
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := client.Get(api.URL)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Errorf("status = %d", resp.StatusCode)
			}
		}()
	}
	wg.Wait()
	if tokens := te.requests.Load(); tokens != 2 {
		t.Errorf("token requests = %d; want 2 (one invalidation for %d rejections)", tokens, n)
	}
}

func TestTransportTokenFailure(t *testing.T) {
	te := startTokenEndpoint(t, func(n int64, w http.ResponseWriter, r *http.Request) {
		writeJSONBody(w, http.StatusBadRequest, map[string]string{"error": "invalid_client"})
	})
	a, _ := newAuth(t, testConfig(te.TokenURL()))
	api, calls := startAPI(t, rejectToken("none"))
	client := &http.Client{Transport: a.Transport(nil)}
	body := &recordingBody{Reader: strings.NewReader("x")}
	req, _ := http.NewRequest(http.MethodPost, api.URL, body)
	_, err := client.Do(req)
	var ae *AuthenticationError
	if !errors.As(err, &ae) || ae.ErrorCode != "invalid_client" {
		t.Fatalf("error = %v; want the *AuthenticationError", err)
	}
	if len(calls()) != 0 {
		t.Error("the request was sent without a token")
	}
	if !body.closed.Load() {
		t.Error("request body not closed")
	}
}

func TestTokenSourceWithOAuth2Client(t *testing.T) {
	te := startTokenEndpoint(t, nil)
	a, _ := newAuth(t, testConfig(te.TokenURL()))
	api, calls := startAPI(t, rejectToken("none"))
	client := oauth2.NewClient(context.Background(), a.TokenSource())
	for range 3 {
		resp, err := client.Get(api.URL)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	for _, c := range calls() {
		if c.authorization != "Bearer token-1" {
			t.Errorf("API got %q; want Bearer token-1", c.authorization)
		}
	}
	if n := te.requests.Load(); n != 1 {
		t.Errorf("token requests = %d; want 1", n)
	}
	tok, err := a.TokenSource().Token()
	if err != nil {
		t.Fatal(err)
	}
	e := a.cur.Load()
	if tok.AccessToken != "token-1" || tok.Type() != "Bearer" || !tok.Expiry.Equal(e.freshUntil) || !tok.Valid() {
		t.Errorf("oauth2 token = %+v; want token-1, Bearer, expiry at the end of the fresh window", tok)
	}
	if d := time.Until(tok.Expiry); d < 58*time.Minute || d > 59*time.Minute {
		t.Errorf("expiry in %v; want 59 minutes (1h less the 60s margin)", d)
	}
}

func TestTokenSourceError(t *testing.T) {
	te := startTokenEndpoint(t, func(n int64, w http.ResponseWriter, r *http.Request) {
		writeJSONBody(w, http.StatusBadRequest, map[string]string{"error": "invalid_scope"})
	})
	a, _ := newAuth(t, testConfig(te.TokenURL()))
	api, calls := startAPI(t, rejectToken("none"))
	_, err := oauth2.NewClient(context.Background(), a.TokenSource()).Get(api.URL)
	if !errors.Is(err, ErrTokenRequestRejected) {
		t.Errorf("error = %v; want ErrTokenRequestRejected", err)
	}
	if len(calls()) != 0 {
		t.Error("request sent without a token")
	}
}

// TestTransportTokenStaysOnOriginHost: redirects reach RoundTrip as new requests; the
// token must follow http.Client's rule for Authorization (original host and its
// subdomains only, and never again once a hop has left them), or an open redirect
// downstream hands it to any host.
func TestTransportTokenStaysOnOriginHost(t *testing.T) {
	te := startTokenEndpoint(t, nil)
	a, _ := newAuth(t, testConfig(te.TokenURL()))
	type seen struct{ host, path, authorization string }
	var mu sync.Mutex
	var got []seen
	var port string
	redirects := map[string]string{
		"api.example.test/same":        "http://api.example.test:%s/landed",
		"api.example.test/sub":         "http://v2.api.example.test:%s/landed",
		"api.example.test/away":        "http://evil.example:%s/steal",
		"api.example.test/away-back":   "http://evil.example:%s/back",
		"evil.example/back":            "http://api.example.test:%s/landed",
		"api.example.test/parent":      "http://example.test:%s/landed",
		"api.example.test/lookalike":   "http://evilapi.example.test:%s/landed",
		"v2.api.example.test/up-again": "http://api.example.test:%s/landed",
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, _ := strings.Cut(r.Host, ":")
		mu.Lock()
		got = append(got, seen{host, r.URL.Path, r.Header.Get("Authorization")})
		mu.Unlock()
		if to, ok := redirects[host+r.URL.Path]; ok {
			http.Redirect(w, r, strings.ReplaceAll(to, "%s", port), http.StatusFound)
			return
		}
		io.WriteString(w, "ok")
	}))
	t.Cleanup(srv.Close)
	_, port, _ = strings.Cut(srv.Listener.Addr().String(), "127.0.0.1:")
	base := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, srv.Listener.Addr().String()) // every host is this server
	}}
	t.Cleanup(base.CloseIdleConnections)
	client := &http.Client{Transport: a.Transport(base)}

	tests := []struct {
		start string
		want  []string // "host path token?" for each hop
	}{
		{"/same", []string{"api.example.test /same yes", "api.example.test /landed yes"}},
		{"/sub", []string{"api.example.test /sub yes", "v2.api.example.test /landed yes"}},
		{"/away", []string{"api.example.test /away yes", "evil.example /steal no"}},
		{"/away-back", []string{"api.example.test /away-back yes", "evil.example /back no", "api.example.test /landed no"}},
		{"/parent", []string{"api.example.test /parent yes", "example.test /landed no"}},
		{"/lookalike", []string{"api.example.test /lookalike yes", "evilapi.example.test /landed no"}},
	}
	for _, tt := range tests {
		mu.Lock()
		got = nil
		mu.Unlock()
		resp, err := client.Get("http://api.example.test:" + port + tt.start)
		if err != nil {
			t.Fatalf("%s: %v", tt.start, err)
		}
		resp.Body.Close()
		mu.Lock()
		var hops []string
		for _, s := range got {
			carried := "no"
			if s.authorization != "" {
				carried = "yes"
				if !strings.HasPrefix(s.authorization, "Bearer ") {
					t.Errorf("%s: Authorization %q", tt.start, s.authorization)
				}
			}
			hops = append(hops, s.host+" "+s.path+" "+carried)
		}
		mu.Unlock()
		if !slices.Equal(hops, tt.want) {
			t.Errorf("%s: hops %q; want %q", tt.start, hops, tt.want)
		}
	}
	// A subdomain that the original request did not name is no origin of its own: a chain
	// starting there and going up to its parent loses the token.
	resp, err := client.Get("http://v2.api.example.test:" + port + "/up-again")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	mu.Lock()
	last := got[len(got)-1]
	mu.Unlock()
	if last.host != "api.example.test" || last.authorization != "" {
		t.Errorf("redirect from a subdomain up to its parent: %+v; want no token", last)
	}
}

func TestIsDomainOrSubdomain(t *testing.T) {
	for _, tt := range []struct {
		sub, parent string
		want        bool
	}{
		{"a.com", "a.com", true}, {"x.a.com", "a.com", true}, {"x.y.a.com", "a.com", true},
		{"xa.com", "a.com", false}, {"a.com", "x.a.com", false}, {"", "", false},
		{"127.0.0.1", "127.0.0.1", true}, {"1.127.0.0.1", "127.0.0.1", false},
		{"::1", "::1", true}, {"x::1", "::1", false}, {"fe80::1%eth0", "eth0", false},
	} {
		if got := isDomainOrSubdomain(tt.sub, tt.parent); got != tt.want {
			t.Errorf("isDomainOrSubdomain(%q, %q) = %v; want %v", tt.sub, tt.parent, got, tt.want)
		}
	}
}
