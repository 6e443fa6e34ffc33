package readme

import (
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode"
)

var (
	// inlineLink matches [text](target) and ![alt](target), with an optional title.
	inlineLink = regexp.MustCompile(`\]\(\s*<?([^()\s<>]*)>?(?:\s+(?:"[^"]*"|'[^']*'))?\s*\)`)
	// refDefinition matches a link reference definition: [label]: target.
	refDefinition = regexp.MustCompile(`^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)`)
	// htmlLink matches the href and src attributes of inline HTML.
	htmlLink = regexp.MustCompile(`\b(?:href|src)\s*=\s*"([^"]*)"`)
	// htmlAnchor matches an explicit anchor in inline HTML.
	htmlAnchor = regexp.MustCompile(`<a\s[^>]*\b(?:name|id)\s*=\s*"([^"]+)"`)
	// codeSpan matches inline code, whose brackets are not links.
	codeSpan = regexp.MustCompile("(`+)[^`]+?(`+)")
	// heading matches an ATX heading.
	heading = regexp.MustCompile(`^ {0,3}#{1,6}(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$`)
	// scheme matches a URL scheme.
	scheme = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*:`)

	headingLink   = regexp.MustCompile(`!?\[([^\]]*)\]\([^)]*\)`)
	headingTag    = regexp.MustCompile(`<[^>]+>`)
	headingMarkup = strings.NewReplacer("`", "", "*", "")
)

// link is a link found in a Markdown file.
type link struct {
	line   int
	target string
}

// links returns the link targets of a Markdown document, outside code.
func links(doc string) []link {
	var out []link
	for _, l := range prose(doc) {
		text := codeSpan.ReplaceAllString(l.text, "")
		for _, re := range []*regexp.Regexp{inlineLink, refDefinition, htmlLink} {
			for _, m := range re.FindAllStringSubmatch(text, -1) {
				out = append(out, link{line: l.n, target: m[1]})
			}
		}
	}
	return out
}

