package redisstore

import (
	"log/slog"
	"time"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// Defaults of the options.
const (
	// DefaultKeyPrefix is put before every key the store writes.
	DefaultKeyPrefix = "cognitokit:"
	// DefaultLockTTL is how long the fetch lock outlives its holder: how long after an
	// instance dies mid-fetch another one takes over. The holder renews the lock every
	// third of it while it fetches, so a slow token request does not lose the lock.
	DefaultLockTTL = 5 * time.Second
	// DefaultTimeout bounds each Redis call, on top of the caller's context.
	DefaultTimeout = 500 * time.Millisecond
	// DefaultMaxWait is the longest an instance waits for another one's fetch before it
	// fetches on its own.
	DefaultMaxWait = 10 * time.Second
	// DefaultCooldown is how long Redis is left alone after a failed call: meanwhile the
	// store fails at once and authenticators fetch on their own, without waiting for
	// timeouts.
	DefaultCooldown = 2 * time.Second
)

// Option tunes a [Store].
type Option func(*options)

type options struct {
	prefix   string
	lockTTL  time.Duration
	timeout  time.Duration
	maxWait  time.Duration
	cooldown time.Duration
	logger   *slog.Logger
	clock    func() time.Time

	meterProvider  metric.MeterProvider
	tracerProvider trace.TracerProvider
}

func newOptions(opts []Option) options {
	o := options{
		prefix:   DefaultKeyPrefix,
		lockTTL:  DefaultLockTTL,
		timeout:  DefaultTimeout,
		maxWait:  DefaultMaxWait,
		cooldown: DefaultCooldown,
		logger:   slog.New(slog.DiscardHandler),
		clock:    time.Now,
	}
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	return o
}

// WithKeyPrefix sets what every key starts with (default [DefaultKeyPrefix]), to keep
// services or environments sharing one Redis apart. The empty prefix is allowed.
func WithKeyPrefix(prefix string) Option {
	return func(o *options) { o.prefix = prefix }
}

// WithLockTTL sets how long the fetch lock lasts without renewal (default
// [DefaultLockTTL]), that is how long after an instance dies mid-fetch another one takes
// over. Values under 100ms are ignored.
func WithLockTTL(d time.Duration) Option {
	return func(o *options) {
		if d >= 100*time.Millisecond {
			o.lockTTL = d
		}
	}
}

// WithTimeout bounds each Redis call (default [DefaultTimeout]); the caller's context
// bounds it too. A call that times out counts as Redis being unavailable. Waiting for
// another instance's fetch is bounded by [WithMaxWait] instead.
func WithTimeout(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.timeout = d
		}
	}
}

// WithMaxWait sets the longest an instance waits for another one's fetch (default
// [DefaultMaxWait]) before it gives up on the store and fetches on its own.
func WithMaxWait(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.maxWait = d
		}
	}
}

// WithCooldown sets how long Redis is left alone after a failed call (default
// [DefaultCooldown]); zero tries Redis on every call.
func WithCooldown(d time.Duration) Option {
	return func(o *options) {
		if d >= 0 {
			o.cooldown = d
		}
	}
}

// WithLogger sets where the store logs Redis becoming unavailable and available again,
// and a fetch lock lost. Nothing logged holds a token. Nil means no logging.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) {
		if l != nil {
			o.logger = l
		}
	}
}

// WithClock sets the time source of the cooldown, for tests. Nil means time.Now. Lock
// and token TTLs in Redis run on Redis's own clock, and whether a token is fresh is
// decided by the authenticators on theirs.
func WithClock(now func() time.Time) Option {
	return func(o *options) {
		if now != nil {
			o.clock = now
		}
	}
}
