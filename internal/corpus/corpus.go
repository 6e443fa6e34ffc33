// Package corpus reads the adversarial token corpus of testdata/corpus: tokens built to
// probe a Cognito JWT verifier (RFC 8725 and the JWT attack literature), each with the
// outcome and reason code cognitokit must give it. internal/corpusgen writes the corpus
// (`make corpus`); the tests of this package run it through JWTAuthorizer.Verify and the
// CLI, internal/interop through aws-jwt-verify, and the fuzz targets use it as seeds.
//
// The package depends on nothing of cognitokit, so that any test (pkg/cognito's own
// included) can import it without an import cycle.
package corpus

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"time"
)

// File names inside the corpus directory.
const (
	CasesFile = "cases.json"
	JWKSFile  = "jwks.json"
)

// Outcomes of a case.
const (
	Valid   = "valid"
	Invalid = "invalid"
)

// File is the content of cases.json.
type File struct {
	// Seed is what every key and every random-looking value is derived from.
	Seed string `json:"seed"`
	// Now is the fixed time (Unix seconds) the outcomes hold at; verify with a clock
	// stopped there.
	Now int64 `json:"now"`
	// ExpiredAfter (Unix seconds) is a time after which every case's token whose exp is
	// near Now has expired, leeway included; from then on ReasonAfterExpiry holds.
	ExpiredAfter int64  `json:"expired_after"`
	UserPoolID   string `json:"user_pool_id"`
	Region       string `json:"region"`
	// Issuer is the pool's issuer, https://cognito-idp.<region>.amazonaws.com/<pool>.
	Issuer string `json:"issuer"`
	// Configs are the verifier configurations cases refer to, by name.
	Configs map[string]Config `json:"configs"`
	Cases   []Case            `json:"cases"`
}

// Config is one verifier configuration of the user pool.
type Config struct {
	// ClientIDs are the allowed app clients (client_id of access tokens, aud of ID
	// tokens); empty with AnyClient.
	ClientIDs []string `json:"client_ids,omitempty"`
	AnyClient bool     `json:"any_client,omitempty"`
	// TokenUse is "access", "id" or "any".
	TokenUse string `json:"token_use"`
	// Scopes and Groups: the token must have one of them, when set.
	Scopes []string `json:"scopes,omitempty"`
	Groups []string `json:"groups,omitempty"`
	// LeewaySeconds is the clock skew allowed on exp, nbf and iat; 0 means none.
	LeewaySeconds int `json:"leeway_seconds"`
}

// Case is one token and what a verifier must make of it.
type Case struct {
	Name string `json:"name"`
	// Group is the family of the case ("alg", "kid", "claims/exp", ...).
	Group string `json:"group"`
	// Config names the verifier configuration in File.Configs.
	Config string `json:"config"`
	Token  string `json:"token"`
	// Expect is Valid or Invalid, at File.Now.
	Expect string `json:"expect"`
	// Reason is cognitokit's reason code for an Invalid case (cognito.ReasonCode).
	Reason string `json:"reason,omitempty"`
	// ReasonAfterExpiry is the reason code once File.ExpiredAfter has passed ("" for a
	// token still valid then).
	ReasonAfterExpiry string `json:"reason_after_expiry,omitempty"`
	// Note says why the outcome is what it is, where the name does not.
	Note string `json:"note,omitempty"`
}

// Dir returns the corpus directory of this source tree, testdata/corpus at the module
// root.
func Dir() string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return filepath.Join("testdata", "corpus")
	}
	return filepath.Join(filepath.Dir(file), "..", "..", "testdata", "corpus")
}

// Load reads the corpus of dir (Dir() when empty) and its JWKS.
func Load(dir string) (*File, []byte, error) {
	if dir == "" {
		dir = Dir()
	}
	data, err := os.ReadFile(filepath.Join(dir, CasesFile))
	if err != nil {
		return nil, nil, fmt.Errorf("corpus: %w", err)
	}
	var f File
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, nil, fmt.Errorf("corpus: %s: %w", CasesFile, err)
	}
	jwks, err := os.ReadFile(filepath.Join(dir, JWKSFile))
	if err != nil {
		return nil, nil, fmt.Errorf("corpus: %w", err)
	}
	for _, c := range f.Cases {
		if _, ok := f.Configs[c.Config]; !ok {
			return nil, nil, fmt.Errorf("corpus: case %q names unknown config %q", c.Name, c.Config)
		}
	}
	return &f, jwks, nil
}

// NowTime is File.Now as a time.Time.
func (f *File) NowTime() time.Time { return time.Unix(f.Now, 0).UTC() }

// Leeway is LeewaySeconds as a duration.
func (c Config) Leeway() time.Duration { return time.Duration(c.LeewaySeconds) * time.Second }
