package cognito

import "time"

// FreshWindow returns the span in which t is served from a cache: from its issue until
// its expiry less an expiry margin. The margin is that of the authenticator that obtained
// t ([WithExpiryMargin]; [DefaultExpiryMargin] for a Token made otherwise), and at most
// half of t's lifetime, so that short-lived tokens (2 minutes and less) are still
// cached. The lifetime counts from IssuedAt, or from now when IssuedAt is zero (unknown)
// or after ExpiresAt. When the token has no lifetime left to serve, until is not after
// from.
//
// A [TokenStore] shared by processes whose clocks may differ keeps t for until.Sub(from):
// a span taken from the token's own instants, right whichever clock each process runs on.
func (t *Token) FreshWindow(now time.Time) (from, until time.Time) {
	margin := DefaultExpiryMargin
	if t.hasMargin {
		margin = t.margin
	}
	return freshWindow(t, now, margin)
}

// freshWindow is FreshWindow with the margin of the authenticator asking, which serves
// every token it holds, wherever it came from, with its own margin.
func freshWindow(t *Token, now time.Time, margin time.Duration) (issued, freshUntil time.Time) {
	issued = t.IssuedAt
	if issued.IsZero() || issued.After(t.ExpiresAt) {
		issued = now
	}
	lifetime := t.ExpiresAt.Sub(issued)
	if lifetime <= 0 {
		return issued, t.ExpiresAt
	}
	return issued, t.ExpiresAt.Add(-min(margin, lifetime/2))
}

// schedule says when a cached token is refreshed ahead (in the background, while it is
// still served) and when it stops being served (callers then wait for a new one).
type schedule struct {
	refreshAt  time.Time
	freshUntil time.Time
}

// scheduleFor computes the schedule of t at now: fresh for the window freshWindow gives,
// and refreshed ahead in the last fraction ahead of that window.
func scheduleFor(t *Token, now time.Time, margin time.Duration, ahead float64) schedule {
	issued, freshUntil := freshWindow(t, now, margin)
	span := freshUntil.Sub(issued)
	if span <= 0 {
		return schedule{refreshAt: freshUntil, freshUntil: freshUntil}
	}
	return schedule{
		refreshAt:  freshUntil.Add(-time.Duration(ahead * float64(span))),
		freshUntil: freshUntil,
	}
}
