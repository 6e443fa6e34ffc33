package policy_test

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cognitokit/cognitokit/pkg/policy"
)

const (
	openPolicy   = "version: 1\nroutes:\n  \"GET /x\": {public: true}\n"
	closedPolicy = "version: 1\nroutes:\n  \"GET /x\": {}\n"
)

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func isPublic(p *policy.Policy) bool {
	return p.Decide(httptest.NewRequest("GET", "/x", nil), nil).Reason == policy.ReasonPublic
}

func TestWatcherReload(t *testing.T) {
	path := filepath.Join(t.TempDir(), "routes.yaml")
	writeFile(t, path, openPolicy)
	var reloadErrs []error
	w, err := policy.Watch(t.Context(), path, policy.WithPollInterval(time.Hour),
		policy.WithOnReloadError(func(err error) { reloadErrs = append(reloadErrs, err) }))
	if err != nil {
		t.Fatal(err)
	}
	if !isPublic(w.Policy()) {
		t.Fatal("initial policy not in force")
	}
	writeFile(t, path, closedPolicy)
	if err := w.Reload(); err != nil {
		t.Fatalf("good change: %v", err)
	}
	if isPublic(w.Policy()) {
		t.Error("good change did not take effect")
	}
	writeFile(t, path, "version: 1\nroutes:\n  \"GET /x\": {public: maybe}\n")
	if err := w.Reload(); err == nil {
		t.Fatal("bad change reloaded without error")
	}
	if isPublic(w.Policy()) || w.Policy() == nil {
		t.Error("bad change replaced the last good policy")
	}
	if len(reloadErrs) != 1 {
		t.Errorf("the WithOnReloadError function called %d times; want 1", len(reloadErrs))
	}
}

func TestWatcherPollsForChanges(t *testing.T) {
	path := filepath.Join(t.TempDir(), "routes.yaml")
	writeFile(t, path, openPolicy)
	reloaded := make(chan *policy.Policy, 1)
	failed := make(chan error, 1)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	_, err := policy.Watch(ctx, path, policy.WithPollInterval(5*time.Millisecond),
		policy.WithOnReload(func(p *policy.Policy) { reloaded <- p }),
		policy.WithOnReloadError(func(err error) {
			select {
			case failed <- err:
			default:
			}
		}))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, "version: 1\nroutes:\n  \"GET /x\": [broken]\n")
	select {
	case <-failed:
	case <-time.After(10 * time.Second):
		t.Fatal("broken file not reported")
	}
	writeFile(t, path, closedPolicy)
	select {
	case p := <-reloaded:
		if isPublic(p) {
			t.Error("reloaded policy is the old one")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("change not picked up by polling")
	}
}

func TestWatchFailsOnBadFirstLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "routes.yaml")
	writeFile(t, path, "version: 3\n")
	if _, err := policy.Watch(t.Context(), path); err == nil {
		t.Fatal("Watch accepted a broken file")
	}
}
