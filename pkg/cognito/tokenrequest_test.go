package cognito

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/cognitokit/cognitokit/pkg/cognitotest"
)

// recordedRequest is what a token endpoint received.
type recordedRequest struct {
	method, path, rawQuery, contentType, authorization, body string
	form                                                     url.Values
}

func startRecordingEndpoint(t *testing.T) (*tokenEndpoint, <-chan recordedRequest) {
	got := make(chan recordedRequest, 10)
	te := startTokenEndpoint(t, func(n int64, w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		form, _ := url.ParseQuery(string(body))
		got <- recordedRequest{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Get("Content-Type"),
			r.Header.Get("Authorization"), string(body), form}
		writeToken(w, fmt.Sprintf("token-%d", n), 3600)
	})
	return te, got
}

func TestTokenRequestShape(t *testing.T) {
	const id, secret = "id:+/%&= x", "se:cr+et/%&=?#é"
	// RFC 6749 §2.3.1: each part form-urlencoded, then HTTP Basic.
	wantAuth := "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret)))
	tests := []struct {
		name, scope, wantBody string
	}{
		{"no scope", "", "grant_type=client_credentials"},
		{"scopes", "orders/read https://api.example.com/orders.write", "grant_type=client_credentials&scope=orders%2Fread+https%3A%2F%2Fapi.example.com%2Forders.write"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			te, got := startRecordingEndpoint(t)
			a, _ := newAuth(t, ClientCredentialsConfig{ClientID: id, ClientSecret: secret, TokenURL: te.TokenURL(), Scope: tt.scope})
			tok := mustToken(t, a)
			r := <-got
			if r.method != http.MethodPost || r.path != "/oauth2/token" || r.rawQuery != "" {
				t.Errorf("request = %s %s?%s; want POST /oauth2/token", r.method, r.path, r.rawQuery)
			}
			if r.contentType != "application/x-www-form-urlencoded" {
				t.Errorf("Content-Type = %q", r.contentType)
			}
			if r.authorization != wantAuth {
				t.Errorf("Authorization = %q; want %q", r.authorization, wantAuth)
			}
			req := &http.Request{Header: http.Header{"Authorization": {r.authorization}}}
			gotID, gotSecret, ok := req.BasicAuth()
			if uid, _ := url.QueryUnescape(gotID); !ok || uid != id {
				t.Errorf("Basic user decodes to %q; want %q", uid, id)
			}
			if usecret, _ := url.QueryUnescape(gotSecret); usecret != secret {
				t.Errorf("Basic password does not decode to the secret")
			}
			if r.body != tt.wantBody {
				t.Errorf("body = %q; want %q", r.body, tt.wantBody)
			}
			if _, has := r.form["scope"]; has != (tt.scope != "") || r.form.Get("scope") != tt.scope {
				t.Errorf("form scope = %q (present %v); want %q", r.form.Get("scope"), has, tt.scope)
			}
			if _, has := r.form["client_secret"]; has {
				t.Error("secret sent in the body as well")
			}
			if tok.Token != "token-1" || tok.TokenType != "Bearer" || tok.Scope != tt.scope {
				t.Errorf("token = %v", tok)
			}
		})
	}
}

func TestRetriesThenSucceeds(t *testing.T) {
	srv, cfg := startCognito(t, 0)
	srv.FailNext(cognitotest.EndpointToken, 2, cognitotest.Fault{Status: http.StatusServiceUnavailable, Body: "busy"})
	a, sleeps := newAuth(t, cfg)
	mustToken(t, a)
	if n := srv.Requests(cognitotest.EndpointToken); n != 3 {
		t.Errorf("token requests = %d; want 3", n)
	}
	waits := sleeps.Waits()
	if len(waits) != 2 {
		t.Fatalf("waits = %v; want 2", waits)
	}
	// Full jitter: the n-th wait is at most 100ms·2^(n-1).
	for i, w := range waits {
		if ceiling := 100 * time.Millisecond << i; w < 0 || w > ceiling {
			t.Errorf("wait %d = %v; want within [0, %v]", i+1, w, ceiling)
		}
	}
}

