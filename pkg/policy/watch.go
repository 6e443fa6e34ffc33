package policy

import (
	"context"
	"crypto/sha256"
	"io"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultPollInterval is how often a Watcher checks its files for changes.
const DefaultPollInterval = 2 * time.Second

// Watcher keeps a policy up to date with its file: a change that loads is swapped in
// atomically; a change that fails to load keeps the last good policy in force and is
// reported. It polls the policy file and any OpenAPI document it imports.
type Watcher struct {
	path     string
	interval time.Duration
	onError  func(error)
	onReload func(*Policy)

	current atomic.Pointer[Policy]

	mu      sync.Mutex // serialises reloads
	lastSum [sha256.Size]byte
}

// WatchOption tunes Watch.
type WatchOption func(*Watcher)

// WithPollInterval sets how often the files are checked (default DefaultPollInterval).
func WithPollInterval(d time.Duration) WatchOption {
	return func(w *Watcher) {
		if d > 0 {
			w.interval = d
		}
	}
}

// OnReloadError is called with the error of every change that failed to load; the
// previous policy stays in force.
func OnReloadError(f func(error)) WatchOption {
	return func(w *Watcher) { w.onError = f }
}

// OnReload is called with every new policy swapped in.
func OnReload(f func(*Policy)) WatchOption {
	return func(w *Watcher) { w.onReload = f }
}

// Watch loads the policy at path and keeps it up to date until ctx is done. It fails if
// the first load fails.
func Watch(ctx context.Context, path string, opts ...WatchOption) (*Watcher, error) {
	w := &Watcher{path: path, interval: DefaultPollInterval}
	for _, o := range opts {
		if o != nil {
			o(w)
		}
	}
	p, sum, err := w.load()
	if err != nil {
		return nil, err
	}
	w.current.Store(p)
	w.lastSum = sum
	go w.poll(ctx)
	return w, nil
}

// Policy returns the policy in force.
func (w *Watcher) Policy() *Policy { return w.current.Load() }

// Reload loads the files now (on SIGHUP, say). On failure the policy in force is kept, the
// error is returned and passed to OnReloadError.
func (w *Watcher) Reload() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	p, sum, err := w.load()
	if err != nil {
		if w.onError != nil {
			w.onError(err)
		}
		return err
	}
	w.lastSum = sum
	w.current.Store(p)
	if w.onReload != nil {
		w.onReload(p)
	}
	return nil
}

// Middleware is policy.Middleware over the policy in force at each request.
func (w *Watcher) Middleware(v Verifier, opts ...MiddlewareOption) func(http.Handler) http.Handler {
	return middleware(w.Policy, v, opts)
}

func (w *Watcher) poll(ctx context.Context) {
	t := time.NewTicker(w.interval)
	defer t.Stop()
	var lastBad [sha256.Size]byte // a broken version is reported once, not at every tick
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		sum, err := w.checksum(w.current.Load())
		w.mu.Lock()
		changed := err != nil || (sum != w.lastSum && sum != lastBad)
		w.mu.Unlock()
		if changed && w.Reload() != nil {
			lastBad = sum
		}
	}
}

// load compiles the files and fingerprints them.
func (w *Watcher) load() (*Policy, [sha256.Size]byte, error) {
	p, err := Load(w.path)
	if err != nil {
		return nil, [sha256.Size]byte{}, err
	}
	sum, err := w.checksum(p)
	return p, sum, err
}

// checksum fingerprints the policy file and its imports, so that a reload happens only
// when their contents change (mtimes are too coarse on some file systems).
func (w *Watcher) checksum(p *Policy) ([sha256.Size]byte, error) {
	h := sha256.New()
	files := []string{w.path}
	if p != nil {
		files = append(files, p.imports...)
	}
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			return [sha256.Size]byte{}, err
		}
		_, err = io.Copy(h, io.LimitReader(f, maxPolicyFile+1))
		f.Close()
		if err != nil {
			return [sha256.Size]byte{}, err
		}
		h.Write([]byte{0}) // separate the files
	}
	var sum [sha256.Size]byte
	copy(sum[:], h.Sum(nil))
	return sum, nil
}
