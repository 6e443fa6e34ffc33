package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jwt"

	"github.com/cognitokit/cognitokit/gen"
	"github.com/cognitokit/cognitokit/pkg/cognitotest"
)

func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("demo", `Usage: cognitokit demo

Starts a local Cognito on a free loopback port, fetches a client-credentials token through
the client generated from api/openapi.yaml, verifies it against the served JWKS and prints
it decoded. Exits 0 when every step worked.`, stdout)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()

	srv, ln, err := listenLocal("127.0.0.1:0", cognitotest.DefaultConfig())
	if err != nil {
		return err
	}
	serveCtx, stopServing := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- serveUntilDone(serveCtx, ln, srv) }()
	defer func() { stopServing(); <-served }()
	fmt.Fprintf(stderr, "local Cognito listening at %s\n", srv.BaseURL())

	pool := srv.Pools()[0]
	client, _ := pool.Client("orders-writer")
	api, err := gen.NewClientWithResponses(srv.BaseURL(), gen.WithHTTPClient(&http.Client{Timeout: 10 * time.Second}))
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "requesting a client_credentials token for %s\n", client.Name)
	tr, err := api.PostTokenWithFormdataBodyWithResponse(ctx,
		gen.PostTokenFormdataRequestBody{GrantType: gen.ClientCredentials, Scope: "orders/read orders/write"},
		func(_ context.Context, r *http.Request) error {
			r.SetBasicAuth(url.QueryEscape(client.ID), url.QueryEscape(client.Secret))
			return nil
		})
	if err != nil {
		return fmt.Errorf("token request: %w", err)
	}
	if tr.JSON200 == nil {
		return fmt.Errorf("token request: status %d", tr.StatusCode())
	}
	fmt.Fprintf(stderr, "fetching the JWKS of %s\n", pool.ID)
	kr, err := api.GetJWKSWithResponse(ctx, pool.ID)
	if err != nil {
		return fmt.Errorf("JWKS request: %w", err)
	}
	if kr.JSON200 == nil {
		return fmt.Errorf("JWKS request: status %d", kr.StatusCode())
	}
	set, err := jwk.Parse(kr.Body)
	if err != nil {
		return fmt.Errorf("JWKS: %w", err)
	}
	if _, err := jwt.Parse([]byte(tr.JSON200.AccessToken), jwt.WithKeySet(set),
		jwt.WithIssuer(srv.Issuer(pool.ID)), jwt.WithClaimValue("token_use", "access"),
		jwt.WithClaimValue("client_id", client.ID)); err != nil {
		return fmt.Errorf("token does not verify: %w", err)
	}

	parts := strings.Split(tr.JSON200.AccessToken, ".")
	fmt.Fprintf(stdout, "token_type  %s\nexpires_in  %d s\nsignature   RS256, verified against %s\n",
		tr.JSON200.TokenType, tr.JSON200.ExpiresIn, srv.JWKSURL(pool.ID))
	for i, name := range []string{"header", "claims"} {
		raw, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			return err
		}
		var pretty strings.Builder
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			return err
		}
		enc := json.NewEncoder(&pretty)
		enc.SetIndent("", "  ")
		_ = enc.Encode(v)
		fmt.Fprintf(stdout, "%s %s", name, pretty.String())
	}
	return nil
}
