package cognito_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http/httptest"
	"time"

	"github.com/cognitokit/cognitokit/pkg/cognito"
	"github.com/cognitokit/cognitokit/pkg/cognitotest"
)

// exampleNow is the fixed time the examples run at, so their output is stable.
func exampleNow() time.Time { return time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC) }

// startLocalCognito serves a local Cognito (cognitotest.DefaultConfig) on 127.0.0.1 and
// returns it with the function that stops it. Tests would use cognitotest.Start.
func startLocalCognito() (*cognitotest.Server, func()) {
	hs := httptest.NewUnstartedServer(nil)
	cfg := cognitotest.DefaultConfig()
	cfg.Clock = exampleNow
	srv, err := cognitotest.New("http://"+hs.Listener.Addr().String(), cfg)
	if err != nil {
		log.Fatal(err)
	}
	hs.Config.Handler = srv
	hs.Start()
	return srv, hs.Close
}

// Verify a user's ID token and read its claims. Against AWS, leave out WithEndpoint and
// WithClock: the JWKS then comes from
// https://cognito-idp.us-east-1.amazonaws.com/<pool>/.well-known/jwks.json.
func ExampleNewJWTAuthorizer() {
	local, stop := startLocalCognito()
	defer stop()

	authorizer, err := cognito.NewJWTAuthorizer(cognito.JWTAuthorizerConfig{
		UserPoolID: "us-east-1_LocalPool1",
		Region:     "us-east-1",
		Audience:   "1reader0orders0client00001", // the app client ID
		TokenUse:   cognito.TokenUseID,           // email and name are in ID tokens
	}, cognito.WithEndpoint(local.BaseURL()), cognito.WithClock(exampleNow))
	if err != nil {
		log.Fatal(err)
	}

	// What a browser would send after signing in alice.
	token, err := local.MintIDToken(cognitotest.TokenOptions{Username: "alice", Client: "orders-reader"})
	if err != nil {
		log.Fatal(err)
	}

	claims, err := authorizer.Verify(context.Background(), token)
	if err != nil {
		fmt.Println("Token validation failed:", err)
		return
	}
	fmt.Println("User ID:", claims.Sub)
	fmt.Println("Email:", claims.Email)
	fmt.Println("Name:", claims.Name)
	fmt.Println("Expires:", claims.ExpiresAt().UTC().Format(time.RFC3339))
	// Output:
	// User ID: a11ce000-0000-4000-8000-000000000001
	// Email: alice@example.com
	// Name: Alice Admin
	// Expires: 2026-01-02T16:04:05Z
}

// Tell why a token was refused: errors.Is against the reasons, or their stable codes for
// logs and metrics. Neither the error nor its detail holds the token.
func ExampleJWTAuthorizer_Verify() {
	local, stop := startLocalCognito()
	defer stop()

	authorizer, err := cognito.NewJWTAuthorizer(cognito.JWTAuthorizerConfig{
		UserPoolID:     "us-east-1_LocalPool1",
		Audience:       "1reader0orders0client00001",
		RequiredScopes: []string{"orders/read"},
	}, cognito.WithEndpoint(local.BaseURL()), cognito.WithClock(exampleNow))
	if err != nil {
		log.Fatal(err)
	}

	// A machine-to-machine access token that expired two hours ago.
	token, err := local.MintAccessToken(cognitotest.TokenOptions{
		Client:   "orders-reader",
		IssuedAt: exampleNow().Add(-3 * time.Hour),
	})
	if err != nil {
		log.Fatal(err)
	}

	_, err = authorizer.Verify(context.Background(), token)
	switch {
	case errors.Is(err, cognito.ErrTokenExpired):
		fmt.Println("401, ask for a new token:", cognito.ReasonCode(err))
	case errors.Is(err, cognito.ErrJWKSUnavailable):
		fmt.Println("503, Cognito's keys are unreachable")
	case err != nil:
		fmt.Println("401:", cognito.ReasonCode(err))
	}
	var authErr *cognito.AuthorizationError
	if errors.As(err, &authErr) {
		fmt.Println(authErr.Detail)
	}
	// Output:
	// 401, ask for a new token: expired
	// exp is past by more than the leeway
}

// Warm loads the keys at start-up, so a Cognito outage shows before the first request.
func ExampleJWTAuthorizer_Warm() {
	local, stop := startLocalCognito()
	defer stop()

	authorizer, err := cognito.NewJWTAuthorizer(cognito.JWTAuthorizerConfig{
		UserPoolID: "us-east-1_LocalPool1",
		Audience:   "1reader0orders0client00001",
	}, cognito.WithEndpoint(local.BaseURL()))
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := authorizer.Warm(ctx); err != nil {
		log.Fatalf("cannot load the user pool's keys: %v", err)
	}
	fmt.Println("keys loaded, JWKS requests:", local.Requests(cognitotest.EndpointJWKS))
	// Output: keys loaded, JWKS requests: 1
}

// Where an authorizer for an AWS user pool takes its keys from, and which iss it accepts.
func ExampleJWTAuthorizer_JWKSURL() {
	authorizer, err := cognito.NewJWTAuthorizer(cognito.JWTAuthorizerConfig{
		UserPoolID: "us-east-1_ABC123DEF",
		Region:     "us-east-1",
		Audience:   "your-client-id",
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(authorizer.Issuer())
	fmt.Println(authorizer.JWKSURL())
	// Output:
	// https://cognito-idp.us-east-1.amazonaws.com/us-east-1_ABC123DEF
	// https://cognito-idp.us-east-1.amazonaws.com/us-east-1_ABC123DEF/.well-known/jwks.json
}

// A fixed key set: no network at all, for offline tools and tests.
func ExampleWithJWKS() {
	// The local Cognito is not even served: only its keys and tokens are used.
	local, err := cognitotest.New("http://127.0.0.1:9", cognitotest.DefaultConfig())
	if err != nil {
		log.Fatal(err)
	}
	jwks, err := local.JWKS("us-east-1_LocalPool1")
	if err != nil {
		log.Fatal(err)
	}
	authorizer, err := cognito.NewJWTAuthorizer(cognito.JWTAuthorizerConfig{
		UserPoolID: "us-east-1_LocalPool1",
		ClientIDs:  []string{"1reader0orders0client00001", "2writer0orders0client00002"},
	}, cognito.WithEndpoint(local.BaseURL()), cognito.WithJWKS(jwks))
	if err != nil {
		log.Fatal(err)
	}
	token, err := local.MintAccessToken(cognitotest.TokenOptions{Client: "orders-writer"})
	if err != nil {
		log.Fatal(err)
	}
	claims, err := authorizer.Verify(context.Background(), token)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(claims.ClientID, claims.Scopes, claims.HasScope("orders/write"))
	// Output: 2writer0orders0client00002 [orders/read orders/write] true
}
