package cognito

import (
	"testing"
	"time"
)

func TestScheduleFor(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	s := time.Second
	tests := []struct {
		name                  string
		issued                time.Time
		lifetime              time.Duration
		margin                time.Duration
		ahead                 float64
		refreshAt, freshUntil time.Duration // after now
	}{
		{"1 hour", now, 3600 * s, DefaultExpiryMargin, DefaultRefreshAhead, 2655 * s, 3540 * s},
		{"2 minutes: margin is half the lifetime", now, 120 * s, DefaultExpiryMargin, DefaultRefreshAhead, 45 * s, 60 * s},
		{"30 seconds", now, 30 * s, DefaultExpiryMargin, DefaultRefreshAhead, 11250 * time.Millisecond, 15 * s},
		{"1 second", now, s, DefaultExpiryMargin, DefaultRefreshAhead, 375 * time.Millisecond, 500 * time.Millisecond},
		{"no margin", now, 3600 * s, 0, DefaultRefreshAhead, 2700 * s, 3600 * s},
		{"10 minute margin", now, 3600 * s, 10 * time.Minute, DefaultRefreshAhead, 2250 * s, 3000 * s},
		{"no refresh ahead", now, 3600 * s, DefaultExpiryMargin, 0, 3540 * s, 3540 * s},
		{"unknown issue time: lifetime counts from now", time.Time{}, 1000 * s, DefaultExpiryMargin, DefaultRefreshAhead, 705 * s, 940 * s},
		{"issued in the future: counts from now", now.Add(time.Hour), 1000 * s, DefaultExpiryMargin, DefaultRefreshAhead, 705 * s, 940 * s},
		{"issued earlier", now.Add(-3000 * s), 600 * s, DefaultExpiryMargin, DefaultRefreshAhead, -345 * s, 540 * s},
		{"expired", now.Add(-2 * time.Hour), -time.Hour, DefaultExpiryMargin, DefaultRefreshAhead, -4545 * s, -3660 * s},
		{"expires when issued", now, 0, DefaultExpiryMargin, DefaultRefreshAhead, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok := &Token{ExpiresAt: now.Add(tt.lifetime), IssuedAt: tt.issued}
			got := scheduleFor(tok, now, tt.margin, tt.ahead)
			if d := got.refreshAt.Sub(now); d != tt.refreshAt {
				t.Errorf("refreshAt = now%+v; want now%+v", d, tt.refreshAt)
			}
			if d := got.freshUntil.Sub(now); d != tt.freshUntil {
				t.Errorf("freshUntil = now%+v; want now%+v", d, tt.freshUntil)
			}
		})
	}
}

// A token tells its fresh window with the margin of the authenticator that obtained it,
// so that a store keeping it needs no margin of its own; a token made otherwise has the
// default margin.
func TestTokenFreshWindow(t *testing.T) {
	te := startTokenEndpoint(t, nil)
	clock := newFakeClock()
	a, _ := newAuth(t, testConfig(te.TokenURL()), WithClock(clock.Now), WithExpiryMargin(5*time.Minute))
	tok := mustToken(t, a)
	from, until := tok.FreshWindow(clock.Now().Add(time.Hour))
	if !from.Equal(t0) || until.Sub(from) != 55*time.Minute {
		t.Errorf("window of the authenticator's token = %v to %v; want 55m from %v", from, until, t0)
	}
	made := &Token{IssuedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	if from, until := made.FreshWindow(t0); !from.Equal(t0) || until.Sub(from) != time.Hour-DefaultExpiryMargin {
		t.Errorf("window of a made token = %v to %v; want the default margin", from, until)
	}
	// No issue time: from now. Two minutes: the margin is halved.
	short := &Token{ExpiresAt: t0.Add(2 * time.Minute)}
	if from, until := short.FreshWindow(t0); !from.Equal(t0) || until.Sub(from) != time.Minute {
		t.Errorf("window of a two-minute token = %v to %v; want a minute from now", from, until)
	}
}
