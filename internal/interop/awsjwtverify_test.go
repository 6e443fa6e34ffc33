//go:build interop

package interop_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cognitokit/cognitokit/internal/corpus"
	"github.com/cognitokit/cognitokit/pkg/cognito"
)

// awsResult is one case as aws-jwt-verify decided it (interop/aws-jwt-verify.mjs).
type awsResult struct {
	Name    string `json:"name"`
	Valid   bool   `json:"valid"`
	Decided bool   `json:"decided"`
	Error   string `json:"error"`
	Message string `json:"message"`
}

// allowedDifference is a reviewed entry of interop/allowlist.json.
type allowedDifference struct {
	Case         string `json:"case"`
	Cognitokit   string `json:"cognitokit"`
	AwsJwtVerify string `json:"aws_jwt_verify"`
	Reason       string `json:"reason"`
}

func outcomeWord(valid bool) string {
	if valid {
		return corpus.Valid
	}
	return corpus.Invalid
}

// cognitokitOutcomes verifies every corpus case with cognitokit at the corpus's now.
func cognitokitOutcomes(t *testing.T, f *corpus.File, jwks []byte) map[string]string {
	t.Helper()
	now := f.NowTime()
	authz := map[string]*cognito.JWTAuthorizer{}
	for name, c := range f.Configs {
		leeway := c.Leeway()
		if leeway == 0 {
			leeway = -1
		}
		z, err := cognito.NewJWTAuthorizer(cognito.JWTAuthorizerConfig{
			UserPoolID: f.UserPoolID, Region: f.Region, ClientIDs: c.ClientIDs, AllowAnyClient: c.AnyClient,
			TokenUse: cognito.TokenUse(c.TokenUse), RequiredScopes: c.Scopes, RequiredGroups: c.Groups, Leeway: leeway,
		}, cognito.WithJWKS(jwks), cognito.WithClock(func() time.Time { return now }))
		if err != nil {
			t.Fatal(err)
		}
		authz[name] = z
	}
	out := map[string]string{}
	for _, c := range f.Cases {
		_, err := authz[c.Config].Verify(t.Context(), c.Token)
		out[c.Name] = outcomeWord(err == nil)
		if got := cognito.ReasonCode(err); got != c.Reason {
			t.Errorf("%s: cognitokit gives %q, the corpus says %q", c.Name, got, c.Reason)
		}
	}
	return out
}

// TestAwsJwtVerifyAgrees runs the corpus through aws-jwt-verify 5.2.1's CognitoJwtVerifier
// and cognitokit. Every case both decide must be decided the same way, unless
// interop/allowlist.json lists it with the direction of the difference and a reason; an
// entry that no longer differs fails too, so the list stays reviewed.
func TestAwsJwtVerifyAgrees(t *testing.T) {
	f, jwks, err := corpus.Load("")
	if err != nil {
		t.Fatal(err)
	}
	out := runNode(t, "aws-jwt-verify.mjs",
		filepath.Join(corpus.Dir(), corpus.CasesFile), filepath.Join(corpus.Dir(), corpus.JWKSFile))
	var results []awsResult
	if err := json.Unmarshal(out, &results); err != nil {
		t.Fatalf("aws-jwt-verify output: %v", err)
	}
	if len(results) != len(f.Cases) {
		t.Fatalf("aws-jwt-verify decided %d cases of %d", len(results), len(f.Cases))
	}
	var allow struct {
		Differences []allowedDifference `json:"differences"`
	}
	data, err := os.ReadFile(filepath.Join(repoRoot(), "interop", "allowlist.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &allow); err != nil {
		t.Fatalf("allowlist.json: %v", err)
	}
	allowed := map[string]allowedDifference{}
	for _, d := range allow.Differences {
		if _, dup := allowed[d.Case]; dup {
			t.Errorf("allowlist.json lists %q twice", d.Case)
		}
		if strings.TrimSpace(d.Reason) == "" {
			t.Errorf("allowlist.json: %q has no reason", d.Case)
		}
		allowed[d.Case] = d
	}

	ck := cognitokitOutcomes(t, f, jwks)
	var agree, differ, stricter, lenient, undecided int
	seen := map[string]bool{}
	for i, r := range results {
		c := f.Cases[i]
		if r.Name != c.Name {
			t.Fatalf("result %d is %q, want %q", i, r.Name, c.Name)
		}
		seen[c.Name] = true
		d, listed := allowed[c.Name]
		if !r.Decided {
			undecided++
			t.Logf("aws-jwt-verify did not decide %q: %s: %s", c.Name, r.Error, r.Message)
			continue
		}
		aws := outcomeWord(r.Valid)
		switch {
		case ck[c.Name] == aws && listed:
			t.Errorf("allowlist.json lists %q, but both libraries find it %s: remove the entry", c.Name, aws)
		case ck[c.Name] == aws:
			agree++
		case !listed:
			t.Errorf("%q: cognitokit %s (%s), aws-jwt-verify %s (%s: %s); not in allowlist.json",
				c.Name, ck[c.Name], c.Reason, aws, r.Error, r.Message)
		case d.Cognitokit != ck[c.Name] || d.AwsJwtVerify != aws:
			t.Errorf("allowlist.json has %q as cognitokit %s / aws-jwt-verify %s, but it is %s / %s",
				c.Name, d.Cognitokit, d.AwsJwtVerify, ck[c.Name], aws)
		default:
			differ++
			if ck[c.Name] == corpus.Invalid {
				stricter++
			} else {
				lenient++
			}
		}
	}
	for name := range allowed {
		if !seen[name] {
			t.Errorf("allowlist.json lists %q, which is no corpus case", name)
		}
	}
	t.Logf("aws-jwt-verify 5.2.1 on %d corpus cases: %d decided by both, %d agree, %d allowed differences "+
		"(cognitokit stricter in %d, more lenient in %d), %d not decided by aws-jwt-verify",
		len(f.Cases), len(f.Cases)-undecided, agree, differ, stricter, lenient, undecided)
}
