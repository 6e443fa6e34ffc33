// Verifies the shared corpus with aws-jwt-verify's CognitoJwtVerifier.verifySync, hydrated
// with the corpus JWKS (cacheJwks), under the corpus rules: issuer of the pool,
// token_use "access", client_id among the allowed clients, exp. It prints Go benchmark
// lines, so that the report reads Go and Node results alike.
//
//   node verify.cjs <aws-jwt-verify module dir> <corpus.json> [count] [seconds per run]
//
// With count 0 it only checks the rules. It exits 1 if a valid token is refused or an
// invalid one accepted.
"use strict";
const crypto = require("node:crypto");
const fs = require("node:fs");

const [moduleDir, corpusPath, countArg, secondsArg] = process.argv.slice(2);
if (!moduleDir || !corpusPath) {
  console.error("usage: node verify.cjs <aws-jwt-verify dir> <corpus.json> [count] [seconds]");
  process.exit(2);
}
const count = Number(countArg ?? 6);
const seconds = Number(secondsArg ?? 1);
const { CognitoJwtVerifier } = require(moduleDir);
const pkg = JSON.parse(fs.readFileSync(moduleDir + "/package.json", "utf8"));
const corpus = JSON.parse(fs.readFileSync(corpusPath, "utf8"));

const verifier = CognitoJwtVerifier.create({
  userPoolId: corpus.user_pool_id,
  tokenUse: "access",
  clientId: corpus.client_ids,
  // aws-jwt-verify checks exp only when present; the corpus rules require it.
  customJwtCheck: ({ payload }) => {
    if (payload.exp === undefined) throw new Error("token has no exp");
  },
});
verifier.cacheJwks(corpus.jwks);

// The same rules as the Go verifiers: every valid token passes, every invalid one fails.
for (const t of corpus.distinct.concat(corpus.mix_tokens)) {
  verifier.verifySync(t);
}
for (const bad of corpus.invalid) {
  let accepted = true;
  try {
    verifier.verifySync(bad.token);
  } catch {
    accepted = false;
  }
  if (accepted) {
    console.error(`aws-jwt-verify accepted the invalid token "${bad.name}"`);
    process.exit(1);
  }
}

const mix = corpus.mix.map((i) => corpus.mix_tokens[i]);

// run calls verify on tokens round-robin for about `seconds`, checking the clock every
// 100 calls, and returns the nanoseconds per call.
function run(verify, tokens) {
  const budget = BigInt(Math.round(seconds * 1e9));
  let n = 0;
  let i = 0;
  const start = process.hrtime.bigint();
  const cpuStart = process.cpuUsage();
  let elapsed = 0n;
  while (elapsed < budget) {
    for (let k = 0; k < 100; k++) {
      verify(tokens[i]);
      i = i + 1 === tokens.length ? 0 : i + 1;
    }
    n += 100;
    elapsed = process.hrtime.bigint() - start;
  }
  const cpu = process.cpuUsage(cpuStart); // microseconds, every thread of the process
  return { n, nsPerOp: Number(elapsed) / n, cpuNsPerOp: ((cpu.user + cpu.system) * 1000) / n };
}

if (count === 0) process.exit(0); // the rule check alone
console.log(`# aws-jwt-verify ${pkg.version}, node ${process.version}, verifySync (one thread)`);
run(verifier.verifySync.bind(verifier), corpus.distinct); // warm-up: JIT and key objects
for (const [name, tokens] of [["distinct", corpus.distinct], ["mix", mix]]) {
  for (let r = 0; r < count; r++) {
    const { n, nsPerOp, cpuNsPerOp } = run(verifier.verifySync.bind(verifier), tokens);
    console.log(`BenchmarkVerify/lib=aws-jwt-verify/corpus=${name}\t${n}\t${nsPerOp.toFixed(1)} ns/op\t${cpuNsPerOp.toFixed(1)} cpu-ns/op`);
  }
}

// The RSA part alone, as Go's BenchmarkRSA: SHA-256 and RSASSA-PKCS1-v1_5 verification
// with node:crypto (OpenSSL), key objects made once.
const keys = new Map(corpus.jwks.keys.map((k) => [k.kid, crypto.createPublicKey({ key: k, format: "jwk" })]));
const signed = corpus.distinct.map((t) => {
  const [h, p, s] = t.split(".");
  const kid = JSON.parse(Buffer.from(h, "base64url").toString()).kid;
  return { input: Buffer.from(h + "." + p), sig: Buffer.from(s, "base64url"), key: keys.get(kid) };
});
const rsaVerify = (t) => {
  if (!crypto.verify("sha256", t.input, t.key, t.sig)) throw new Error("signature does not verify");
};
run(rsaVerify, signed);
for (let r = 0; r < count; r++) {
  const { n, nsPerOp, cpuNsPerOp } = run(rsaVerify, signed);
  console.log(`BenchmarkRSA/lib=node-crypto/corpus=distinct\t${n}\t${nsPerOp.toFixed(1)} ns/op\t${cpuNsPerOp.toFixed(1)} cpu-ns/op`);
}
