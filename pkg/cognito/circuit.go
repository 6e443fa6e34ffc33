package cognito

import (
	"context"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cognitokit/cognitokit/internal/backoff"
)

// The circuit keeps an authenticator from storming the token endpoint. Cognito throttles
// token requests per account and region, for every service of the account, and bills
// each one: a client whose every call became a request once the secret is wrong, or that
// multiplied its requests by its retries during an outage, would throttle the company.
//
// After a failed fetch the circuit holds token requests off for a cool-down: GetToken
// fails at once with the answer that started it, marked HeldOff (or serves a cached token
// that is still valid), and makes no request. A rejection (a 4xx other than 429, or an
// unusable 200: asking again gives the same answer) holds off for RejectionFirst,
// doubling while the rejection repeats up to RejectionMax. An outage (network errors,
// 5xx, 429) holds off until a probe is due, OutageFirst doubling up to OutageMax, with a
// little jitter so that instances failing together do not probe together, and never
// before the Retry-After the endpoint asked for. When the cool-down ends, the next fetch
// is the probe: a single request, whatever the retry policy, and one at a time (the
// single flight sees to that). A success closes the circuit.
//
// The state is one immutable hold behind an atomic pointer, so that a call held off
// takes no lock; fetches, which change it, run one at a time per authenticator.
type circuit struct {
	policy CooldownPolicy
	jitter func(ceiling time.Duration) time.Duration // outage waits; a field so tests pin it

	mu   sync.Mutex // serialises changes; reads are lock-free
	hold atomic.Pointer[hold]
}

// hold is the circuit's state after a failure. It stays after its cool-down ends, so that
// a failure repeating lengthens the next one, until a success clears it.
type hold struct {
	until    time.Time
	streak   int                 // failures of this kind in a row
	rejected bool                // a rejection, not an outage
	answer   AuthenticationError // the answer that started it, as its caller got it
}

func newCircuit(p CooldownPolicy) *circuit {
	return &circuit{policy: p.withDefaults(), jitter: backoff.FullJitter}
}

// CooldownPolicy says how long an authenticator makes no token request after the token
// endpoint rejected one or failed. Zero fields take their defaults.
type CooldownPolicy struct {
	// RejectionFirst is the cool-down after a rejection (a 4xx other than 429, such as
	// invalid_client, or a 200 that is not a usable token); it doubles each time the
	// rejection repeats, up to RejectionMax. Zero means [DefaultRejectionCooldown];
	// negative turns the cool-down off (every call then makes a request).
	RejectionFirst time.Duration
	// RejectionMax caps the rejection cool-down. Zero means [DefaultMaxRejectionCooldown].
	RejectionMax time.Duration
	// OutageFirst is the wait before the first probe after an outage (network errors,
	// 5xx, 429 outlasting the retries); it doubles while the probes fail, up to
	// OutageMax, and each wait is cut by up to a quarter at random. A Retry-After longer
	// than the wait is honoured, up to OutageMax. Zero means [DefaultOutageCooldown];
	// negative turns the circuit off.
	OutageFirst time.Duration
	// OutageMax caps the wait between probes. Zero means [DefaultMaxOutageCooldown].
	OutageMax time.Duration
}

func (p CooldownPolicy) withDefaults() CooldownPolicy {
	if p.RejectionFirst == 0 {
		p.RejectionFirst = DefaultRejectionCooldown
	}
	if p.RejectionMax <= 0 {
		p.RejectionMax = DefaultMaxRejectionCooldown
	}
	if p.OutageFirst == 0 {
		p.OutageFirst = DefaultOutageCooldown
	}
	if p.OutageMax <= 0 {
		p.OutageMax = DefaultMaxOutageCooldown
	}
	p.RejectionMax = max(p.RejectionMax, p.RejectionFirst)
	p.OutageMax = max(p.OutageMax, p.OutageFirst)
	return p
}

