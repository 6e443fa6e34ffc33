package readme

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// imports maps the package names snippets use to their import paths.
var imports = map[string]string{
	"cognito":     "github.com/cognitokit/cognitokit/pkg/cognito",
	"policy":      "github.com/cognitokit/cognitokit/pkg/policy",
	"cognitotest": "github.com/cognitokit/cognitokit/pkg/cognitotest",
	"redisstore":  "github.com/cognitokit/cognitokit/pkg/redisstore",
	"redis":       "github.com/redis/go-redis/v9",
	"oauth2":      "golang.org/x/oauth2",
	"context":     "context",
	"errors":      "errors",
	"fmt":         "fmt",
	"http":        "net/http",
	"httptest":    "net/http/httptest",
	"io":          "io",
	"log":         "log",
	"slog":        "log/slog",
	"os":          "os",
	"strings":     "strings",
	"testing":     "testing",
	"time":        "time",
	"tls":         "crypto/tls",
}

// ambient are the variables snippets use without declaring them, as a reader would have
// them at hand.
var ambient = []struct{ name, typ string }{
	{"ctx", "context.Context"},
	{"t", "*testing.T"},
	{"w", "http.ResponseWriter"},
	{"r", "*http.Request"},
	{"req", "*http.Request"},
	{"token", "string"},
	{"mux", "*http.ServeMux"},
	{"cfg", "cognito.ClientCredentialsConfig"},
	{"authz", "*cognito.JWTAuthorizer"},
	{"authenticator", "*cognito.ClientCredentialsAuthenticator"},
	{"rdb", "redis.UniversalClient"},
	{"logger", "*slog.Logger"},
}

type snippet struct {
	file string // the Markdown file, as the //line directives name it
	line int    // of the first code line in that file
	code string
}

// goSnippets returns the ```go blocks of a Markdown file.
func goSnippets(file, doc string) []snippet {
	var out []snippet
	lines := strings.Split(doc, "\n")
	for i := 0; i < len(lines); i++ {
		m, info, ok := fence(lines[i])
		if !ok || info != "go" {
			continue
		}
		start := i + 1
		for i++; i < len(lines); i++ {
			if end, info, ok := fence(lines[i]); ok && end[0] == m[0] && len(end) >= len(m) && info == "" {
				break
			}
		}
		out = append(out, snippet{file: file, line: start + 1, code: strings.Join(lines[start:i], "\n")})
	}
	return out
}

var (
	qualifier  = regexp.MustCompile(`\b([a-z][a-z0-9]*)\.[A-Za-z_]`)
	importLine = regexp.MustCompile(`(?m)^\s*import\s+"[^"]+"\s*$|(?ms)^import \(.*?^\)\s*$`)
	topFunc    = regexp.MustCompile(`(?m)^func `)
	topDecl    = regexp.MustCompile(`^([A-Za-z_]\w*(?:\s*,\s*[A-Za-z_]\w*)*)\s*:=`)
)

func used(code, name string) bool {
	return regexp.MustCompile(`(^|[^.\w])` + regexp.QuoteMeta(name) + `\b`).MatchString(code)
}

func declared(code, name string) bool {
	return regexp.MustCompile(`(?m)(^|[\s(,])` + regexp.QuoteMeta(name) + `(\s*,\s*\w+)*\s*:=|\bvar\s+` + regexp.QuoteMeta(name) + `\b|,\s*` +
		regexp.QuoteMeta(name) + `\s*:=|\bfunc\s+` + regexp.QuoteMeta(name) + `\b`).MatchString(code)
}

// importsOf lists the import paths of the qualifiers a snippet uses.
func importsOf(code string) []string {
	var paths []string
	for _, m := range qualifier.FindAllStringSubmatch(code, -1) {
		if p, ok := imports[m[1]]; ok && !slices.Contains(paths, p) {
			paths = append(paths, p)
		}
	}
	slices.Sort(paths)
	return paths
}

// wrap turns a statement snippet into a function of package snippets; declaration
// snippets (top-level funcs) go into that package as they are; program snippets (with their
// own package clause) are returned as a file of their own.
func wrap(s snippet, n int) (file string, program bool) {
	// Imports are dropped (the package imports what its snippets use), but their lines
	// are kept blank so that the //line directive stays true.
	code := importLine.ReplaceAllStringFunc(s.code, func(imports string) string {
		return strings.Repeat("\n", strings.Count(imports, "\n"))
	})
	var b strings.Builder
	if strings.Contains(code, "\npackage ") || strings.HasPrefix(code, "package ") {
		fmt.Fprintf(&b, "//line %s:%d\n%s\n", s.file, s.line, s.code)
		return b.String(), true
	}
	if topFunc.MatchString(code) {
		// Declarations: the snippet goes into the package as it is.
		fmt.Fprintf(&b, "//line %s:%d\n%s\n", s.file, s.line, code)
		return b.String(), false
	}
	var params, blanks []string
	for _, a := range ambient {
		if used(code, a.name) && !declared(code, a.name) {
			params = append(params, a.name+" "+a.typ)
		}
	}
	for _, line := range strings.Split(code, "\n") {
		if m := topDecl.FindStringSubmatch(line); m != nil {
			for _, name := range strings.Split(m[1], ",") {
				if name = strings.TrimSpace(name); name != "_" {
					blanks = append(blanks, "_ = "+name)
				}
			}
		}
	}
	fmt.Fprintf(&b, "func snippet%d(%s) {\n//line %s:%d\n%s\n", n, strings.Join(params, ", "), s.file, s.line, code)
	for _, blank := range blanks {
		fmt.Fprintf(&b, "\t%s\n", blank)
	}
	b.WriteString("}\n")
	return b.String(), false
}

