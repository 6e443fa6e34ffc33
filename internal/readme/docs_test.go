package readme

import (
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// repoRoot is the repository root as seen from this package's directory, where go test
// runs it.
const repoRoot = "../.."

// topLevelDocs are the Markdown files at the root that the tests read; every Markdown file
// under docs/ is read too.
var topLevelDocs = []string{"README.md", "CONTRIBUTING.md", "BENCHMARKS.md"}

// docFiles returns the documentation files, as slash-separated paths relative to the
// repository root, with their contents.
func docFiles(t *testing.T) (names []string, contents map[string]string) {
	t.Helper()
	contents = map[string]string{}
	for _, name := range topLevelDocs {
		b, err := os.ReadFile(filepath.Join(repoRoot, name))
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, name)
		contents[name] = string(b)
	}
	err := filepath.WalkDir(filepath.Join(repoRoot, "docs"), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".md") {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(repoRoot, path)
		if err != nil {
			return err
		}
		name := filepath.ToSlash(rel)
		names = append(names, name)
		contents[name] = string(b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(names[len(topLevelDocs):])
	return names, contents
}

// fence reports whether line opens or closes a fenced code block, and its info string.
func fence(line string) (marker, info string, ok bool) {
	s := strings.TrimLeft(line, " ")
	if len(line)-len(s) > 3 {
		return "", "", false
	}
	for _, m := range []string{"```", "~~~"} {
		if strings.HasPrefix(s, m) {
			n := len(s) - len(strings.TrimLeft(s, m[:1]))
			return s[:n], strings.TrimSpace(s[n:]), true
		}
	}
	return "", "", false
}

// mdLine is one line of a Markdown file outside fenced code blocks.
type mdLine struct {
	n    int // 1-based
	text string
}

// prose returns the lines of a Markdown document that are not inside fenced code blocks.
func prose(doc string) []mdLine {
	var out []mdLine
	open := ""
	for i, line := range strings.Split(doc, "\n") {
		if m, info, ok := fence(line); ok {
			switch {
			case open == "":
				open = m
				continue
			case m[0] == open[0] && len(m) >= len(open) && info == "":
				open = ""
				continue
			}
		}
		if open == "" {
			out = append(out, mdLine{n: i + 1, text: line})
		}
	}
	return out
}
