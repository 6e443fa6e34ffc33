// Package corpus is the token corpus every verifier of the side-by-side benchmarks reads:
// RS256-2048 access tokens shaped exactly like Amazon Cognito's, the JWKS that verifies
// them, and the rules a token must pass. The Go benchmarks and the Node runner read the
// same file, so every library verifies the same bytes under the same rules.
package corpus

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"time"

	"github.com/cognitokit/cognitokit/pkg/cognitotest"
)

// DefaultPath is where gencorpus writes the corpus, relative to the bench module.
const DefaultPath = "testdata/corpus.json"

// Corpus is the shared input of every verifier.
//
// The rules, the same for every library: signature RS256 by the JWKS key the kid names;
// iss == Issuer; token_use == "access"; client_id one of ClientIDs; exp present and not
// past. Every token of Distinct, MixTokens and Invalid is minted with exp far in the
// future (TTL below), so a corpus stays valid for years and no verifier needs a fixed
// clock; the Invalid tokens that must fail on time are minted already expired.
type Corpus struct {
	UserPoolID string          `json:"user_pool_id"`
	Region     string          `json:"region"`
	Issuer     string          `json:"issuer"`
	ClientIDs  []string        `json:"client_ids"`
	JWKS       json.RawMessage `json:"jwks"`
	// Distinct are tokens all different from each other: the cost of a token a verifier
	// has never seen.
	Distinct []string `json:"distinct"`
	// MixTokens and Mix model traffic: Mix is a sequence of requests, each the index of the
	// MixTokens token it carries, drawn with a Zipf distribution (a few busy callers, a
	// long tail), so each token is presented many times during its lifetime.
	MixTokens []string `json:"mix_tokens"`
	Mix       []int    `json:"mix"`
	// Invalid tokens break one rule each; every verifier must refuse all of them. (No
	// token here has a header alg other than RS256 over a genuine RS256 signature: jwx
	// verifies with the alg the JWK names and ignores the header's, which is safe but
	// would make the libraries disagree on a case outside the rules.)
	Invalid []Invalid `json:"invalid"`
	// GeneratedAt is when the corpus was minted (iat of its tokens).
	GeneratedAt time.Time `json:"generated_at"`
}

// Invalid is a token that breaks the rule Name says.
type Invalid struct {
	Name  string `json:"name"`
	Token string `json:"token"`
}

// Sizes of the default corpus.
const (
	DistinctTokens = 1000
	MixTokenCount  = 50
	MixRequests    = 10_000
	// TTL keeps the corpus valid long after it was generated. Cognito's own lifetimes are
	// 5 min to 1 day; no verifier in the suite checks the lifetime, only exp.
	TTL = 20 * 365 * 24 * time.Hour
)

// Load reads a corpus written by Generate and Write.
func Load(path string) (*Corpus, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("corpus: %w (run `go run ./cmd/gencorpus` in bench/)", err)
	}
	var c Corpus
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("corpus: %s: %w", path, err)
	}
	if len(c.Distinct) == 0 || len(c.MixTokens) == 0 || len(c.Mix) == 0 || len(c.JWKS) == 0 {
		return nil, fmt.Errorf("corpus: %s is incomplete", path)
	}
	for _, i := range c.Mix {
		if i < 0 || i >= len(c.MixTokens) {
			return nil, fmt.Errorf("corpus: %s: mix index %d out of range", path, i)
		}
	}
	return &c, nil
}

// Write stores c as JSON at path.
func (c *Corpus) Write(path string) error {
	data, err := json.Marshal(c)
	if err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o644)
}

// MixSequence returns the tokens of Mix in order: request i carries MixSequence()[i].
func (c *Corpus) MixSequence() []string {
	seq := make([]string, len(c.Mix))
	for i, j := range c.Mix {
		seq[i] = c.MixTokens[j]
	}
	return seq
}

// Options size a generated corpus; zero fields take the defaults above.
type Options struct {
	Distinct, MixTokens, MixRequests int
	// Seed makes the mix sequence and the token shapes reproducible (the signatures are
	// not: the keys are fresh).
	Seed uint64
}