// TestSnippetsCompile compiles (vets) every ```go block of the documentation. The
// snippets of one Markdown file form one package, so two files may use the same names;
// //line directives make the go command report errors at the Markdown file and line.
func TestSnippetsCompile(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the documentation's snippets with the go command")
	}
	names, contents := docFiles(t)
	// The generated packages live under testdata, inside the module, so they resolve its
	// imports; `go build ./...` and `go test ./...` never see them.
	root, err := os.MkdirTemp("testdata", "snippets-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })

	var pkgs []string
	total := 0
	for _, name := range names {
		// The //line directives name the Markdown file by its absolute path: a relative one
		// would be read relative to the generated package's directory.
		abs, err := filepath.Abs(filepath.Join(repoRoot, filepath.FromSlash(name)))
		if err != nil {
			t.Fatal(err)
		}
		snippets := goSnippets(abs, contents[name])
		if name == "README.md" && len(snippets) < 5 {
			t.Fatalf("found %d Go snippets in README.md; the parser is broken", len(snippets))
		}
		total += len(snippets)
		if len(snippets) == 0 {
			continue
		}
		base := packageName(name)
		funcs, programs := wrapAll(snippets)
		for i, program := range programs {
			dir := filepath.Join(root, fmt.Sprintf("%s_program%d", base, i))
			writeFile(t, filepath.Join(dir, "main.go"), program)
			pkgs = append(pkgs, "./"+dir)
		}
		if funcs != "" {
			dir := filepath.Join(root, base)
			writeFile(t, filepath.Join(dir, "snippets.go"), funcs)
			pkgs = append(pkgs, "./"+dir)
		}
	}
	if total < 12 {
		t.Fatalf("found %d Go snippets in the documentation; the parser is broken", total)
	}
	cmd := exec.Command("go", append([]string{"vet"}, pkgs...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("documentation snippets do not compile (positions are Markdown file lines):\n%s", out)
	}
}

// packageName turns a Markdown file name into a package name: docs/cli.md → docs_cli.
func packageName(file string) string {
	file = strings.TrimSuffix(file, ".md")
	return strings.ToLower(strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, file))
}

// wrapAll returns the source of the package holding the statement and declaration
// snippets of one file, and one source file per program snippet.
func wrapAll(snippets []snippet) (funcs string, programs []string) {
	var bodies, imported []string
	for i, s := range snippets {
		file, program := wrap(s, i)
		if program {
			programs = append(programs, file)
			continue
		}
		bodies = append(bodies, file)
		for _, p := range importsOf(file) {
			if !slices.Contains(imported, p) {
				imported = append(imported, p)
			}
		}
	}
	if len(bodies) == 0 {
		return "", programs
	}
	slices.Sort(imported)
	var src strings.Builder
	src.WriteString("// Code generated by TestSnippetsCompile. DO NOT EDIT.\n\npackage snippets\n\nimport (\n")
	for _, p := range imported {
		fmt.Fprintf(&src, "\t%q\n", p)
	}
	src.WriteString(")\n\n")
	for _, p := range imported {
		// Keep every import used even if only one snippet needed it in a type.
		name := p[strings.LastIndex(p, "/")+1:]
		if name == "v9" {
			name = "redis"
		}
		fmt.Fprintf(&src, "var _ = %s.%s\n", name, anyExported(p))
	}
	src.WriteString(strings.Join(bodies, "\n"))
	return src.String(), programs
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// anyExported names an exported identifier of each package snippets may import, so an
// import is never unused.
func anyExported(path string) string {
	switch path {
	case "context":
		return "Background"
	case "errors":
		return "New"
	case "fmt":
		return "Sprint"
	case "net/http":
		return "StatusOK"
	case "net/http/httptest":
		return "NewRecorder"
	case "io":
		return "EOF"
	case "log":
		return "Print"
	case "log/slog":
		return "Default"
	case "os":
		return "Getenv"
	case "strings":
		return "Cut"
	case "testing":
		return "Short"
	case "time":
		return "Second"
	case "crypto/tls":
		return "VersionTLS12"
	case "golang.org/x/oauth2":
		return "NewClient"
	case "github.com/cognitokit/cognitokit/pkg/cognito":
		return "ErrInvalidConfig"
	case "github.com/cognitokit/cognitokit/pkg/policy":
		return "Load"
	case "github.com/cognitokit/cognitokit/pkg/cognitotest":
		return "DefaultConfig"
	case "github.com/cognitokit/cognitokit/pkg/redisstore":
		return "New"
	case "github.com/redis/go-redis/v9":
		return "Nil"
	}
	panic("no exported identifier known for " + path)
}
