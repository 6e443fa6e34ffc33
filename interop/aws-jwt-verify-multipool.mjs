// Runs two-pool cases through aws-jwt-verify's multi-pool CognitoJwtVerifier
// (CognitoJwtVerifier.create([...])) and prints one JSON array: {name, valid, decided,
// error} per case, in order.
//
//   node aws-jwt-verify-multipool.mjs <cases.json>
//
// cases.json: {"now": <unix seconds>, "pools": [{"user_pool_id", "token_use", "client_ids",
// "jwks"}], "cases": [{"name", "token"}]}. No network: each pool is hydrated with its own
// JWKS (cacheJwks(jwks, userPoolId)); Date.now is the cases' fixed "now"; graceSeconds 60,
// cognitokit's default leeway.
import { readFileSync } from "node:fs";
import { CognitoJwtVerifier } from "aws-jwt-verify";
import { JwtBaseError } from "aws-jwt-verify/error";

const [casesPath] = process.argv.slice(2);
const input = JSON.parse(readFileSync(casesPath, "utf8"));

const nowMs = input.now * 1000;
Date.now = () => nowMs;

const verifier = CognitoJwtVerifier.create(
  input.pools.map((p) => ({
    userPoolId: p.user_pool_id,
    tokenUse: p.token_use,
    clientId: p.client_ids,
    graceSeconds: 60,
  })),
);
for (const p of input.pools) verifier.cacheJwks(p.jwks, p.user_pool_id);

const results = input.cases.map((c) => {
  try {
    verifier.verifySync(c.token);
    return { name: c.name, valid: true, decided: true };
  } catch (err) {
    return {
      name: c.name,
      valid: false,
      decided: err instanceof JwtBaseError,
      error: err?.constructor?.name ?? String(err),
      message: String(err?.message ?? err).slice(0, 200),
    };
  }
});
process.stdout.write(JSON.stringify(results) + "\n");
