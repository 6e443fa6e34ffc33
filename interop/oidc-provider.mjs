// oidc-provider (the certified OpenID Connect server) issuing client-credentials JWT
// access tokens under Cognito's paths, for `make interop`.
//
//   POOL_ID=us-east-1_Oidc CLIENTS='{"id":{"secret":"s","scopes":["a/b"]}}' node oidc-provider.mjs
//
// Prints "listening on port N" once it serves on 127.0.0.1:N. Configuration, all of it
// documented oidc-provider options:
//   - issuer http://127.0.0.1:N/<pool>; routes.token /oauth2/token and routes.jwks
//     /<pool>/.well-known/jwks.json: Cognito's layout, as cognitokit's WithEndpoint expects;
//   - features.clientCredentials, and features.resourceIndicators with a default resource
//     whose access tokens are JWTs (accessTokenFormat "jwt", RS256): without a resource
//     indicator oidc-provider issues opaque access tokens;
//   - formats.customizers.jwt adds token_use "access", the one claim Cognito access
//     tokens carry that RFC 9068 tokens lack (cognitokit requires it). Tokens of the
//     resource "urn:cognitokit:plain" are left as oidc-provider makes them.
// The RFC 9068 shape otherwise fits: sub = client_id for client credentials, client_id,
// scope, iss, iat, exp, jti; aud (the resource) and the "at+jwt" typ are ignored by
// cognitokit for access tokens.
import http from "node:http";
import { generateKeyPairSync } from "node:crypto";
import Provider, { errors } from "oidc-provider";

const pool = process.env.POOL_ID ?? "us-east-1_OidcPool1";
const clients = JSON.parse(process.env.CLIENTS ?? "{}");
const ordersResource = "https://orders.example";
const plainResource = "urn:cognitokit:plain";
const allScopes = [...new Set(Object.values(clients).flatMap((c) => c.scopes))];

const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: "jwk" }), kid: "oidc-rs256-1", alg: "RS256", use: "sig" };

const server = http.createServer();
await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
const { port } = server.address();

const provider = new Provider(`http://127.0.0.1:${port}/${pool}`, {
  clients: Object.entries(clients).map(([id, c]) => ({
    client_id: id,
    client_secret: c.secret,
    grant_types: ["client_credentials"],
    redirect_uris: [],
    response_types: [],
    token_endpoint_auth_method: "client_secret_basic",
    scope: c.scopes.join(" "),
  })),
  jwks: { keys: [signingKey] },
  cookies: { keys: ["cognitokit-interop-not-a-secret"] },
  routes: { token: "/oauth2/token", jwks: `/${pool}/.well-known/jwks.json` },
  scopes: allScopes,
  ttl: { ClientCredentials: 3600 },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: (ctx, client, oneOf) => oneOf ?? ordersResource,
      useGrantedResource: () => true,
      getResourceServerInfo: (ctx, resource) => {
        if (resource !== ordersResource && resource !== plainResource) throw new errors.InvalidTarget();
        return { scope: allScopes.join(" "), accessTokenFormat: "jwt", accessTokenTTL: 3600, jwt: { sign: { alg: "RS256" } } };
      },
    },
  },
  formats: {
    customizers: {
      jwt: (ctx, token, jwt) => {
        if (jwt.payload.aud !== plainResource) jwt.payload.token_use = "access";
      },
    },
  },
});
server.on("request", provider.callback());
console.log(`listening on port ${port}`);
for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => server.close(() => process.exit(0)));
