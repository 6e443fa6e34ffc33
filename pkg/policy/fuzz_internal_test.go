package policy

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/cognitokit/cognitokit/internal/corpus"
	"github.com/cognitokit/cognitokit/pkg/cognito"
)

// recordingVerifier refuses every token and remembers the last one it was given.
type recordingVerifier struct{ got *string }

func (v recordingVerifier) Verify(_ context.Context, token string) (*cognito.Claims, error) {
	*v.got = token
	return nil, &cognito.AuthorizationError{Reason: cognito.ErrMalformedToken}
}

// FuzzBearerToken fuzzes the Authorization header parser, alone and behind the
// middleware. A header it accepts is exactly "<Bearer in any case> <b64token>" (RFC 6750
// §2.1) and the middleware hands the verifier exactly that token; any other header is
// refused with one of the parser's errors and a 401 that reaches no verifier. No answer
// ever repeats the token. Seeds: "Bearer " and the corpus's tokens, and malformed headers.
func FuzzBearerToken(f *testing.F) {
	for _, seed := range []string{
		"", "Bearer", "Bearer ", "Bearer x", "bearer x", "BEARER a.b.c", "Bearer  x", "Bearer x ", " Bearer x",
		"Bearer x=", "Bearer x==", "Bearer x=y", "Bearer =", "Bearer a~b+c/d-e.f_g", "Basic dXNlcjpwYXNz",
		"Bearer\tx", "Bearer x\r\n", "Bearerx", "Bearer é", "Bearer x,Bearer y", "Token x", "MAC x",
		"Bearer invalid_token", "Bearer malformed_token",
	} {
		f.Add(seed, false)
	}
	cf, _, err := corpus.Load("")
	if err != nil {
		f.Fatal(err)
	}
	for i, c := range cf.Cases {
		if i%3 == 0 {
			f.Add("Bearer "+c.Token, i%2 == 0)
		}
	}
	p, err := Parse([]byte("version: 1\nroutes:\n  \"/\": {}\n"), "fuzz.yaml")
	if err != nil {
		f.Fatal(err)
	}
	var got string
	h := Middleware(p, recordingVerifier{&got})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		panic("a refused token reached the handler")
	}))
	// The fixed text of a refusal: a token that happens to be part of it ("invalid_token")
	// is not repeated from the request.
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Authorization", "Bearer dummy-token-of-no-interest")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	refusal := w.Body.String() + strings.Join(w.Header().Values("WWW-Authenticate"), "\n")
	f.Fuzz(func(t *testing.T, value string, twice bool) {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header["Authorization"] = []string{value}
		if twice {
			r.Header["Authorization"] = append(r.Header["Authorization"], value)
		}
		token, err := bearerToken(r)
		if err == nil {
			scheme, rest, ok := strings.Cut(value, " ")
			if twice || !ok || !strings.EqualFold(scheme, "Bearer") || rest != token || !isB64Token(token) || strings.ContainsAny(token, " \t\r\n") {
				t.Fatalf("bearerToken(%q, twice %v) = %q", value, twice, token)
			}
		} else if !errors.Is(err, errNoAuthorization) && !errors.Is(err, errNotBearer) && !errors.Is(err, errMalformedBearer) {
			t.Fatalf("bearerToken(%q) error %v", value, err)
		}

		got = ""
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusUnauthorized {
			t.Fatalf("status %d for %q", w.Code, value)
		}
		if got != token {
			t.Fatalf("verifier got %q, parser %q (err %v)", got, token, err)
		}
		if len(token) > 8 && !strings.Contains(refusal, token) {
			text := w.Body.String() + strings.Join(w.Header().Values("WWW-Authenticate"), "\n")
			if strings.Contains(text, token) {
				t.Fatalf("the answer repeats the token: %s", text)
			}
		}
	})
}
