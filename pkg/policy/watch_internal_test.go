package policy

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cognitokit/cognitokit/internal/testkit"
)

// halfWriter is a file system in the middle of a non-atomic write: the first read of
// the file after arm returns only its first n bytes; every later read, the whole file.
type halfWriter struct {
	mu    sync.Mutex
	path  string
	armed bool
	n     int
}

func (h *halfWriter) arm(path string, n int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.path, h.armed, h.n = path, true, n
}

func (h *halfWriter) read(name string) ([]byte, error) {
	data, err := diskSource().read(name)
	h.mu.Lock()
	defer h.mu.Unlock()
	if err == nil && h.armed && name == h.path {
		h.armed = false
		return data[:h.n], nil
	}
	return data, err
}

// TestWatcherRecoversFromHalfWrittenFile: the Watcher once compiled one read of the file
// and fingerprinted another; a file caught half written by the first read but complete
// at the second stayed half loaded for good, the poller seeing nothing to reload.
func TestWatcherRecoversFromHalfWrittenFile(t *testing.T) {
	for _, imported := range []bool{false, true} {
		name := "policy file"
		if imported {
			name = "imported OpenAPI document"
		}
		t.Run(name, func(t *testing.T) { testHalfWritten(t, imported) })
	}
}

func testHalfWritten(t *testing.T, imported bool) {
	dir := t.TempDir()
	policyPath, apiPath := filepath.Join(dir, "routes.yaml"), filepath.Join(dir, "api.yaml")
	const first = "version: 1\nroutes:\n  \"GET /x\": {}\n"
	const full = first + "  \"GET /y\": {public: true}\n" // first is a valid prefix
	const apiHead = `openapi: 3.0.3
info: {title: t, version: "1"}
components:
  securitySchemes:
    cognito: {type: http, scheme: bearer}
paths:
  /a:
    get:
      security: []
      responses: {"200": {description: ok}}
`
	const apiFull = apiHead + `  /b:
    get:
      security: []
      responses: {"200": {description: ok}}
`
	target, content, prefix := policyPath, full, len(first)
	if imported {
		target, content, prefix = apiPath, apiFull, len(apiHead)
		write(t, policyPath, "version: 1\nopenapi: {file: api.yaml, security_scheme: cognito}\n")
		write(t, apiPath, strings.Replace(apiHead, "/a:", "/z:", 1))
	} else {
		write(t, policyPath, "version: 1\nroutes:\n  \"GET /z\": {public: true}\n")
	}
	fs := &halfWriter{}
	reloaded := make(chan *Policy, 16)
	files := diskSource()
	files.read = fs.read
	w := &Watcher{path: policyPath, interval: 5 * time.Millisecond, files: files,
		onReload: func(p *Policy) { reloaded <- p }, onError: func(err error) { t.Errorf("reload: %v", err) }}
	p, seen, err := w.load()
	if err != nil {
		t.Fatal(err)
	}
	w.current.Store(p)
	w.seen = seen

	write(t, target, content)
	fs.arm(target, prefix) // the next read catches the write half way
	if err := w.Reload(); err != nil {
		t.Fatal(err)
	}
	half := w.Policy()
	complete := func(p *Policy) bool {
		path := "/y"
		if imported {
			path = "/b"
		}
		return p.Decide(httptest.NewRequest("GET", path, nil), nil).Reason == ReasonPublic
	}
	if complete(half) {
		t.Fatal("the test's reader did not serve the half-written file")
	}
	// The poller ends, and is waited for, before the test's files are removed.
	ctx, cancel := context.WithCancel(t.Context())
	polled := make(chan struct{})
	go func() {
		defer close(polled)
		w.poll(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-polled
	})
	for p := testkit.Within(t, reloaded, 10*time.Second, "the reload of the complete file"); !complete(p); {
		p = testkit.Within(t, reloaded, 10*time.Second, "the reload of the complete file")
	}
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
