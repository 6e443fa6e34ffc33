package cognito

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	adversarial "github.com/cognitokit/cognitokit/internal/corpus"
)

// FuzzTokenAnswer fuzzes the decoding of the token endpoint's 200 answers
// (tokenFromAnswer): whatever the body, it returns a usable token or an error it can
// explain, and never panics. A token is a non-empty Bearer token that expires after the
// request was sent and is not cached for longer than it may be; an error is an
// *answerError or an *oauthAnswerError whose text never holds the access token. Seeds: the
// answer shapes of TestBadTokenAnswers, and answers carrying the corpus's tokens.
func FuzzTokenAnswer(f *testing.F) {
	for _, body := range []string{
		`{"access_token":"x","token_type":"Bearer","expires_in":3600}`,
		`{"access_token":"x","token_type":"bearer","expires_in":"3600","scope":"a b"}`,
		`{"access_token":"x","token_type":"Bearer","expires_in":0}`,
		`{"access_token":"x","token_type":"Bearer","expires_in":-5}`,
		`{"access_token":"x","token_type":"Bearer","expires_in":null}`,
		`{"access_token":"x","token_type":"Bearer","expires_in":1e308}`,
		`{"access_token":"x","token_type":"Bearer","expires_in":"soon"}`,
		`{"access_token":"x","token_type":"mac","expires_in":3600}`,
		`{"access_token":"","token_type":"Bearer","expires_in":3600}`,
		`{"token_type":"Bearer","expires_in":3600}`,
		`{"error":"invalid_scope","error_description":"no such scope"}`,
		`{"error":"invalid_client","access_token":"x","token_type":"Bearer","expires_in":3600}`,
		`["x"]`, `null`, ``, `<html><body>Sign in</body></html>`, `access_token=x`,
		`{"access_token":"x","token_type":"Bearer","expires_in":3600`,
	} {
		f.Add([]byte(body), "application/json")
	}
	cf, _, err := adversarial.Load("")
	if err != nil {
		f.Fatal(err)
	}
	for i, c := range cf.Cases {
		if i%4 != 0 {
			continue
		}
		for _, expiresIn := range []any{3600, nil, "0"} {
			ans := map[string]any{"access_token": c.Token, "token_type": "Bearer"}
			if expiresIn != nil {
				ans["expires_in"] = expiresIn
			}
			b, err := json.Marshal(ans)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b, "application/json;charset=UTF-8")
		}
	}
	sent := time.Unix(cf.Now, 0)
	now := sent.Add(50 * time.Millisecond)
	// The latest expiry an answer may give: expires_in is clamped to maxLifetime, an exp
	// claim to 2^40 seconds.
	latest := sent.Add(maxLifetime)
	if cap := time.Unix(1<<40, 0); cap.After(latest) {
		latest = cap
	}
	f.Fuzz(func(t *testing.T, body []byte, contentType string) {
		tok, err := tokenFromAnswer(body, contentType, sent, now, "orders/read")
		if err == nil {
			switch {
			case tok == nil || tok.Token == "" || tok.TokenType != "Bearer":
				t.Fatalf("token %+v from %q", tok, body)
			case !tok.ExpiresAt.After(sent), tok.ExpiresAt.After(latest):
				t.Fatalf("ExpiresAt %v for a request sent at %v, from %q", tok.ExpiresAt, sent, body)
			}
			return
		}
		var ae *answerError
		var oe *oauthAnswerError
		if tok != nil || !(errors.As(err, &ae) || errors.As(err, &oe)) {
			t.Fatalf("tokenFromAnswer(%q) = %v, %T %v", body, tok, err, err)
		}
		var ans struct {
			AccessToken string `json:"access_token"`
		}
		if json.Unmarshal(body, &ans) == nil && len(ans.AccessToken) > 64 && strings.Contains(err.Error(), ans.AccessToken) {
			t.Fatalf("error %q holds the access token", err)
		}
	})
}
