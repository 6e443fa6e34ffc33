package bench

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/golang-jwt/jwt/v5"
	"github.com/lestrrat-go/jwx/v2/jwk"
	jwxjwt "github.com/lestrrat-go/jwx/v2/jwt"

	"github.com/cognitokit/cognitokit/bench/corpus"
	"github.com/cognitokit/cognitokit/pkg/cognito"
)

// Verifier checks one token against the corpus rules.
type Verifier interface {
	Verify(ctx context.Context, token string) error
}

// Library builds a Verifier for a corpus with one peer library, configured the way its
// documentation recommends, with its keys in memory: no network call happens while tokens
// are verified.
type Library struct {
	Name string
	// RemembersTokens is true for a verifier that caches tokens it verified: the distinct
	// benchmark gives it a fresh instance for each pass over the corpus, so that every
	// token it verifies there is new to it.
	RemembersTokens bool
	// New returns a ready verifier and a function releasing what it holds.
	New func(c *corpus.Corpus) (Verifier, func(), error)
}

// Libraries lists cognitokit first (named with CryptoBuild's suffix), then the Go peers.
func Libraries() []Library {
	return []Library{
		{Name: "cognitokit" + CryptoBuild(), RemembersTokens: true, New: newCognitokit},
		{Name: "go-oidc", New: newGoOIDC},
		{Name: "keyfunc+golang-jwt", New: newKeyfunc},
		{Name: "jwx", New: newJWX},
	}
}

var (
	errTokenUse = errors.New("token_use is not access")
	errClient   = errors.New("client_id is not allowed")
)

// cognitokit: a JWTAuthorizer with the pool's JWKS given statically (WithJWKS); with a
// fetched JWKS the verification path is the same once the keys are loaded. The verified
// cache is on, as it is by default.
type cognitokitVerifier struct{ z *cognito.JWTAuthorizer }

func newCognitokit(c *corpus.Corpus) (Verifier, func(), error) {
	z, err := cognito.NewJWTAuthorizer(cognito.JWTAuthorizerConfig{
		UserPoolID: c.UserPoolID,
		Region:     c.Region,
		ClientIDs:  c.ClientIDs,
	}, cognito.WithJWKS(c.JWKS))
	if err != nil {
		return nil, nil, err
	}
	return cognitokitVerifier{z}, func() {}, nil
}

func (v cognitokitVerifier) Verify(ctx context.Context, token string) error {
	_, err := v.z.Verify(ctx, token)
	return err
}

// go-oidc: an IDTokenVerifier over a RemoteKeySet (what oidc.NewProvider builds), its JWKS
// served once on loopback and then cached by the key set. go-oidc is made for ID tokens:
// SkipClientIDCheck turns off its aud check (access tokens have no aud) and the Cognito
// claims are checked after it, from the verified payload.
type goOIDCVerifier struct {
	v       *oidc.IDTokenVerifier
	clients []string
}

func newGoOIDC(c *corpus.Corpus) (Verifier, func(), error) {
	srv := serveJWKS(c.JWKS)
	ctx := context.Background()
	keys := oidc.NewRemoteKeySet(ctx, srv.URL+"/.well-known/jwks.json")
	v := &goOIDCVerifier{
		v: oidc.NewVerifier(c.Issuer, keys, &oidc.Config{
			SkipClientIDCheck:    true,
			SupportedSigningAlgs: []string{oidc.RS256},
		}),
		clients: c.ClientIDs,
	}
	// Load the keys now, so that no benchmark pays the fetch.
	if err := v.Verify(ctx, c.Distinct[0]); err != nil {
		srv.Close()
		return nil, nil, fmt.Errorf("go-oidc: warm-up: %w", err)
	}
	return v, srv.Close, nil
}

func (v *goOIDCVerifier) Verify(ctx context.Context, token string) error {
	t, err := v.v.Verify(ctx, token)
	if err != nil {
		return err
	}
	var claims struct {
		TokenUse string `json:"token_use"`
		ClientID string `json:"client_id"`
	}
	if err := t.Claims(&claims); err != nil {
		return err
	}
	return checkCognito(claims.TokenUse, claims.ClientID, v.clients)
}

// keyfunc + golang-jwt: a jwt.Parser built once (RS256 only, issuer, exp required) with
// keyfunc's Keyfunc over the JWKS, parsing into a claims struct.
type keyfuncVerifier struct {
	p       *jwt.Parser
	kf      keyfunc.Keyfunc
	clients []string
}

type jwtCognitoClaims struct {
	jwt.RegisteredClaims
	TokenUse string `json:"token_use"`
	ClientID string `json:"client_id"`
}

func newKeyfunc(c *corpus.Corpus) (Verifier, func(), error) {
	kf, err := keyfunc.NewJWKSetJSON(c.JWKS)
	if err != nil {
		return nil, nil, err
	}
	p := jwt.NewParser(jwt.WithValidMethods([]string{"RS256"}), jwt.WithIssuer(c.Issuer), jwt.WithExpirationRequired())
	return &keyfuncVerifier{p: p, kf: kf, clients: c.ClientIDs}, func() {}, nil
}

func (v *keyfuncVerifier) Verify(_ context.Context, token string) error {
	var claims jwtCognitoClaims
	if _, err := v.p.ParseWithClaims(token, &claims, v.kf.Keyfunc); err != nil {
		return err
	}
	return checkCognito(claims.TokenUse, claims.ClientID, v.clients)
}

// jwx: jwt.Parse with the parsed jwk.Set and the validation options built once.
type jwxVerifier struct {
	opts    []jwxjwt.ParseOption
	clients []string
}

func newJWX(c *corpus.Corpus) (Verifier, func(), error) {
	set, err := jwk.Parse(c.JWKS)
	if err != nil {
		return nil, nil, err
	}
	return &jwxVerifier{
		opts: []jwxjwt.ParseOption{
			jwxjwt.WithKeySet(set),
			jwxjwt.WithValidate(true),
			jwxjwt.WithIssuer(c.Issuer),
			jwxjwt.WithRequiredClaim("exp"),
			jwxjwt.WithClaimValue("token_use", "access"),
		},
		clients: c.ClientIDs,
	}, func() {}, nil
}

func (v *jwxVerifier) Verify(_ context.Context, token string) error {
	t, err := jwxjwt.ParseString(token, v.opts...)
	if err != nil {
		return err
	}
	id, _ := t.PrivateClaims()["client_id"].(string)
	return checkCognito("access", id, v.clients)
}

func checkCognito(tokenUse, clientID string, allowed []string) error {
	if tokenUse != "access" {
		return errTokenUse
	}
	if !slices.Contains(allowed, clientID) {
		return errClient
	}
	return nil
}

// serveJWKS serves jwks on 127.0.0.1 (httptest's listener) for the verifiers that only
// fetch their keys.
func serveJWKS(jwks []byte) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(jwks)
	}))
}
