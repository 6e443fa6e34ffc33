package bench

import (
	"context"
	"errors"
	"io/fs"
	"sync"
	"testing"

	"github.com/cognitokit/cognitokit/bench/corpus"
)

// loadCorpus reads the corpus gencorpus wrote (`make bench-peers` writes it first), or,
// on a fresh clone, mints one in memory (a few seconds) so that `go test ./...` works.
var loadCorpus = sync.OnceValues(func() (*corpus.Corpus, error) {
	c, err := corpus.Load(corpus.DefaultPath)
	if errors.Is(err, fs.ErrNotExist) {
		return corpus.Generate(corpus.Options{Seed: 1})
	}
	return c, err
})

func testCorpus(tb testing.TB) *corpus.Corpus {
	tb.Helper()
	c, err := loadCorpus()
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

func newVerifier(tb testing.TB, lib Library, c *corpus.Corpus) Verifier {
	tb.Helper()
	v, release, err := lib.New(c)
	if err != nil {
		tb.Fatalf("%s: %v", lib.Name, err)
	}
	tb.Cleanup(release)
	return v
}

// TestSameRules proves every library applies the corpus rules: it accepts every valid
// token and refuses every invalid one, so the benchmarks compare equal work.
func TestSameRules(t *testing.T) {
	c := testCorpus(t)
	ctx := context.Background()
	for _, lib := range Libraries() {
		t.Run(lib.Name, func(t *testing.T) {
			v := newVerifier(t, lib, c)
			for i, tok := range append(append([]string{}, c.Distinct...), c.MixTokens...) {
				if err := v.Verify(ctx, tok); err != nil {
					t.Fatalf("valid token %d refused: %v", i, err)
				}
			}
			for _, bad := range c.Invalid {
				if err := v.Verify(ctx, bad.Token); err == nil {
					t.Errorf("%s: accepted", bad.Name)
				}
			}
		})
	}
}
