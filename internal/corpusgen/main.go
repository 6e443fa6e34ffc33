// Command corpusgen writes the adversarial token corpus of testdata/corpus: a JWKS and
// cases.json, several hundred tokens each with the outcome and the reason code a
// cognitokit JWTAuthorizer must give it at a fixed "now" (see internal/corpus).
//
//	go run ./internal/corpusgen [-out testdata/corpus] [-seed S] [-now RFC3339]
//
// The output is a pure function of the seed and now: keys are derived from the seed
// (keys.go), RS256 signatures are deterministic, and ES256 (RFC 6979) and PSS (salt from
// the seed) signatures are made deterministic here. `make corpus` regenerates it; a test
// checks that the committed corpus is what the generator writes. Expected outcomes are
// written by hand, case by case, from cognitokit's documented rules: they are never
// computed by running cognitokit.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/cognitokit/cognitokit/internal/corpus"
)

// Defaults of the committed corpus.
const (
	defaultSeed = "cognitokit-corpus-v1"
	defaultNow  = "2026-03-01T12:00:00Z"
)

func main() {
	out := flag.String("out", filepath.Join("testdata", "corpus"), "directory to write "+corpus.CasesFile+" and "+corpus.JWKSFile+" to")
	seed := flag.String("seed", defaultSeed, "seed every key and value is derived from")
	nowFlag := flag.String("now", defaultNow, "the fixed time outcomes hold at (RFC 3339)")
	flag.Parse()
	now, err := time.Parse(time.RFC3339, *nowFlag)
	if err != nil {
		fmt.Fprintln(os.Stderr, "corpusgen: -now:", err)
		os.Exit(2)
	}
	if err := write(*out, *seed, now); err != nil {
		fmt.Fprintln(os.Stderr, "corpusgen:", err)
		os.Exit(1)
	}
}

// write generates the corpus and writes its two files into dir.
func write(dir, seed string, now time.Time) error {
	cases, jwks, err := generate(seed, now)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, corpus.CasesFile), cases, 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, corpus.JWKSFile), jwks, 0o644)
}

// generate returns the bytes of cases.json and jwks.json.
func generate(seed string, now time.Time) (cases, jwks []byte, err error) {
	g := newGen(seed, now)
	g.all()
	if err := g.check(); err != nil {
		return nil, nil, err
	}
	cases, err = indentJSON(g.file)
	if err != nil {
		return nil, nil, err
	}
	jwks, err = indentJSON(obj{{"keys", g.jwks}})
	return cases, jwks, err
}

func indentJSON(v any) ([]byte, error) {
	var b bytes.Buffer
	e := json.NewEncoder(&b)
	e.SetEscapeHTML(false)
	e.SetIndent("", "  ")
	if err := e.Encode(v); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
