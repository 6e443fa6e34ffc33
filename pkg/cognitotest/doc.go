// Package cognitotest runs a local Amazon Cognito: a real HTTP server that serves the
// token, JWKS, OpenID discovery, userInfo and revoke endpoints described in
// api/openapi.yaml, and mints real RS256-signed tokens shaped exactly like Cognito's.
//
// It exists so that code using cognitokit (and cognitokit itself) can be tested end to end
// without an AWS account: fetch client-credentials tokens, verify them against the served
// JWKS, sign users in ([Server.SignIn]) and refresh or revoke their sessions, rotate keys,
// mint expired or forged tokens, and make endpoints fail or stall.
//
// In a test, start one with [Start], which binds 127.0.0.1 on a free port and stops the
// server when the test ends:
//
//	srv := cognitotest.Start(t, cognitotest.DefaultConfig())
//	client := srv.Pools()[0].Clients[0]
//	// client.ID and client.Secret authenticate at srv.TokenURL();
//	// tokens verify against srv.JWKSURL(poolID) with issuer srv.Issuer(poolID).
//
// Outside tests (the `cognitokit local` command), build a [Server] with [New] and
// serve it with any [net/http] server; it is an [http.Handler].
//
// The server implements gen.StrictServerInterface, the interface oapi-codegen generated
// from the same OpenAPI document as cognitokit's client, and validates every request
// against that document with kin-openapi, so the spec is exercised from both ends.
//
// It is a test double, not a security boundary: secrets and keys live in memory and the
// test controls can mint any token.
package cognitotest
