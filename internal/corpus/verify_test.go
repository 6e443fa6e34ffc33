package corpus_test

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cognitokit/cognitokit/internal/corpus"
	"github.com/cognitokit/cognitokit/pkg/cognito"
)

func load(t testing.TB) (*corpus.File, []byte) {
	t.Helper()
	f, jwks, err := corpus.Load("")
	if err != nil {
		t.Fatal(err)
	}
	return f, jwks
}

// authorizerConfig is the JWTAuthorizerConfig of one corpus configuration.
func authorizerConfig(f *corpus.File, c corpus.Config) cognito.JWTAuthorizerConfig {
	cfg := cognito.JWTAuthorizerConfig{
		UserPoolID:     f.UserPoolID,
		Region:         f.Region,
		ClientIDs:      c.ClientIDs,
		AllowAnyClient: c.AnyClient,
		TokenUse:       cognito.TokenUse(c.TokenUse),
		RequiredScopes: c.Scopes,
		RequiredGroups: c.Groups,
		Leeway:         c.Leeway(),
	}
	if cfg.Leeway == 0 {
		cfg.Leeway = -1 // the corpus's 0 means none; the config's 0 means the default
	}
	return cfg
}

// authorizers builds one authorizer per corpus configuration, on a clock stopped at now.
func authorizers(t testing.TB, f *corpus.File, jwks []byte, now time.Time, opts ...cognito.AuthorizerOption) map[string]*cognito.JWTAuthorizer {
	t.Helper()
	out := map[string]*cognito.JWTAuthorizer{}
	for name, c := range f.Configs {
		z, err := cognito.NewJWTAuthorizer(authorizerConfig(f, c),
			append([]cognito.AuthorizerOption{cognito.WithJWKS(jwks), cognito.WithClock(func() time.Time { return now })}, opts...)...)
		if err != nil {
			t.Fatalf("config %s: %v", name, err)
		}
		out[name] = z
	}
	return out
}

// outcome is what Verify made of a token: "" for valid, else the reason code.
func outcome(t *testing.T, z *cognito.JWTAuthorizer, c corpus.Case) string {
	t.Helper()
	claims, err := z.Verify(t.Context(), c.Token)
	if err == nil {
		if claims == nil || claims.Sub == "" {
			t.Errorf("%s: accepted with claims %v", c.Name, claims)
		}
		return ""
	}
	var ae *cognito.AuthorizationError
	if claims != nil || !errors.As(err, &ae) {
		t.Errorf("%s: Verify = %v, %T %v; want nil claims and an *AuthorizationError", c.Name, claims, err, err)
	}
	if !strings.HasPrefix(err.Error(), "cognito: ") {
		t.Errorf("%s: error %q does not start with \"cognito: \"", c.Name, err)
	}
	for part := range strings.SplitSeq(c.Token, ".") {
		if len(part) > 8 && strings.Contains(err.Error(), part) {
			t.Errorf("%s: error %q holds a part of the token", c.Name, err)
		}
	}
	code := cognito.ReasonCode(err)
	if code == "" {
		t.Errorf("%s: error %v has no reason code", c.Name, err)
		return "(none)"
	}
	return code
}

func show(code string) string {
	if code == "" {
		return "valid"
	}
	return code
}

// TestCorpusVerify runs every case of the corpus through Verify at the corpus's now and
// checks its outcome and reason. Each token is verified three times: fresh, again (from
// the verified-token cache when it was accepted) and by an authorizer without that
// cache; all three must agree.
func TestCorpusVerify(t *testing.T) {
	f, jwks := load(t)
	if len(f.Cases) < 150 {
		t.Fatalf("corpus has %d cases, want at least 150", len(f.Cases))
	}
	now := f.NowTime()
	cached := authorizers(t, f, jwks, now)
	uncached := authorizers(t, f, jwks, now, cognito.WithVerifiedCacheSize(0))
	counts := map[string]int{}
	for _, c := range f.Cases {
		if (c.Expect == corpus.Valid) != (c.Reason == "") {
			t.Errorf("%s: expect %q with reason %q", c.Name, c.Expect, c.Reason)
		}
		got := []string{outcome(t, cached[c.Config], c), outcome(t, cached[c.Config], c), outcome(t, uncached[c.Config], c)}
		if got[0] != c.Reason {
			t.Errorf("%s [%s]: got %s, want %s", c.Name, c.Config, show(got[0]), show(c.Reason))
		}
		if got[1] != got[0] || got[2] != got[0] {
			t.Errorf("%s: outcomes differ between verifications: %q", c.Name, got)
		}
		counts[show(c.Reason)]++
	}
	var summary []string
	for _, k := range slices.Sorted(maps.Keys(counts)) {
		summary = append(summary, fmt.Sprintf("%s %d", k, counts[k]))
	}
	t.Logf("%d cases: %s", len(f.Cases), strings.Join(summary, ", "))
}

// TestCorpusAfterExpiry checks ReasonAfterExpiry, the outcome the CLI test expects when
// run on the real clock: every case, verified a day after ExpiredAfter.
func TestCorpusAfterExpiry(t *testing.T) {
	f, jwks := load(t)
	later := authorizers(t, f, jwks, time.Unix(f.ExpiredAfter+86400, 0))
	for _, c := range f.Cases {
		if got := outcome(t, later[c.Config], c); got != c.ReasonAfterExpiry {
			t.Errorf("%s [%s]: got %s after expiry, want %s", c.Name, c.Config, show(got), show(c.ReasonAfterExpiry))
		}
	}
}
