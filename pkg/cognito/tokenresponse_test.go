package cognito

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cognitokit/cognitokit/gen"
	"github.com/cognitokit/cognitokit/pkg/cognitotest"
)

func TestBadTokenAnswers(t *testing.T) {
	srv := cognitotest.Start(t, cognitoConfig(0))
	mint := func(claims map[string]any) string {
		tok, err := srv.MintAccessToken(cognitotest.TokenOptions{Claims: claims})
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	exp := time.Now().Add(20 * time.Minute).Truncate(time.Second)
	jwt := mint(map[string]any{"exp": exp.Unix()})
	expiredJWT := mint(map[string]any{"exp": time.Now().Add(-time.Minute).Unix()})
	noExpJWT := mint(map[string]any{"exp": nil})
	bigBody := `{"access_token":"` + strings.Repeat("a", maxResponseBody) + `","token_type":"Bearer","expires_in":3600}`
	exactBody := `{"access_token":"t","token_type":"Bearer","expires_in":3600}`
	exactBody += strings.Repeat(" ", maxResponseBody-len(exactBody))

	type answer struct {
		contentType string
		body        string
		length      bool // send Content-Length (else streamed)
	}
	js := func(body string) answer { return answer{"application/json", body, false} }
	tests := []struct {
		name    string
		answer  answer
		reason  error // nil: a token is expected
		inError string
		expires time.Time // for successes, when not now+3600s
	}{
		{"plain text", answer{"text/plain", "access_token=x", false}, ErrInvalidTokenResponse, "not a JSON token answer", time.Time{}},
		{"HTML", answer{"text/html", "<html><body>Sign in</body></html>", false}, ErrInvalidTokenResponse, `Content-Type "text/html"`, time.Time{}},
		{"JSON that is not an object", js(`["x"]`), ErrInvalidTokenResponse, "not a JSON token answer", time.Time{}},
		{"empty body", js(""), ErrInvalidTokenResponse, "not a JSON token answer", time.Time{}},
		{"missing access_token", js(`{"token_type":"Bearer","expires_in":3600}`), ErrInvalidTokenResponse, "no access_token", time.Time{}},
		{"empty access_token", js(`{"access_token":"","token_type":"Bearer","expires_in":3600}`), ErrInvalidTokenResponse, "no access_token", time.Time{}},
		{"token_type mac", js(`{"access_token":"x","token_type":"mac","expires_in":3600}`), ErrInvalidTokenResponse, `token_type "mac" is not Bearer`, time.Time{}},
		{"token_type missing", js(`{"access_token":"x","expires_in":3600}`), ErrInvalidTokenResponse, `token_type "" is not Bearer`, time.Time{}},
		{"token_type bearer in lower case", js(`{"access_token":"x","token_type":"bearer","expires_in":3600}`), nil, "", time.Time{}},
		{"expires_in as a string", js(`{"access_token":"x","token_type":"Bearer","expires_in":"3600"}`), nil, "", time.Time{}},
		{"expires_in not a number", js(`{"access_token":"x","token_type":"Bearer","expires_in":"soon"}`), ErrInvalidTokenResponse, "expires_in is not a number", time.Time{}},
		{"expires_in 0, opaque token", js(`{"access_token":"x","token_type":"Bearer","expires_in":0}`), ErrInvalidTokenResponse, "expires_in is not positive", time.Time{}},
		{"expires_in -5, opaque token", js(`{"access_token":"x","token_type":"Bearer","expires_in":-5}`), ErrInvalidTokenResponse, "expires_in is not positive", time.Time{}},
		{"expires_in missing, opaque token", js(`{"access_token":"x","token_type":"Bearer"}`), ErrInvalidTokenResponse, "no expires_in", time.Time{}},
		{"expires_in null, opaque token", js(`{"access_token":"x","token_type":"Bearer","expires_in":null}`), ErrInvalidTokenResponse, "no expires_in", time.Time{}},
		{"expires_in 0, JWT", js(`{"access_token":"` + jwt + `","token_type":"Bearer","expires_in":0}`), nil, "", exp},
		{"expires_in -5, JWT", js(`{"access_token":"` + jwt + `","token_type":"Bearer","expires_in":-5}`), nil, "", exp},
		{"expires_in missing, JWT", js(`{"access_token":"` + jwt + `","token_type":"Bearer"}`), nil, "", exp},
		{"expires_in missing, expired JWT", js(`{"access_token":"` + expiredJWT + `","token_type":"Bearer"}`), ErrInvalidTokenResponse, "exp claim has passed", time.Time{}},
		{"expires_in missing, JWT without exp", js(`{"access_token":"` + noExpJWT + `","token_type":"Bearer"}`), ErrInvalidTokenResponse, "no exp claim", time.Time{}},
		{"body over 1 MiB, streamed", js(bigBody), ErrInvalidTokenResponse, "exceeds the size limit", time.Time{}},
		{"body over 1 MiB, announced", answer{"application/json", bigBody, true}, ErrInvalidTokenResponse, "exceeds the size limit", time.Time{}},
		{"body of exactly 1 MiB", answer{"application/json", exactBody, true}, nil, "", time.Time{}},
		{"200 with an error field", js(`{"error":"invalid_scope","error_description":"no such scope"}`), ErrTokenRequestRejected, `"invalid_scope" ("no such scope"), HTTP 200`, time.Time{}},
		{"200 with an error field and a token", js(`{"error":"invalid_client","access_token":"x","token_type":"Bearer","expires_in":3600}`), ErrTokenRequestRejected, `"invalid_client"`, time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			te := startTokenEndpoint(t, func(n int64, w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", tt.answer.contentType)
				if tt.answer.length {
					w.Header().Set("Content-Length", strconv.Itoa(len(tt.answer.body)))
				}
				// Written in pieces so that, unless announced, the body is chunked.
				body := tt.answer.body
				for len(body) > 0 {
					n := min(len(body), 64<<10)
					_, _ = w.Write([]byte(body[:n]))
					w.(http.Flusher).Flush()
					body = body[n:]
				}
			})
			a, sleeps := newAuth(t, testConfig(te.TokenURL()))
			start := time.Now()
			tok, err := a.GetToken(context.Background())
			if n := te.requests.Load(); n != 1 || len(sleeps.Waits()) != 0 {
				t.Errorf("requests = %d, waits %v; want 1 request, no retry", n, sleeps.Waits())
			}
			if tt.reason == nil {
				if err != nil {
					t.Fatalf("GetToken: %v", err)
				}
				if want := tt.expires; !want.IsZero() {
					if !tok.ExpiresAt.Equal(want) {
						t.Errorf("ExpiresAt = %v; want the exp claim %v", tok.ExpiresAt, want)
					}
				} else if d := tok.ExpiresAt.Sub(start); d < 3600*time.Second || d > 3601*time.Second {
					t.Errorf("ExpiresAt = now+%v; want now+1h", d)
				}
				return
			}
			var ae *AuthenticationError
			if !errors.As(err, &ae) || !errors.Is(err, tt.reason) || tok != nil {
				t.Fatalf("GetToken = %v, %v; want an *AuthenticationError matching %v", tok, err, tt.reason)
			}
			if ae.StatusCode != http.StatusOK && !tt.answer.length {
				t.Errorf("StatusCode = %d; want 200", ae.StatusCode)
			}
			if want := "cognito: token endpoint answered with an unusable token, HTTP 200: no access_token"; tt.name == "missing access_token" && err.Error() != want {
				t.Errorf("error text = %q; want %q", err, want)
			}
			if !strings.Contains(err.Error(), tt.inError) {
				t.Errorf("error %q does not say %q", err, tt.inError)
			}
			if strings.Contains(err.Error(), "Sign in") || strings.Contains(err.Error(), "aaaa") {
				t.Errorf("error %q holds the body", err)
			}
		})
	}
}