// slug is GitHub's anchor for a heading's text (github-slugger): lower case, every
// character other than a letter, digit, mark, '-' or '_' dropped, each space made a '-'.
func slug(text string) string {
	text = headingLink.ReplaceAllString(text, "$1")
	text = headingTag.ReplaceAllString(text, "")
	text = headingMarkup.Replace(text)
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(text)) {
		switch {
		case r == ' ':
			b.WriteByte('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.M, r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

// anchors returns the anchors GitHub gives a Markdown document: one per heading (a
// repeated slug gets -1, -2, ... as github-slugger numbers them) and the explicit HTML
// anchors.
func anchors(doc string) map[string]bool {
	out := map[string]bool{}
	occurrences := map[string]int{}
	for _, l := range prose(doc) {
		for _, m := range htmlAnchor.FindAllStringSubmatch(l.text, -1) {
			out[m[1]] = true
		}
		m := heading.FindStringSubmatch(l.text)
		if m == nil {
			continue
		}
		base := slug(m[1])
		s := base
		for {
			if _, taken := occurrences[s]; !taken {
				break
			}
			occurrences[base]++
			s = fmt.Sprintf("%s-%d", base, occurrences[base])
		}
		occurrences[s] = 0
		out[s] = true
	}
	return out
}

// repository is what a link may point at.
type repository struct {
	// files holds every file of the repository (slash-separated, relative to its root).
	files map[string]bool
	// read returns a Markdown file's contents, for its anchors.
	read func(name string) (string, error)
}

func (r repository) isDir(name string) bool {
	for f := range r.files {
		if strings.HasPrefix(f, name+"/") {
			return true
		}
	}
	return false
}

// check returns a message for every relative link of the file from that does not resolve:
// to a missing file or directory, outside the repository, or to a heading a Markdown file
// does not have. External http(s) and mailto links are not fetched.
func (r repository) check(from, doc string) []string {
	var problems []string
	cache := map[string]map[string]bool{}
	anchorsOf := func(name string) (map[string]bool, error) {
		if a, ok := cache[name]; ok {
			return a, nil
		}
		content := doc
		if name != from {
			var err error
			if content, err = r.read(name); err != nil {
				return nil, err
			}
		}
		cache[name] = anchors(content)
		return cache[name], nil
	}
	for _, l := range links(doc) {
		bad := func(format string, args ...any) {
			problems = append(problems, fmt.Sprintf("%s:%d: link %q: %s", from, l.line, l.target, fmt.Sprintf(format, args...)))
		}
		target := l.target
		if strings.HasPrefix(target, "//") {
			continue // protocol-relative: external
		}
		if s := scheme.FindString(target); s != "" {
			switch strings.ToLower(s) {
			case "http:", "https:", "mailto:":
			default:
				bad("scheme %s points nowhere in the repository", s)
			}
			continue
		}
		if target == "" {
			bad("empty target")
			continue
		}
		rawPath, fragment, _ := strings.Cut(target, "#")
		p, err := url.PathUnescape(rawPath)
		if err != nil {
			bad("%v", err)
			continue
		}
		var name string
		switch {
		case p == "":
			name = from
		case strings.HasPrefix(p, "/"):
			name = path.Clean(strings.TrimPrefix(p, "/"))
		default:
			name = path.Join(path.Dir(from), p)
		}
		if name == ".." || strings.HasPrefix(name, "../") {
			bad("outside the repository")
			continue
		}
		if name == "." {
			name = ""
		}
		if !r.files[name] && name != "" && !r.isDir(name) {
			bad("no file or directory %s in the repository", name)
			continue
		}
		if fragment == "" || !strings.HasSuffix(name, ".md") {
			continue // GitHub's line anchors (#L10) into other files are not checked
		}
		frag, err := url.PathUnescape(fragment)
		if err != nil {
			bad("%v", err)
			continue
		}
		a, err := anchorsOf(name)
		if err != nil {
			bad("%v", err)
			continue
		}
		if !a[frag] {
			bad("%s has no heading with anchor #%s", name, frag)
		}
	}
	return problems
}

// repositoryFiles lists the files of the repository: those git tracks plus the untracked
// ones it does not ignore (so a new document counts before it is added), or, without git,
// every file on disk.
func repositoryFiles(t *testing.T) map[string]bool {
	t.Helper()
	files := map[string]bool{}
	out, err := exec.Command("git", "-C", repoRoot, "ls-files", "-z", "--cached", "--others", "--exclude-standard").Output()
	if err == nil {
		for _, f := range strings.Split(string(out), "\x00") {
			if f == "" {
				continue
			}
			// A deleted but not yet staged file is listed by --cached: ask the disk.
			if _, err := os.Stat(filepath.Join(repoRoot, filepath.FromSlash(f))); err == nil {
				files[f] = true
			}
		}
		return files
	}
	t.Logf("git ls-files: %v; listing the files on disk instead", err)
	err = filepath.Walk(repoRoot, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if info.IsDir() && info.Name() == ".git" {
			return filepath.SkipDir
		}
		if !info.IsDir() {
			rel, err := filepath.Rel(repoRoot, p)
			if err != nil {
				return err
			}
			files[filepath.ToSlash(rel)] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// TestLinksResolve checks that every relative link of the documentation points at a file
// or directory of the repository and, into a Markdown file, at one of its headings.
func TestLinksResolve(t *testing.T) {
	names, contents := docFiles(t)
	repo := repository{
		files: repositoryFiles(t),
		read: func(name string) (string, error) {
			if c, ok := contents[name]; ok {
				return c, nil
			}
			b, err := os.ReadFile(filepath.Join(repoRoot, filepath.FromSlash(name)))
			return string(b), err
		},
	}
	checked := 0
	for _, name := range names {
		checked += len(links(contents[name]))
		for _, p := range repo.check(name, contents[name]) {
			t.Error(p)
		}
	}
	if checked < 20 {
		t.Fatalf("found %d links in the documentation; the parser is broken", checked)
	}
}

// TestLinkCheckerFindsBrokenLinks runs the checker on a small repository of its own, so
// that a checker that accepts everything fails here.
func TestLinkCheckerFindsBrokenLinks(t *testing.T) {
	docs := map[string]string{
		"docs/guide.md": "# Guide\n\n## Options: `With…`, and more\n\n## Options: `With…`, and more\n",
	}
	repo := repository{
		files: map[string]bool{"README.md": true, "docs/guide.md": true, "pkg/x/x.go": true},
		read: func(name string) (string, error) {
			if c, ok := docs[name]; ok {
				return c, nil
			}
			return "", os.ErrNotExist
		},
	}
	readme := strings.Join([]string{
		"# Title",
		"## Next steps",
		"[ok](docs/guide.md) [ok](./docs/guide.md#guide) [ok](docs/guide.md#options-with-and-more-1)",
		"[ok](#next-steps) [ok](pkg/x/) [ok](pkg/x/x.go#L3) [ok](https://example.com/missing.md)",
		"[ok][ref] `[not a link](nowhere.md)` [ok](/docs/guide.md)",
		"[ref]: pkg/x/x.go",
		"```go",
		"[not a link](nowhere.md)",
		"```",
		"[broken](docs/gone.md)",
		"[broken](docs/guide.md#options-with-and-more-2)",
		"[broken](#no-such-heading)",
		"[broken](../outside.md)",
		`<a href="missing.txt">broken</a>`,
		"![broken](img/logo.png)",
		"[broken]: docs/typo.md",
	}, "\n")
	problems := repo.check("README.md", readme)
	want := []string{
		`README.md:10: link "docs/gone.md"`,
		`README.md:11: link "docs/guide.md#options-with-and-more-2"`,
		`README.md:12: link "#no-such-heading"`,
		`README.md:13: link "../outside.md"`,
		`README.md:14: link "missing.txt"`,
		`README.md:15: link "img/logo.png"`,
		`README.md:16: link "docs/typo.md"`,
	}
	if len(problems) != len(want) {
		t.Fatalf("problems:\n%s\nwant %d, one per broken link", strings.Join(problems, "\n"), len(want))
	}
	for i, w := range want {
		if !strings.HasPrefix(problems[i], w) {
			t.Errorf("problem %d = %q; want it to start with %q", i, problems[i], w)
		}
	}
}

func TestSlug(t *testing.T) {
	for _, tc := range []struct{ heading, want string }{
		{"The CLI: `cognitokit`", "the-cli-cognitokit"},
		{"What `Verify` refuses, and why", "what-verify-refuses-and-why"},
		{"Performance: benchmarks, peers, load", "performance-benchmarks-peers-load"},
		{"What remains: aws-jwt-verify on two cores", "what-remains-aws-jwt-verify-on-two-cores"},
		{"Fleet token sharing on Redis (`pkg/redisstore`)", "fleet-token-sharing-on-redis-pkgredisstore"},
		{"Sharing tokens: MemoryStore", "sharing-tokens-memorystore"},
		{"A & B", "a--b"},
		{"[Linked](x.md) *heading* µs", "linked-heading-µs"},
		{"snake_case and-dash", "snake_case-and-dash"},
	} {
		if got := slug(tc.heading); got != tc.want {
			t.Errorf("slug(%q) = %q; want %q", tc.heading, got, tc.want)
		}
	}
}
