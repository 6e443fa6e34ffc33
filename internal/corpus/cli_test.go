package corpus_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"maps"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cognitokit/cognitokit/internal/corpus"
)

// cliResult is one line of `cognitokit verify` batch output.
type cliResult struct {
	Line  int    `json:"line"`
	Valid bool   `json:"valid"`
	Error string `json:"error"`
}

// buildCLI builds cmd/cognitokit into a temporary directory.
func buildCLI(t *testing.T) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool on PATH to build the CLI")
	}
	bin := filepath.Join(t.TempDir(), "cognitokit")
	build := exec.Command(goTool, "build", "-o", bin, "./cmd/cognitokit")
	build.Dir = filepath.Join(corpus.Dir(), "..", "..")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/cognitokit: %v\n%s", err, out)
	}
	return bin
}

// cliArgs are the verify flags of one corpus configuration. Leeway is not passed: the
// test runs on the real clock, long after every time-dependent token has expired, where
// the leeway changes no outcome.
func cliArgs(f *corpus.File, jwksFile string, c corpus.Config) []string {
	args := []string{"verify", "--user-pool-id", f.UserPoolID, "--region", f.Region, "--jwks-file", jwksFile,
		"--token-use", c.TokenUse}
	if c.AnyClient {
		args = append(args, "--any-client")
	}
	for _, id := range c.ClientIDs {
		args = append(args, "--client-id", id)
	}
	for _, s := range c.Scopes {
		args = append(args, "--scope", s)
	}
	for _, g := range c.Groups {
		args = append(args, "--group", g)
	}
	// "-" (read stdin) last: the standard flag package stops at the first argument that is
	// not a flag.
	return append(args, "-")
}

// TestCorpusCLI runs the corpus through `cognitokit verify --jwks-file F -`, one batch
// per configuration, tokens on stdin one per line, and checks each line's outcome. The
// CLI has no clock option, so the test runs on the real clock and expects each case's
// ReasonAfterExpiry. Tokens holding whitespace, and the empty token, cannot be one line
// of input and are left out.
func TestCorpusCLI(t *testing.T) {
	bin := buildCLI(t)
	f, _ := load(t)
	if time.Now().Unix() <= f.ExpiredAfter {
		t.Skipf("the clock is before the corpus's expiry horizon %s", time.Unix(f.ExpiredAfter, 0).UTC())
	}
	jwksFile := filepath.Join(corpus.Dir(), corpus.JWKSFile)
	checked := 0
	for _, name := range slices.Sorted(maps.Keys(f.Configs)) {
		var cases []corpus.Case
		for _, c := range f.Cases {
			if c.Config == name && c.Token != "" && !strings.ContainsFunc(c.Token, isSpace) {
				cases = append(cases, c)
			}
		}
		if len(cases) == 0 {
			continue
		}
		t.Run(name, func(t *testing.T) {
			var stdin bytes.Buffer
			for _, c := range cases {
				stdin.WriteString(c.Token + "\n")
			}
			cmd := exec.Command(bin, cliArgs(f, jwksFile, f.Configs[name])...)
			cmd.Stdin = &stdin
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			code := 0
			var exit *exec.ExitError
			if errors.As(err, &exit) {
				code = exit.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			allValid := !slices.ContainsFunc(cases, func(c corpus.Case) bool { return c.ReasonAfterExpiry != "" })
			if want := map[bool]int{true: 0, false: 1}[allValid]; code != want {
				t.Fatalf("exit code %d, want %d; stderr:\n%s", code, want, stderr.String())
			}
			results := map[int]cliResult{}
			sc := bufio.NewScanner(&stdout)
			sc.Buffer(nil, 1<<20)
			for sc.Scan() {
				var r cliResult
				if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
					t.Fatalf("output line %q: %v", sc.Text(), err)
				}
				results[r.Line] = r
			}
			for i, c := range cases {
				r, ok := results[i+1]
				if !ok {
					t.Errorf("%s: no output for line %d", c.Name, i+1)
					continue
				}
				got := r.Error
				if r.Valid {
					got = ""
				}
				if got != c.ReasonAfterExpiry {
					t.Errorf("%s (line %d): got %s, want %s", c.Name, i+1, show(got), show(c.ReasonAfterExpiry))
				}
				for part := range strings.SplitSeq(c.Token, ".") {
					if len(part) > 8 && strings.Contains(stderr.String(), part) {
						t.Errorf("%s: stderr holds a part of the token", c.Name)
					}
				}
			}
			checked += len(cases)
		})
	}
	t.Logf("%d of %d cases checked through the CLI", checked, len(f.Cases))
}

func isSpace(r rune) bool {
	return r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == '\v' || r == '\f' || r == 0x85 || r == 0xa0
}
