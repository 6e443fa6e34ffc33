// Package interop holds the tests of `make interop`: the adversarial corpus through
// aws-jwt-verify (a verifier cognitokit's authors did not write), and round trips of the
// authenticator, the authorizer and the policy middleware with oauth2-mock-server and
// oidc-provider (servers they did not write). The tests need Node.js and the npm packages
// pinned in interop/package-lock.json, so they carry the build tag "interop" and `make
// test` does not build them; `make interop` installs the packages into a temporary
// folder and runs them.
package interop
