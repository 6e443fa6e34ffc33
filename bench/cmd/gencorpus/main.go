// Command gencorpus writes the token corpus of the side-by-side benchmarks
// (testdata/corpus.json by default): see package corpus.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/cognitokit/cognitokit/bench/corpus"
)

func main() {
	out := flag.String("o", corpus.DefaultPath, "output file")
	distinct := flag.Int("distinct", corpus.DistinctTokens, "distinct tokens")
	mixTokens := flag.Int("mix-tokens", corpus.MixTokenCount, "tokens of the repeated-token mix")
	mixRequests := flag.Int("mix-requests", corpus.MixRequests, "requests of the repeated-token mix")
	seed := flag.Uint64("seed", 1, "seed of the mix and of the token shapes")
	flag.Parse()
	if err := run(*out, corpus.Options{Distinct: *distinct, MixTokens: *mixTokens, MixRequests: *mixRequests, Seed: *seed}); err != nil {
		fmt.Fprintln(os.Stderr, "gencorpus:", err)
		os.Exit(1)
	}
}

func run(out string, o corpus.Options) error {
	c, err := corpus.Generate(o)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	if err := c.Write(out); err != nil {
		return err
	}
	fmt.Printf("gencorpus: %s: %d distinct tokens, %d requests over %d tokens, %d invalid tokens\n",
		out, len(c.Distinct), len(c.Mix), len(c.MixTokens), len(c.Invalid))
	return nil
}
