package cognito

import (
	"context"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestTokenNeverPrinted(t *testing.T) {
	tok := Token{Token: "eyJ.secret-token-value.sig", TokenType: "Bearer", Scope: "orders/read",
		ExpiresAt: time.Date(2026, 3, 1, 13, 0, 0, 0, time.UTC)}
	want := "Token{TokenType: Bearer, Scope: orders/read, ExpiresAt: 2026-03-01T13:00:00Z, Token: REDACTED}"
	if got := tok.String(); got != want {
		t.Errorf("String = %q; want %q", got, want)
	}
	if got := fmt.Sprintf("%#v", &tok); got != "cognito."+want {
		t.Errorf("%%#v = %q", got)
	}
	outs := printings(tok, &tok)
	// Nested in other values, fmt still goes through Format, and slog's text handler
	// through fmt. (slog's JSON handler encodes nested values with encoding/json, which
	// does include the token: JSON is how a TokenStore keeps it.)
	for _, v := range []any{[]*Token{&tok}, struct{ T Token }{tok}, map[string]*Token{"t": &tok}} {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%d"} {
			outs = append(outs, fmt.Sprintf(verb, v))
		}
		var buf syncBuffer
		slog.New(slog.NewTextHandler(&buf, nil)).Info("nested", "v", v)
		outs = append(outs, buf.String())
	}
	for _, out := range outs {
		if strings.Contains(out, "secret-token-value") {
			t.Errorf("token printed: %s", out)
		}
	}
	var empty Token
	if got := empty.String(); !strings.Contains(got, `Token: ""`) {
		t.Errorf("empty token String = %q", got)
	}
}

// printings renders each value with every common fmt verb and through slog.
func printings(values ...any) []string {
	var out []string
	for _, v := range values {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%d", "%T"} {
			out = append(out, fmt.Sprintf(verb, v))
		}
		logger, buf := newLogger()
		logger.Info("value", "v", v)
		slog.New(slog.NewTextHandler(buf, nil)).Info("value", "v", v)
		out = append(out, buf.String())
	}
	return out
}

func TestSecretsAndTokensNeverLeak(t *testing.T) {
	const secret = "Sup3r/S3cret+value=&x"
	const token = "tok-SENSITIVE-0123456789"
	forbidden := []string{secret, url.QueryEscape(secret), token,
		base64.StdEncoding.EncodeToString([]byte("leak-client:" + url.QueryEscape(secret)))}
	answers := []func(w http.ResponseWriter){
		func(w http.ResponseWriter) { writeToken(w, token, 3600) },
		func(w http.ResponseWriter) {
			writeJSONBody(w, http.StatusBadRequest, map[string]string{"error": "invalid_client",
				"error_description": "secret " + secret + " is wrong; encoded " + url.QueryEscape(secret)})
		},
		func(w http.ResponseWriter) {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("down, secret=" + secret))
		},
		func(w http.ResponseWriter) {
			writeJSONBody(w, http.StatusOK, map[string]any{"access_token": token, "token_type": "mac", "expires_in": 3600})
		},
		func(w http.ResponseWriter) {
			writeJSONBody(w, http.StatusOK, map[string]any{"access_token": token, "token_type": "Bearer"})
		},
		func(w http.ResponseWriter) { _, _ = w.Write([]byte("<html>" + token + secret + "</html>")) },
	}
	var texts []string
	logger, logs := newLogger()
	for i, answer := range answers {
		te := startTokenEndpoint(t, func(n int64, w http.ResponseWriter, r *http.Request) { answer(w) })
		cfg := ClientCredentialsConfig{ClientID: "leak-client", ClientSecret: secret, TokenURL: te.TokenURL()}
		clock := newFakeClock()
		a, _ := newAuth(t, cfg, WithLogger(logger), WithClock(clock.Now), WithTokenStore(failingStore{}))
		tok, err := a.GetToken(context.Background())
		if err != nil {
			texts = append(texts, err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err))
			logger.Error("token request failed", "err", err)
		}
		if i == 0 {
			if tok == nil || tok.Token != token {
				t.Fatalf("the first answer gave %v, %v", tok, err)
			}
			texts = append(texts, printings(tok, *tok)...)
			logger.Info("token", "token", tok)
			// A failed refresh while the token is cached is logged.
			te.Close()
			clock.Advance(3550 * time.Second)
			if _, err := a.GetToken(context.Background()); err != nil {
				t.Fatal(err)
			}
			a.Invalidate()
			_, err := a.GetToken(context.Background())
			texts = append(texts, err.Error())
		}
		texts = append(texts, printings(cfg, &cfg, a)...)
		logger.Info("values", "cfg", cfg, "authenticator", a)
	}
	texts = append(texts, logs.String())
	if !strings.Contains(logs.String(), "serving the cached token") || !strings.Contains(logs.String(), "token store failed") {
		t.Errorf("the expected warnings were not logged:\n%s", logs)
	}
	for _, text := range texts {
		for _, f := range forbidden {
			if strings.Contains(text, f) {
				t.Errorf("%q leaked in %s", f, text)
			}
		}
	}
}
