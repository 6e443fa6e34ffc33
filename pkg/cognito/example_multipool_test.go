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

// startMultiPoolCognito serves a local Cognito with two pools (cognitotest.MultiPoolConfig)
// on 127.0.0.1. Tests would use cognitotest.Start.
func startMultiPoolCognito() (*cognitotest.Server, func()) {
	hs := httptest.NewUnstartedServer(nil)
	cfg := cognitotest.MultiPoolConfig()
	cfg.Clock = exampleNow
	srv, err := cognitotest.New("http://"+hs.Listener.Addr().String(), cfg)
	if err != nil {
		log.Fatal(err)
	}
	hs.Config.Handler = srv
	hs.Start()
	return srv, hs.Close
}

// One verifier for two pools: the web app's users send ID tokens from one pool, a partner's
// machines send access tokens from another. Each token is checked against its own pool's
// rules, and Claims.UserPoolID says which pool it came from.
func ExampleNewMultiPoolAuthorizer() {
	local, stop := startMultiPoolCognito()
	defer stop()

	authorizer, err := cognito.NewMultiPoolAuthorizer([]cognito.JWTAuthorizerConfig{
		{UserPoolID: "us-east-1_LocalPool1", Audience: "1reader0orders0client00001", TokenUse: cognito.TokenUseID},
		{UserPoolID: "eu-west-1_LocalPool2", Audience: "4partner0sync00client00004", RequiredScopes: []string{"inventory/read"}},
	}, cognito.WithEndpoint(local.BaseURL()), cognito.WithClock(exampleNow))
	if err != nil {
		log.Fatal(err)
	}

	user, err := local.MintIDToken(cognitotest.TokenOptions{Username: "alice", Client: "orders-reader"})
	if err != nil {
		log.Fatal(err)
	}
	machine, err := local.MintAccessToken(cognitotest.TokenOptions{Pool: "eu-west-1_LocalPool2", Client: "partner-sync"})
	if err != nil {
		log.Fatal(err)
	}
	for _, token := range []string{user, machine} {
		claims, err := authorizer.Verify(context.Background(), token)
		if err != nil {
			fmt.Println("refused:", cognito.ReasonCode(err))
			continue
		}
		fmt.Println(claims.UserPoolID, claims.TokenUse, claims.ClientID)
	}

	// The partner's client ID inside a token of the first pool is not the first pool's client.
	forged, err := local.MintIDToken(cognitotest.TokenOptions{Username: "alice", Client: "orders-reader",
		Claims: map[string]any{"aud": "4partner0sync00client00004"}})
	if err != nil {
		log.Fatal(err)
	}
	_, err = authorizer.Verify(context.Background(), forged)
	fmt.Println("refused:", cognito.ReasonCode(err))
	// Output:
	// us-east-1_LocalPool1 id 1reader0orders0client00001
	// eu-west-1_LocalPool2 access 4partner0sync00client00004
	// refused: invalid_client
}

// errSuspended is what the custom check answers for a suspended user.
var errSuspended = errors.New("user is suspended")

// A check the built-in rules cannot express, such as "is this user suspended?", runs on
// every Verify (cache hits included) after the built-in checks passed.
func ExampleWithCustomCheck() {
	local, stop := startLocalCognito()
	defer stop()

	suspended := map[string]bool{"b0b00000-0000-4000-8000-000000000002": true} // your database
	authorizer, err := cognito.NewJWTAuthorizer(cognito.JWTAuthorizerConfig{
		UserPoolID: "us-east-1_LocalPool1",
		Audience:   "1reader0orders0client00001",
	}, cognito.WithEndpoint(local.BaseURL()), cognito.WithClock(exampleNow),
		cognito.WithCustomCheck(func(ctx context.Context, c *cognito.Claims) error {
			if suspended[c.Sub] {
				return errSuspended
			}
			return nil
		}))
	if err != nil {
		log.Fatal(err)
	}
	for _, user := range []string{"alice", "bob"} {
		token, err := local.MintAccessToken(cognitotest.TokenOptions{Username: user, Client: "orders-reader"})
		if err != nil {
			log.Fatal(err)
		}
		_, err = authorizer.Verify(context.Background(), token)
		switch {
		case errors.Is(err, errSuspended):
			fmt.Println(user+":", cognito.ReasonCode(err), errors.Is(err, cognito.ErrCustomCheck))
		case err != nil:
			fmt.Println(user+":", err)
		default:
			fmt.Println(user+":", "ok")
		}
	}
	// Output:
	// alice: ok
	// bob: custom_check_failed true
}

// A refused token whose signature verified carries its claims, so a client can tell whose
// token expired and refresh that user's session, rather than sign everyone out. The claims
// belong to a refused token: use them to decide what to do next, never to grant access.
func ExampleAuthorizationError_claims() {
	local, stop := startLocalCognito()
	defer stop()

	authorizer, err := cognito.NewJWTAuthorizer(cognito.JWTAuthorizerConfig{
		UserPoolID: "us-east-1_LocalPool1",
		Audience:   "1reader0orders0client00001",
	}, cognito.WithEndpoint(local.BaseURL()), cognito.WithClock(exampleNow))
	if err != nil {
		log.Fatal(err)
	}
	expired, err := local.MintAccessToken(cognitotest.TokenOptions{Username: "alice", Client: "orders-reader",
		IssuedAt: exampleNow().Add(-2 * time.Hour)})
	if err != nil {
		log.Fatal(err)
	}
	forged := expired[:len(expired)-8] + "AAAAAAAA"

	for _, token := range []string{expired, forged} {
		_, err := authorizer.Verify(context.Background(), token)
		var authErr *cognito.AuthorizationError
		if !errors.As(err, &authErr) {
			continue
		}
		if authErr.Claims != nil && errors.Is(err, cognito.ErrTokenExpired) {
			fmt.Println("refresh the session of", authErr.Claims.Username)
		} else {
			fmt.Println("sign out:", authErr.ReasonCode(), authErr.Claims == nil)
		}
	}
	// Output:
	// refresh the session of alice
	// sign out: invalid_signature true
}