// TestExpiresIn: expires_in decodes into the generated model's json.Number from a
// number or a string holding one, and lifetime reads it.
func TestExpiresIn(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		set  bool
		err  bool
	}{
		{"3600", time.Hour, true, false},
		{`"3600"`, time.Hour, true, false},
		{"1.5", 1500 * time.Millisecond, true, false},
		{"0", 0, true, false},
		{"-5", 0, true, false},
		{"null", 0, false, false},
		{"1e300", maxLifetime, true, false},
		{`"soon"`, 0, false, true},
		{"true", 0, false, true},
		{`"NaN"`, 0, false, true},
	}
	for _, tt := range tests {
		var ans gen.TokenResponse
		err := json.Unmarshal([]byte(`{"expires_in":`+tt.in+`}`), &ans)
		var d time.Duration
		var set bool
		if err == nil {
			d, set, err = lifetime(ans.ExpiresIn)
		}
		if (err != nil) != tt.err || d != tt.want || set != tt.set {
			t.Errorf("%s: got %v set=%v err=%v; want %v set=%v err=%v", tt.in, d, set, err, tt.want, tt.set, tt.err)
		}
	}
}

func TestJWTPayload(t *testing.T) {
	enc := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	tests := []struct {
		token string
		ok    bool
		exp   float64
		scope string
	}{
		{"h." + enc(`{"exp":1700000000,"scope":"a b"}`) + ".s", true, 1700000000, "a b"},
		{"h." + base64.URLEncoding.EncodeToString([]byte(`{"exp":1}`)) + ".s", true, 1, ""}, // padded
		{"h." + enc(`{"exp":"soon"}`) + ".s", false, 0, ""},
		{"h." + enc(`not json`) + ".s", false, 0, ""},
		{"h.!!!.s", false, 0, ""},
		{"opaque", false, 0, ""},
		{"a.b.c.d", false, 0, ""},
	}
	for _, tt := range tests {
		c, ok := jwtPayload(tt.token)
		if ok != tt.ok || c.Exp != tt.exp || c.Scope != tt.scope {
			t.Errorf("jwtPayload(%q) = %+v, %v; want exp %v scope %q, %v", tt.token, c, ok, tt.exp, tt.scope, tt.ok)
		}
	}
}
