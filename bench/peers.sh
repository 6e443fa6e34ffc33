#!/usr/bin/env bash
# make bench-peers: cognitokit side by side with the Go peers and aws-jwt-verify (Node) on
# the shared corpus, in rounds: each round runs every Go benchmark once, then the Node
# runner once, so that both see the same machine load. cognitokit and crypto/rsa alone also
# run, in each round, built with GOEXPERIMENT=boringcrypto (BoringSSL's crypto; skipped with
# a message without cgo and a C compiler) and in Go's FIPS 140-3 mode (GODEBUG=fips140=on).
# Writes peers.out, node.out and results.md (the table), and prints the table.
#
# Environment: GO (go), PEERS_COUNT (rounds, 6), PEERS_TIME (-benchtime, 1s),
# NODE_SECONDS (seconds per Node run, 1).
set -euo pipefail
cd "$(dirname "$0")"
GO=${GO:-go}
count=${PEERS_COUNT:-6}
benchtime=${PEERS_TIME:-1s}
node_seconds=${NODE_SECONDS:-1}
aws_jwt_verify=5.2.1

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

test -f testdata/corpus.json || "$GO" run ./cmd/gencorpus
# Every library must accept and refuse the same tokens before its speed means anything.
"$GO" test -count=1 -run '^TestSameRules$' .
"$GO" test -c -o "$tmp/bench.test" .
# The same binary's cognitokit under BoringCrypto, where it can be built.
boring=""
cc=$("$GO" env CC)
if ! command -v "${cc%% *}" >/dev/null 2>&1; then
	echo "SKIP cognitokit (BoringCrypto): it needs cgo and a C compiler; '$cc' is not installed" | tee -a "$tmp/skips"
elif ! CGO_ENABLED=1 GOEXPERIMENT=boringcrypto "$GO" test -c -o "$tmp/bench-boring.test" . >"$tmp/boring.log" 2>&1; then
	echo "SKIP cognitokit (BoringCrypto): the build failed: $(tail -n 1 "$tmp/boring.log")" | tee -a "$tmp/skips"
else
	boring="$tmp/bench-boring.test"
fi
only_self='^Benchmark(Verify|RSA)$/^lib=(cognitokit|go-crypto-rsa)'

: >peers.out
: >node.out
if [ -f "$tmp/skips" ]; then cat "$tmp/skips" >>peers.out; fi
node_module=""
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
	echo "SKIP aws-jwt-verify: node and npm are not installed" | tee node.out
elif ! npm install --prefix "$tmp/node" --no-save --no-audit --no-fund --loglevel=error \
	"aws-jwt-verify@$aws_jwt_verify" >"$tmp/npm.log" 2>&1; then
	echo "SKIP aws-jwt-verify: npm install aws-jwt-verify@$aws_jwt_verify failed: $(tail -n 1 "$tmp/npm.log")" | tee node.out
else
	node_module="$tmp/node/node_modules/aws-jwt-verify"
	# Its own rule check, once, before any timing.
	node node/verify.cjs "$node_module" testdata/corpus.json 0 0
fi

for round in $(seq "$count"); do
	echo "== round $round of $count"
	"$tmp/bench.test" -test.run '^$' -test.bench '^Benchmark(Verify|RSA|Interleaved)$' -test.benchmem \
		-test.count 1 -test.benchtime "$benchtime" | tee -a peers.out
	if [ -n "$boring" ]; then
		"$boring" -test.run '^$' -test.bench "$only_self" -test.benchmem -test.count 1 \
			-test.benchtime "$benchtime" | tee -a peers.out
	fi
	GODEBUG=fips140=on "$tmp/bench.test" -test.run '^$' -test.bench "$only_self" -test.benchmem \
		-test.count 1 -test.benchtime "$benchtime" | tee -a peers.out
	if [ -n "$node_module" ]; then
		node node/verify.cjs "$node_module" testdata/corpus.json 1 "$node_seconds" | tee -a node.out
	fi
done
echo
"$GO" run ./cmd/report -o results.md peers.out node.out