func TestRetryAfterIsHonoured(t *testing.T) {
	clock := newFakeClock()
	tests := []struct {
		name, retryAfter string
		want             time.Duration
	}{
		{"seconds", "1", time.Second},
		{"HTTP date", clock.Now().Add(1500 * time.Millisecond).Format(http.TimeFormat), time.Second}, // whole seconds
	}
	srv, cfg := startCognito(t, 0)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := srv.Requests(cognitotest.EndpointToken)
			srv.FailNext(cognitotest.EndpointToken, 1, cognitotest.Fault{Status: http.StatusTooManyRequests,
				Header: http.Header{"Retry-After": {tt.retryAfter}}})
			t.Cleanup(srv.ClearFaults)
			a, sleeps := newAuth(t, cfg, WithClock(clock.Now), WithRetry(RetryPolicy{BaseDelay: time.Nanosecond}))
			mustToken(t, a)
			if waits := sleeps.Waits(); len(waits) != 1 || waits[0] != tt.want {
				t.Errorf("waits = %v; want [%v]", waits, tt.want)
			}
			if n := srv.Requests(cognitotest.EndpointToken) - before; n != 2 {
				t.Errorf("token requests = %d; want 2", n)
			}
		})
	}
}

// A Retry-After longer than MaxDelay is not waited for within a fetch: the fetch fails,
// and nobody asks again before it has passed.
func TestRetryAfterAboveMaxDelayEndsTheAttempts(t *testing.T) {
	srv, cfg := startCognito(t, 0)
	srv.FailNext(cognitotest.EndpointToken, 1, cognitotest.Fault{Status: http.StatusTooManyRequests,
		Header: http.Header{"Retry-After": {"20"}}})
	clock := newFakeClock()
	a, sleeps := newAuth(t, cfg, WithClock(clock.Now))
	_, err := a.GetToken(context.Background())
	var ae *AuthenticationError
	if !errors.As(err, &ae) || ae.StatusCode != http.StatusTooManyRequests || ae.Attempts != 1 {
		t.Fatalf("GetToken = %v; want the 429 after one attempt", err)
	}
	if !ae.RetryAt.Equal(t0.Add(20 * time.Second)) {
		t.Errorf("RetryAt = %v; want the Retry-After, 20s on", ae.RetryAt)
	}
	if len(sleeps.Waits()) != 0 {
		t.Errorf("waited %v", sleeps.Waits())
	}
	clock.Advance(20*time.Second - time.Millisecond)
	if _, err := a.GetToken(context.Background()); !errors.As(err, &ae) || !ae.HeldOff {
		t.Fatalf("GetToken before the Retry-After = %v; want it held off", err)
	}
	clock.Advance(time.Millisecond)
	mustToken(t, a)
	if n := srv.Requests(cognitotest.EndpointToken); n != 2 {
		t.Errorf("token requests = %d; want 2", n)
	}
}

func TestRejectedRequestIsNotRetried(t *testing.T) {
	srv, cfg := startCognito(t, 0)
	cfg.ClientSecret = "wrong-secret"
	logger, logs := newLogger()
	a, sleeps := newAuth(t, cfg, WithLogger(logger))
	_, err := a.GetToken(context.Background())
	var ae *AuthenticationError
	if !errors.As(err, &ae) {
		t.Fatalf("error %v is not an *AuthenticationError", err)
	}
	if ae.ErrorCode != "invalid_client" || ae.StatusCode != http.StatusBadRequest || ae.Attempts != 1 {
		t.Errorf("error = %+v; want invalid_client, 400, 1 attempt", *ae)
	}
	if !errors.Is(err, ErrTokenRequestRejected) || ReasonCode(err) != "token_request_rejected" {
		t.Errorf("error %v does not match ErrTokenRequestRejected", err)
	}
	if want := `cognito: token request was rejected: "invalid_client" ("Client authentication failed."), HTTP 400`; err.Error() != want {
		t.Errorf("error text = %q; want %q", err, want)
	}
	if n := srv.Requests(cognitotest.EndpointToken); n != 1 {
		t.Errorf("token requests = %d; want 1", n)
	}
	if len(sleeps.Waits()) != 0 {
		t.Errorf("waited %v before giving up", sleeps.Waits())
	}
	if strings.Contains(logs.String(), "wrong-secret") {
		t.Error("the secret was logged")
	}
}

