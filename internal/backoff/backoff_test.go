package backoff

import (
	"context"
	"errors"
	"math"
	"net/http"
	"testing"
	"time"
)

func TestExponentialAfter(t *testing.T) {
	s := time.Second
	tests := []struct {
		name string
		e    Exponential
		n    int
		want time.Duration
	}{
		{"first failure", Exponential{5 * s, time.Minute}, 1, 5 * s},
		{"no failure counts as one", Exponential{5 * s, time.Minute}, 0, 5 * s},
		{"doubles", Exponential{5 * s, time.Minute}, 2, 10 * s},
		{"doubles again", Exponential{5 * s, time.Minute}, 4, 40 * s},
		{"capped", Exponential{5 * s, time.Minute}, 5, time.Minute},
		{"stays capped", Exponential{5 * s, time.Minute}, 1000, time.Minute},
		{"no overflow with a huge cap", Exponential{s, math.MaxInt64}, 1000, math.MaxInt64},
		{"first above the cap", Exponential{time.Minute, 5 * s}, 1, 5 * s},
		{"zero first", Exponential{0, time.Minute}, 1 << 40, 0},
		{"zero cap", Exponential{s, 0}, 3, 0},
	}
	for _, tt := range tests {
		if got := tt.e.After(tt.n); got != tt.want {
			t.Errorf("%s: %+v.After(%d) = %v; want %v", tt.name, tt.e, tt.n, got, tt.want)
		}
	}
}

func TestExponentialRetry(t *testing.T) {
	e := Exponential{First: 100 * time.Millisecond, Max: 2 * time.Second}
	ceiling := func(d time.Duration) time.Duration { return d }
	zero := func(time.Duration) time.Duration { return 0 }
	ms := time.Millisecond
	tests := []struct {
		name       string
		n          int
		retryAfter time.Duration
		jitter     func(time.Duration) time.Duration
		want       time.Duration
	}{
		{"at the ceiling", 3, 0, ceiling, 400 * ms},
		{"full jitter can be zero", 3, 0, zero, 0},
		{"Retry-After raises the wait", 1, time.Second, zero, time.Second},
		{"Retry-After below the backoff", 4, 10 * ms, ceiling, 800 * ms},
		{"Retry-After capped", 1, time.Minute, zero, 2 * time.Second},
	}
	for _, tt := range tests {
		if got := e.Retry(tt.n, tt.retryAfter, tt.jitter); got != tt.want {
			t.Errorf("%s: Retry = %v; want %v", tt.name, got, tt.want)
		}
	}
	for range 100 {
		if got := e.Retry(2, 0, nil); got < 0 || got > 200*ms {
			t.Fatalf("Retry with full jitter = %v; want within [0, 200ms]", got)
		}
	}
}

func TestFullJitter(t *testing.T) {
	const ceiling = 50 * time.Millisecond
	seen := map[time.Duration]bool{}
	for range 1000 {
		d := FullJitter(ceiling)
		if d < 0 || d > ceiling {
			t.Fatalf("FullJitter(%v) = %v", ceiling, d)
		}
		seen[d] = true
	}
	if len(seen) < 100 {
		t.Errorf("only %d distinct waits in 1000: not random", len(seen))
	}
	if FullJitter(0) != 0 || FullJitter(-time.Second) != 0 {
		t.Error("FullJitter of a non-positive ceiling is not 0")
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"1", time.Second, true},
		{" 120 ", 2 * time.Minute, true},
		{"0", 0, true},
		{"99999999999999999999", 0, false}, // overflows uint64
		{"18446744073709551615", maxRetryAfterSeconds * time.Second, true},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{"Sunday, 01-Mar-26 12:00:30 GMT", 30 * time.Second, true}, // RFC 850
		{now.Add(-time.Hour).Format(http.TimeFormat), 0, true},     // in the past: no wait
		{"-1", 0, false},
		{"1.5", 0, false},
		{"soon", 0, false},
		{"", 0, false},
	}
	for _, tt := range tests {
		got, ok := ParseRetryAfter(tt.in, now)
		if got != tt.want || ok != tt.ok {
			t.Errorf("ParseRetryAfter(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestSleep(t *testing.T) {
	if err := Sleep(context.Background(), time.Microsecond); err != nil {
		t.Errorf("Sleep = %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Sleep(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Errorf("Sleep on a cancelled context = %v", err)
	}
	if err := Sleep(ctx, 0); !errors.Is(err, context.Canceled) {
		t.Errorf("Sleep(0) on a cancelled context = %v", err)
	}
}