// Generate mints a corpus with a local Cognito (pkg/cognitotest) whose issuer is the real
// regional Cognito URL of its pool, so the tokens are byte-for-byte the shape a service
// sees in production.
func Generate(o Options) (*Corpus, error) {
	if o.Distinct == 0 {
		o.Distinct = DistinctTokens
	}
	if o.MixTokens == 0 {
		o.MixTokens = MixTokenCount
	}
	if o.MixRequests == 0 {
		o.MixRequests = MixRequests
	}
	cfg := cognitotest.DefaultConfig()
	pool := cfg.Pools[0]
	const region = "us-east-1"
	srv, err := cognitotest.New("https://cognito-idp."+region+".amazonaws.com", cfg)
	if err != nil {
		return nil, err
	}
	jwks, err := srv.JWKS(pool.ID)
	if err != nil {
		return nil, err
	}
	reader, writer, admin := pool.Clients[0], pool.Clients[1], pool.Clients[2]
	now := time.Now().Truncate(time.Second)
	c := &Corpus{
		UserPoolID:  pool.ID,
		Region:      region,
		Issuer:      srv.Issuer(pool.ID),
		ClientIDs:   []string{reader.ID, writer.ID},
		JWKS:        jwks,
		GeneratedAt: now.UTC(),
	}
	rng := mrand.New(mrand.NewPCG(o.Seed, 0x636f676e69746f))
	// Four in five tokens are user tokens (username, groups, origin_jti, event_id: about
	// 1.1 KB), the rest client-credentials tokens (about 0.8 KB), from both allowed clients.
	mint := func() (string, error) {
		opts := cognitotest.TokenOptions{TTL: TTL, IssuedAt: now, Client: reader.ID}
		if rng.IntN(2) == 1 {
			opts.Client = writer.ID
		}
		if rng.IntN(5) != 0 {
			opts.Username = pool.Users[rng.IntN(len(pool.Users))].Username
			opts.Scopes = []string{"openid", "email", "profile", "orders/read"}
		}
		return srv.MintAccessToken(opts)
	}
	for range o.Distinct {
		tok, err := mint()
		if err != nil {
			return nil, err
		}
		c.Distinct = append(c.Distinct, tok)
	}
	for range o.MixTokens {
		tok, err := mint()
		if err != nil {
			return nil, err
		}
		c.MixTokens = append(c.MixTokens, tok)
	}
	// Zipf with s = 1.1: the busiest token carries about a fifth of the requests and
	// every token is used.
	zipf := mrand.NewZipf(mrand.New(mrand.NewPCG(o.Seed, 1)), 1.1, 1, uint64(o.MixTokens-1))
	for range o.MixRequests {
		c.Mix = append(c.Mix, int(zipf.Uint64()))
	}
	if c.Invalid, err = invalidTokens(srv, pool, admin.ID, now); err != nil {
		return nil, err
	}
	return c, nil
}

func invalidTokens(srv *cognitotest.Server, pool cognitotest.PoolConfig, otherClient string, now time.Time) ([]Invalid, error) {
	valid := cognitotest.TokenOptions{TTL: TTL, IssuedAt: now, Username: "alice"}
	forger, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	cases := []struct {
		name string
		mint func() (string, error)
	}{
		{"expired", func() (string, error) {
			o := valid
			o.IssuedAt, o.TTL = now.Add(-3*time.Hour), time.Hour
			return srv.MintAccessToken(o)
		}},
		{"wrong issuer", func() (string, error) {
			o := valid
			o.Claims = map[string]any{"iss": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_OtherPool"}
			return srv.MintAccessToken(o)
		}},
		{"client not allowed", func() (string, error) {
			o := valid
			o.Client = otherClient
			return srv.MintAccessToken(o)
		}},
		{"id token", func() (string, error) {
			o := valid
			o.Client = pool.Clients[0].ID
			return srv.MintIDToken(o)
		}},
		{"token_use missing", func() (string, error) {
			o := valid
			o.Claims = map[string]any{"token_use": nil}
			return srv.MintAccessToken(o)
		}},
		{"no exp", func() (string, error) {
			o := valid
			o.Claims = map[string]any{"exp": nil}
			return srv.MintAccessToken(o)
		}},
		{"signed by another key", func() (string, error) {
			// A forger's key under the pool's access-token kid.
			o := valid
			o.SigningKey = forger
			return srv.MintAccessToken(o)
		}},
		{"unknown kid", func() (string, error) {
			o := valid
			o.Header = map[string]any{"kid": "bm90LWEta2V5LW9mLXRoaXMtcG9vbA=="}
			return srv.MintAccessToken(o)
		}},
	}
	var out []Invalid
	for _, tc := range cases {
		tok, err := tc.mint()
		if err != nil {
			return nil, fmt.Errorf("corpus: mint %s: %w", tc.name, err)
		}
		out = append(out, Invalid{Name: tc.name, Token: tok})
	}
	// A flipped bit in the signature of a valid token.
	tok, err := srv.MintAccessToken(valid)
	if err != nil {
		return nil, err
	}
	b := []byte(tok)
	last := len(b) - 10
	if b[last] == 'A' {
		b[last] = 'B'
	} else {
		b[last] = 'A'
	}
	out = append(out, Invalid{Name: "tampered signature", Token: string(b)})
	return out, nil
}