func TestOtherStatusesAndNetworkErrors(t *testing.T) {
	tests := []struct {
		name     string
		status   int
		body     string
		header   http.Header
		reason   error
		attempts int
		code     string
	}{
		{"401", http.StatusUnauthorized, `{"error":"invalid_client"}`, nil, ErrTokenRequestRejected, 1, "invalid_client"},
		{"403 HTML", http.StatusForbidden, "<html>forbidden</html>", nil, ErrTokenRequestRejected, 1, ""},
		{"400 garbled JSON", http.StatusBadRequest, `{"error":`, http.Header{"Content-Type": {"application/json"}}, ErrTokenRequestRejected, 1, ""},
		{"500", http.StatusInternalServerError, "oops", nil, ErrTokenEndpointUnavailable, 3, ""},
		{"503 with OAuth body", http.StatusServiceUnavailable, `{"error":"temporarily_unavailable"}`, nil, ErrTokenEndpointUnavailable, 3, "temporarily_unavailable"},
		{"429", http.StatusTooManyRequests, "", nil, ErrTokenEndpointUnavailable, 3, ""},
		{"302", http.StatusFound, "", http.Header{"Location": {"/login"}}, ErrInvalidTokenResponse, 1, ""},
		{"204", http.StatusNoContent, "", nil, ErrInvalidTokenResponse, 1, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			te := startTokenEndpoint(t, func(n int64, w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/login" {
					_, _ = io.WriteString(w, "<html>login</html>")
					return
				}
				for k, v := range tt.header {
					w.Header()[k] = v
				}
				w.WriteHeader(tt.status)
				_, _ = io.WriteString(w, tt.body)
			})
			a, _ := newAuth(t, testConfig(te.TokenURL()))
			_, err := a.GetToken(context.Background())
			var ae *AuthenticationError
			if !errors.As(err, &ae) || !errors.Is(err, tt.reason) {
				t.Fatalf("error = %v; want an *AuthenticationError matching %v", err, tt.reason)
			}
			if ae.Attempts != tt.attempts || ae.ErrorCode != tt.code {
				t.Errorf("error = %+v; want %d attempts, code %q", *ae, tt.attempts, tt.code)
			}
			if tt.status != http.StatusFound && int(te.requests.Load()) != tt.attempts {
				t.Errorf("requests = %d; want %d", te.requests.Load(), tt.attempts)
			}
		})
	}
	t.Run("connection refused", func(t *testing.T) {
		te := startTokenEndpoint(t, nil)
		te.Close()
		a, sleeps := newAuth(t, testConfig(te.TokenURL()))
		_, err := a.GetToken(context.Background())
		var ae *AuthenticationError
		if !errors.As(err, &ae) || !errors.Is(err, ErrTokenEndpointUnavailable) || ae.Attempts != 3 || ae.StatusCode != 0 || ae.Err == nil {
			t.Fatalf("error = %v; want endpoint unavailable after 3 attempts with the network error", err)
		}
		if len(sleeps.Waits()) != 2 {
			t.Errorf("waits = %v; want 2", sleeps.Waits())
		}
	})
}

func TestContextDeadlineDuringRetries(t *testing.T) {
	te := startTokenEndpoint(t, func(n int64, w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	a, _ := newAuth(t, testConfig(te.TokenURL()))
	stop := make(chan struct{})
	waits := make(chan time.Duration, 10)
	a.retry.sleep = func(ctx context.Context, d time.Duration) error {
		waits <- d
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-stop:
			return errors.New("test over")
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := a.GetToken(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error = %v; want the caller's deadline", err)
	}
	if d := within(t, waits, 10*time.Second, "the retry wait"); d != time.Second {
		t.Errorf("wait = %v; want the Retry-After of 1s", d)
	}
	f := currentFlight(a)
	close(stop)
	if f != nil {
		<-f.Done()
	}
}
