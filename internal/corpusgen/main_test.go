package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cognitokit/cognitokit/internal/corpus"
)

// TestCommittedCorpusIsCurrent regenerates the corpus and compares it byte for byte with
// testdata/corpus: the corpus is a pure function of the seed and now, and the committed
// files must be what this generator writes. After changing a case, run `make corpus`.
// It also proves the generator deterministic: the committed files were written by an
// earlier run.
func TestCommittedCorpusIsCurrent(t *testing.T) {
	now, err := time.Parse(time.RFC3339, defaultNow)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := write(dir, defaultSeed, now); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{corpus.CasesFile, corpus.JWKSFile} {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		want, err := os.ReadFile(filepath.Join(corpus.Dir(), name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("testdata/corpus/%s is not what the generator writes: run `make corpus` and commit it", name)
		}
	}
}
