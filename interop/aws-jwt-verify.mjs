// Runs the cognitokit adversarial corpus through aws-jwt-verify's CognitoJwtVerifier and
// prints one JSON array: {name, valid, decided, error} per case, in corpus order.
//
//   node aws-jwt-verify.mjs <cases.json> <jwks.json>
//
// No network: each verifier is hydrated with the corpus JWKS (cacheJwks) and verifySync
// never fetches. The clock: verifySync reads Date.now() and has no clock option, so
// Date.now is replaced by the corpus's fixed "now" before any verification. Leeway: the
// corpus config's leeway_seconds becomes graceSeconds (aws-jwt-verify's default is 0,
// cognitokit's 60 s).
//
// "decided" is true when verifySync returned claims or threw one of the library's own
// errors (JwtBaseError: a refusal); anything else (a TypeError, a crash) is not a
// decision and is reported as such.
import { readFileSync } from "node:fs";
import { CognitoJwtVerifier } from "aws-jwt-verify";
import { JwtBaseError } from "aws-jwt-verify/error";

const [casesPath, jwksPath] = process.argv.slice(2);
const corpus = JSON.parse(readFileSync(casesPath, "utf8"));
const jwks = JSON.parse(readFileSync(jwksPath, "utf8"));

const nowMs = corpus.now * 1000;
Date.now = () => nowMs;

const verifiers = {};
for (const [name, cfg] of Object.entries(corpus.configs)) {
  const props = {
    userPoolId: corpus.user_pool_id,
    tokenUse: cfg.token_use === "any" ? null : cfg.token_use,
    clientId: cfg.any_client ? null : cfg.client_ids,
    graceSeconds: cfg.leeway_seconds,
  };
  if (cfg.scopes?.length) props.scope = cfg.scopes;
  if (cfg.groups?.length) props.groups = cfg.groups;
  const v = CognitoJwtVerifier.create(props);
  v.cacheJwks(jwks);
  verifiers[name] = v;
}

const results = corpus.cases.map((c) => {
  try {
    verifiers[c.config].verifySync(c.token);
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