// Cooldown is a period during which no token request is made for a [TokenKey], because
// the token endpoint rejected a request for it or failed. Authenticators sharing a
// [CooldownStore] share it, so that one instance's discovery stops the others. It holds
// the answer that started it, never a secret or a token.
//
// It is an error so that a CooldownStore's Coalesce can return it; an
// [*AuthenticationError] that started or repeats a cool-down unwraps to it.
type Cooldown struct {
	// Reason is the ReasonCode of the failure: "token_request_rejected",
	// "invalid_token_response" or "token_endpoint_unavailable".
	Reason string
	// ErrorCode, ErrorDescription and StatusCode are the endpoint's answer, as in
	// [AuthenticationError].
	ErrorCode        string
	ErrorDescription string
	StatusCode       int
	// Streak counts the failures of this kind in a row, this one included; the next
	// cool-down is twice as long as this one's, up to the maximum.
	Streak int
	// Remaining is how long the cool-down lasts from the moment the Cooldown is handed
	// over (given to or returned by a store). A span, not an instant, so that instances
	// whose clocks differ agree on it.
	Remaining time.Duration
}

func (c *Cooldown) Error() string {
	s := "cognito: token requests held off for " + c.Remaining.String() + " after " + c.Reason
	if c.ErrorCode != "" {
		s += " " + strconv.Quote(c.ErrorCode)
	}
	if c.StatusCode != 0 {
		s += ", HTTP " + strconv.Itoa(c.StatusCode)
	}
	return s
}

// CooldownStore is a [TokenStore] that shares cool-downs between the authenticators
// using it, under the token's key, so that when one of them learns that the client is
// rejected or that the endpoint is failing, the others make no request either until the
// cool-down ends.
//
// A CooldownStore that is also a [CoalescingStore] folds cool-downs into Coalesce, which
// costs no round trip of its own: while a cool-down is in force for key, Coalesce calls
// no fetch and returns the stored token (nil when there is none) with the *Cooldown as
// its error, its Remaining counted from now; and when fetch fails with an error that
// holds a *Cooldown ([errors.As]), Coalesce records it before any waiting authenticator
// may fetch in turn. A token stored ends the cool-down. The authenticator then calls
// neither method below; it calls them around its fetches with a store that does not
// coalesce, or one that failed to.
type CooldownStore interface {
	TokenStore
	// LoadCooldown returns the cool-down in force for key, with its Remaining counted
	// from now, or nil when there is none.
	LoadCooldown(ctx context.Context, key string) (*Cooldown, error)
	// StoreCooldown records c for key for c.Remaining, replacing any other.
	StoreCooldown(ctx context.Context, key string, c *Cooldown) error
}

// current returns the hold in force at now, or nil.
func (c *circuit) current(now time.Time) *hold {
	if h := c.hold.Load(); h != nil && now.Before(h.until) {
		return h
	}
	return nil
}

// probing reports whether the next request is a probe: the last fetch failed, and its
// cool-down is over.
func (c *circuit) probing() bool { return c.hold.Load() != nil }

// heldOff returns the error of a call that makes no request because a cool-down is in
// force at now, or nil when none is. It is the one place such errors are made: a copy of
// the answer that started the cool-down, marked HeldOff, with no attempt counted.
func (a *ClientCredentialsAuthenticator) heldOff(now time.Time) *AuthenticationError {
	h := a.circuit.current(now)
	if h == nil {
		return nil
	}
	e := h.answer
	e.HeldOff, e.Attempts = true, 0
	if e.cooldown != nil {
		cd := *e.cooldown
		cd.Remaining = h.until.Sub(now)
		e.cooldown = &cd
	}
	return &e
}

// trip records a failed fetch, whose last answer asked for retryAfter (zero when it did
// not), and starts the cool-down it calls for, unless the policy turns it off. It sets
// ae's RetryAt and cool-down, and logs.
func (a *ClientCredentialsAuthenticator) trip(ctx context.Context, ae *AuthenticationError, retryAfter time.Duration) {
	c := a.circuit
	rejected := ae.Reason != ErrTokenEndpointUnavailable
	first, ceiling := c.policy.OutageFirst, c.policy.OutageMax
	if rejected {
		first, ceiling = c.policy.RejectionFirst, c.policy.RejectionMax
	}
	if first < 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	prev := c.hold.Load()
	streak := 1
	if prev != nil && prev.rejected == rejected {
		streak = prev.streak + 1
	}
	wait := backoff.Exponential{First: first, Max: ceiling}.After(streak)
	if !rejected {
		wait -= c.jitter(wait / 4)
		wait = max(wait, min(retryAfter, ceiling))
	}
	now := a.now()
	ae.RetryAt = now.Add(wait)
	ae.cooldown = &Cooldown{Reason: ReasonCode(ae.Reason), ErrorCode: ae.ErrorCode,
		ErrorDescription: ae.ErrorDescription, StatusCode: ae.StatusCode, Streak: streak, Remaining: wait}
	c.hold.Store(&hold{until: ae.RetryAt, streak: streak, rejected: rejected, answer: *ae})
	a.logHold(ctx, prev, ae, "", streak)
}

