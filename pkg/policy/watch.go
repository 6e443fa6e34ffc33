package policy

import (
	"context"
	"crypto/sha256"
	"net/http"
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
	files    source // tests replace its read

	current atomic.Pointer[Policy]

	mu   sync.Mutex // serialises reloads; guards seen and validators
	seen fingerprints
	// validators are the middlewares' checks of a new policy (the checks it names are
	// registered): a reloaded policy that fails one is refused like one that fails to load.
	validators []func(*Policy) error
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

// WithOnReloadError sets a function called with the error of every change that failed to
// load; the previous policy stays in force.
func WithOnReloadError(f func(error)) WatchOption {
	return func(w *Watcher) { w.onError = f }
}

// WithOnReload sets a function called with every new policy swapped in.
func WithOnReload(f func(*Policy)) WatchOption {
	return func(w *Watcher) { w.onReload = f }
}

// Watch loads the policy at path and keeps it up to date until ctx is done. It fails if
// the first load fails.
func Watch(ctx context.Context, path string, opts ...WatchOption) (*Watcher, error) {
	w := &Watcher{path: path, interval: DefaultPollInterval, files: diskSource()}
	for _, o := range opts {
		if o != nil {
			o(w)
		}
	}
	p, seen, err := w.load()
	if err != nil {
		return nil, err
	}
	w.current.Store(p)
	w.seen = seen
	go w.poll(ctx)
	return w, nil
}

// Policy returns the policy in force.
func (w *Watcher) Policy() *Policy { return w.current.Load() }

// Reload loads the files now (on SIGHUP, say). On failure the policy in force is kept, the
// error is returned and passed to the WithOnReloadError function.
func (w *Watcher) Reload() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	p, seen, err := w.load()
	w.seen = seen // a version that fails is not tried again until it changes
	for _, validate := range w.validators {
		if err == nil {
			err = validate(p)
		}
	}
	if err != nil {
		if w.onError != nil {
			w.onError(err)
		}
		return err
	}
	w.current.Store(p)
	if w.onReload != nil {
		w.onReload(p)
	}
	return nil
}

// Middleware is policy.Middleware over the policy in force at each request. A reloaded
// policy naming a check that opts do not register is refused (the policy in force is
// kept, and the error reported as for a policy that fails to load); if the policy in force
// now names one, the middleware answers every request 500, as Middleware does.
func (w *Watcher) Middleware(v Verifier, opts ...MiddlewareOption) func(http.Handler) http.Handler {
	h, err := w.NewMiddleware(v, opts...)
	if err != nil {
		return misconfigured(newMiddlewareConfig(opts), err)
	}
	return h
}

// NewMiddleware is Middleware, but returns an error instead when the policy in force
// names a check that opts do not register (see NewMiddleware).
func (w *Watcher) NewMiddleware(v Verifier, opts ...MiddlewareOption) (func(http.Handler) http.Handler, error) {
	cfg := newMiddlewareConfig(opts)
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := cfg.validate(w.Policy()); err != nil {
		return nil, err
	}
	w.validators = append(w.validators, cfg.validate)
	return middleware(w.Policy, v, cfg), nil
}

func (w *Watcher) poll(ctx context.Context) {
	t := time.NewTicker(w.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		w.mu.Lock()
		changed := w.seen.changed(w.files.read)
		w.mu.Unlock()
		if changed {
			_ = w.Reload() // reported through WithOnReloadError
		}
	}
}

// load compiles the files, reading each once, and fingerprints exactly the bytes it
// compiled: a file caught half written is compiled and fingerprinted half written, so
// the next poll sees it complete and reloads it.
func (w *Watcher) load() (*Policy, fingerprints, error) {
	seen := fingerprints{}
	recording := w.files
	recording.read = func(name string) ([]byte, error) {
		data, err := w.files.read(name)
		seen[name] = fingerprint(data, err)
		return data, err
	}
	p, err := load(w.path, recording)
	return p, seen, err
}

// fingerprints are the contents of the files a load read, by name, as SHA-256 sums
// (mtimes are too coarse on some file systems). A file that could not be read has the
// fingerprint of its error, so that it is retried when the error changes, not at every
// poll.
type fingerprints map[string][sha256.Size]byte

func fingerprint(data []byte, err error) [sha256.Size]byte {
	if err != nil {
		return sha256.Sum256([]byte("error: " + err.Error()))
	}
	return sha256.Sum256(data)
}

// changed reports whether any of the files reads differently now.
func (f fingerprints) changed(read func(string) ([]byte, error)) bool {
	for name, sum := range f {
		if fingerprint(read(name)) != sum {
			return true
		}
	}
	return false
}
