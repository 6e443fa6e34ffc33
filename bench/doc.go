// Package bench compares cognitokit's token verification with the libraries a Go team
// would otherwise pick, on one shared corpus (package corpus) and under the same rules:
// RS256 by the JWKS key the kid names, iss exact, token_use == "access", client_id in the
// allowed set, exp present and not past.
//
// It is its own module so that the peers never become dependencies of the SDK. Run it with
// `make bench-peers` from the repository root; see BENCHMARKS.md.
package bench