// adopt takes on a cool-down another authenticator recorded in the store, and returns
// the error of the call that found it.
func (a *ClientCredentialsAuthenticator) adopt(ctx context.Context, cd *Cooldown) *AuthenticationError {
	c := a.circuit
	now := a.now()
	ae := AuthenticationError{Reason: reasonByCode(cd.Reason), ErrorCode: cd.ErrorCode,
		ErrorDescription: a.scrub(cd.ErrorDescription, 512), StatusCode: cd.StatusCode, RetryAt: now.Add(cd.Remaining)}
	ae.cooldown = &Cooldown{Reason: ReasonCode(ae.Reason), ErrorCode: ae.ErrorCode, ErrorDescription: ae.ErrorDescription,
		StatusCode: ae.StatusCode, Streak: max(cd.Streak, 1), Remaining: cd.Remaining}
	c.mu.Lock()
	prev := c.hold.Load()
	if prev == nil || prev.until.Before(ae.RetryAt) {
		c.hold.Store(&hold{until: ae.RetryAt, streak: ae.cooldown.Streak, rejected: ae.Reason != ErrTokenEndpointUnavailable, answer: ae})
		a.logHold(ctx, prev, &ae, "store", ae.cooldown.Streak)
	}
	c.mu.Unlock()
	ae.HeldOff = true
	return &ae
}

// reasonByCode maps a stored reason code back to its sentinel; an unknown one (a newer
// version's) counts as a rejection, the longer hold.
func reasonByCode(code string) error {
	switch code {
	case ReasonCode(ErrTokenEndpointUnavailable):
		return ErrTokenEndpointUnavailable
	case ReasonCode(ErrInvalidTokenResponse):
		return ErrInvalidTokenResponse
	}
	return ErrTokenRequestRejected
}

// reset closes the circuit after a success.
func (a *ClientCredentialsAuthenticator) reset(ctx context.Context) {
	c := a.circuit
	if c.hold.Load() == nil {
		return
	}
	c.mu.Lock()
	prev := c.hold.Swap(nil)
	c.mu.Unlock()
	if prev != nil {
		a.logger.LogAttrs(ctx, slog.LevelInfo, "cognito: token endpoint answered with a token; token requests resume",
			slog.String("client_id", a.cfg.ClientID), slog.String("after", prev.answer.ReasonCode()))
	}
}

// logHold logs a cool-down once per change: at Warn when it starts or the answer differs
// from the last one's, at Debug while the same answer repeats (each repeat is one request,
// at most one per cool-down, never one per call).
func (a *ClientCredentialsAuthenticator) logHold(ctx context.Context, prev *hold, ae *AuthenticationError, source string, streak int) {
	level := slog.LevelWarn
	if prev != nil && prev.answer.Reason == ae.Reason && prev.answer.ErrorCode == ae.ErrorCode && prev.answer.StatusCode == ae.StatusCode {
		level = slog.LevelDebug
	}
	if !a.logger.Enabled(ctx, level) {
		return
	}
	msg := "cognito: token request rejected; token requests held off"
	if ae.Reason == ErrTokenEndpointUnavailable {
		msg = "cognito: token endpoint unavailable; token requests held off until the next probe"
	}
	attrs := []slog.Attr{slog.String("client_id", a.cfg.ClientID), slog.String("reason", ae.ReasonCode()),
		slog.String("error_code", ae.ErrorCode), slog.Int("status", ae.StatusCode),
		slog.Duration("cooldown", ae.cooldown.Remaining), slog.Time("retry_at", ae.RetryAt), slog.Int("streak", streak)}
	if source != "" {
		attrs = append(attrs, slog.String("from", source))
	} else {
		attrs = append(attrs, slog.String("error", ae.Error()))
	}
	a.logger.LogAttrs(ctx, level, msg, attrs...)
}

// holdUntil returns the end of the cool-down in force at now, or the zero time.
func (c *circuit) holdUntil(now time.Time) time.Time {
	if h := c.current(now); h != nil {
		return h.until
	}
	return time.Time{}
}
