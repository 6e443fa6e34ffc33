// oauth2-mock-server made to look like a Cognito user pool, for `make interop`.
//
//   POOL_ID=us-east-1_Mock CLIENTS='{"id":{"secret":"s","scopes":["a/b"]}}' node oauth2-mock-server.mjs
//
// Prints "listening on port N" once it serves on 127.0.0.1:N (N chosen by the system).
//
// Everything goes through the library's documented surface:
//   - OAuth2Service endpoint overrides put the token endpoint at /oauth2/token and the
//     JWKS at /<pool>/.well-known/jwks.json, so the issuer is http://127.0.0.1:N/<pool>
//     exactly as cognitokit's WithEndpoint expects;
//   - the beforeTokenSigning event gives client-credentials tokens Cognito's claims
//     (sub = client_id, client_id, token_use, scope, auth_time, jti, version; no aud and
//     no nbf);
//   - the beforeResponse event checks the client's credentials (the library accepts any)
//     and answers Cognito's OAuth errors: 400 invalid_client, 400 invalid_scope;
//   - the service's requestHandler runs inside our own http.Server, which injects the
//     faults the tests ask for by client ID: "fail-500-*" always gets HTTP 500,
//     "flaky-503-*" gets 503 with Retry-After: 0 on its first request, "slow-*" gets its
//     answer after SLOW_MS (default 3000) ms. GET /__stats returns the requests per client.
import http from "node:http";
import { randomUUID } from "node:crypto";
import { Events, OAuth2Issuer, OAuth2Service } from "oauth2-mock-server";

const pool = process.env.POOL_ID ?? "us-east-1_MockPool1";
const clients = JSON.parse(process.env.CLIENTS ?? "{}");
const slowMs = Number(process.env.SLOW_MS ?? 3000);
const ttl = Number(process.env.TOKEN_TTL ?? 3600);

// Two keys, as a Cognito pool has; the library signs with them in turn.
const issuer = new OAuth2Issuer();
await issuer.keys.generate("RS256", { kid: "mock-rs256-1" });
await issuer.keys.generate("RS256", { kid: "mock-rs256-2" });
const service = new OAuth2Service(issuer, {
  token: "/oauth2/token",
  jwks: `/${pool}/.well-known/jwks.json`,
  wellKnownDocument: `/${pool}/.well-known/openid-configuration`,
});

// credentials reads HTTP Basic client credentials, each part form-urlencoded (RFC 6749
// §2.3.1), which is how cognitokit (and Cognito) send them.
function credentials(req) {
  const m = /^Basic ([A-Za-z0-9+/=]+)$/.exec(req.headers.authorization ?? "");
  if (!m) return {};
  const text = Buffer.from(m[1], "base64").toString("utf8");
  const i = text.indexOf(":");
  if (i < 0) return {};
  const dec = (s) => decodeURIComponent(s.replace(/\+/g, " "));
  return { id: dec(text.slice(0, i)), secret: dec(text.slice(i + 1)) };
}

function granted(client, requested) {
  if (!requested) return client.scopes;
  const want = String(requested).split(" ").filter(Boolean);
  return want.every((s) => client.scopes.includes(s)) ? want : null;
}

service.on(Events.BeforeTokenSigning, (token, req) => {
  const { id } = credentials(req);
  const client = clients[id];
  const scope = client ? granted(client, req.body?.scope) : null;
  const p = token.payload;
  delete p.aud;
  delete p.nbf;
  Object.assign(p, {
    sub: id,
    token_use: "access",
    scope: (scope ?? []).join(" "),
    auth_time: p.iat,
    jti: randomUUID(),
    version: 2,
    client_id: id,
    exp: p.iat + ttl,
  });
});

service.on(Events.BeforeResponse, (res, req) => {
  const { id, secret } = credentials(req);
  const client = clients[id];
  if (!client || client.secret !== secret) {
    res.statusCode = 400;
    res.body = { error: "invalid_client" };
    return;
  }
  const scope = granted(client, req.body?.scope);
  if (!scope) {
    res.statusCode = 400;
    res.body = { error: "invalid_scope" };
    return;
  }
  res.body.expires_in = ttl;
  res.body.scope = scope.join(" ");
  delete res.body.refresh_token;
  delete res.body.id_token;
});

const requests = {};
const server = http.createServer((req, res) => {
  if (req.method === "GET" && req.url === "/__stats") {
    res.setHeader("Content-Type", "application/json");
    res.end(JSON.stringify(requests));
    return;
  }
  if (req.url !== "/oauth2/token") {
    service.requestHandler(req, res);
    return;
  }
  const { id = "" } = credentials(req);
  requests[id] = (requests[id] ?? 0) + 1;
  if (id.startsWith("fail-500-")) {
    res.writeHead(500, { "Content-Type": "application/json" });
    res.end(JSON.stringify({ error: "server_error" }));
    return;
  }
  if (id.startsWith("flaky-503-") && requests[id] === 1) {
    res.writeHead(503, { "Content-Type": "application/json", "Retry-After": "0" });
    res.end(JSON.stringify({ error: "temporarily_unavailable" }));
    return;
  }
  if (id.startsWith("slow-")) {
    const timer = setTimeout(() => service.requestHandler(req, res), slowMs);
    res.on("close", () => clearTimeout(timer));
    return;
  }
  service.requestHandler(req, res);
});

server.listen(0, "127.0.0.1", () => {
  const { port } = server.address();
  issuer.url = `http://127.0.0.1:${port}/${pool}`;
  console.log(`listening on port ${port}`);
});
for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => server.close(() => process.exit(0)));
