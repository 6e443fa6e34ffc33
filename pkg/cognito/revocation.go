package cognito

import (
	"cmp"
	"encoding/json"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// RevocationList tells [JWTAuthorizer.Verify] whether a token whose signature and claims
// verified has been revoked since it was issued: Cognito's tokens stay valid for every
// verifier until they expire, whatever Cognito was told since. Give one to an authorizer
// with [WithRevocationList]. [MemoryRevocationList] is one in the process's memory; the
// redisstore package has one that a fleet shares through Redis.
type RevocationList interface {
	// Revoked reports whether the token with claims c is revoked. A non-nil error means
	// the list cannot tell (it fails closed): Verify then refuses the token with
	// [ErrRevocationUnavailable], wrapping the error.
	//
	// It is called on every Verify, verified-cache hits included, so it must be fast,
	// make no network call and be safe for concurrent use. c must not be modified.
	Revoked(c *Claims) (bool, error)
}

// RevocationKind says what a [Revocation] names.
type RevocationKind string

// The kinds of revocation.
const (
	// RevokeJTI revokes one access or ID token: the one whose jti is the ID.
	RevokeJTI RevocationKind = "jti"
	// RevokeOriginJTI revokes every token of one sign-in session: those whose origin_jti
	// is the ID (Cognito adds it when token revocation is enabled on the app client).
	RevokeOriginJTI RevocationKind = "origin_jti"
	// RevokeSubject revokes every token of one user (sub) issued at or before the
	// cut-off: a global sign-out, or a compromised account.
	RevokeSubject RevocationKind = "sub"
	// RevokeClient revokes every token of one app client (client_id of access tokens,
	// the client an ID token was accepted for) issued at or before the cut-off: a leaked
	// client secret.
	RevokeClient RevocationKind = "client_id"
)

// DefaultRevocationTTL is how long a revocation is kept when it says nothing else: the
// longest lifetime Cognito gives an access or ID token, after which every token it can
// match has expired anyway.
const DefaultRevocationTTL = 24 * time.Hour

// Revocation is one entry of a revocation list.
type Revocation struct {
	// Kind says what ID names.
	Kind RevocationKind `json:"kind"`
	// ID is the jti, origin_jti, sub or client ID. Never a token.
	ID string `json:"id"`
	// IssuedBefore is the cut-off of RevokeSubject and RevokeClient: tokens issued (iat)
	// at or before it are revoked, a token without iat too. Zero means when the entry is
	// added. It must be zero for RevokeJTI and RevokeOriginJTI.
	IssuedBefore time.Time `json:"issued_before,omitzero"`
	// Issuer, when set, limits the entry to tokens whose iss it is; empty matches every
	// issuer.
	Issuer string `json:"issuer,omitempty"`
	// Expires is when the entry is forgotten. Zero means when it is added plus the
	// list's TTL ([DefaultRevocationTTL] unless [WithRevocationTTL]). Make it no earlier
	// than the last expiry of the tokens it is to refuse.
	Expires time.Time `json:"expires,omitzero"`
}

// ErrInvalidRevocation is matched by the error of a [Revocation] that is refused: an
// unknown kind, an empty ID, a cut-off on a jti or origin_jti.
var ErrInvalidRevocation = errors.New("cognito: invalid revocation")

// Validate returns an error matching [ErrInvalidRevocation] if r cannot be put on a list.
func (r Revocation) Validate() error {
	switch r.Kind {
	case RevokeJTI, RevokeOriginJTI:
		if !r.IssuedBefore.IsZero() {
			return errors.Join(ErrInvalidRevocation, errors.New("a "+string(r.Kind)+" revocation takes no cut-off"))
		}
	case RevokeSubject, RevokeClient:
	default:
		return errors.Join(ErrInvalidRevocation, errors.New("kind is not jti, origin_jti, sub or client_id"))
	}
	if r.ID == "" {
		return errors.Join(ErrInvalidRevocation, errors.New("the ID is empty"))
	}
	return nil
}

// Key returns what identifies r on a list: its kind, issuer and ID. Two revocations with
// the same key are one entry, with the later cut-off and the later expiry.
func (r Revocation) Key() string {
	b, _ := json.Marshal([3]string{string(r.Kind), r.Issuer, r.ID})
	return string(b)
}

// merge returns the entry r and o (of the same key) make together.
func (r Revocation) merge(o Revocation) Revocation {
	if o.IssuedBefore.After(r.IssuedBefore) {
		r.IssuedBefore = o.IssuedBefore
	}
	if o.Expires.After(r.Expires) {
		r.Expires = o.Expires
	}
	return r
}

// RevocationListOption tunes a [MemoryRevocationList].
type RevocationListOption func(*MemoryRevocationList)

// WithRevocationTTL sets how long an entry added without an expiry is kept (default
// [DefaultRevocationTTL]).
func WithRevocationTTL(d time.Duration) RevocationListOption {
	return func(l *MemoryRevocationList) {
		if d > 0 {
			l.ttl = d
		}
	}
}

// WithRevocationClock sets the source of the current time (for the default cut-off and
// expiry, and forgetting entries), for tests. Nil means time.Now.
func WithRevocationClock(now func() time.Time) RevocationListOption {
	return func(l *MemoryRevocationList) {
		if now != nil {
			l.clock = now
		}
	}
}

// MemoryRevocationList is a [RevocationList] in the process's memory. Build it with
// [NewRevocationList]; it is safe for concurrent use.
//
// Verify reads it without a lock: it is an immutable snapshot behind an atomic pointer,
// one map lookup per kind that has entries. A write copies the snapshot, so it costs in
// proportion to the list's length: give many entries to one [MemoryRevocationList.Add].
// Expired entries are dropped at each write and by [MemoryRevocationList.Prune]; until
// then they still match.
type MemoryRevocationList struct {
	snap  atomic.Pointer[revocationSnapshot]
	mu    sync.Mutex // serialises writers
	ttl   time.Duration
	clock func() time.Time
}

// revocationSnapshot is one immutable state of a list: every entry by key, and indexes
// by the ID of each kind for Verify.
type revocationSnapshot struct {
	all                      map[string]Revocation
	jti, origin, sub, client map[string][]revocationEntry
}

// revocationEntry is what the indexes hold: enough to match claims.
type revocationEntry struct {
	issuer string
	cutoff time.Time // zero for jti and origin_jti: every token matches
	cut    bool
}

// NewRevocationList returns an empty MemoryRevocationList.
func NewRevocationList(opts ...RevocationListOption) *MemoryRevocationList {
	l := &MemoryRevocationList{ttl: DefaultRevocationTTL, clock: time.Now}
	for _, opt := range opts {
		if opt != nil {
			opt(l)
		}
	}
	l.snap.Store(buildRevocationSnapshot(map[string]Revocation{}))
	return l
}

// Revoked reports whether c is held by an entry. It never fails.
func (l *MemoryRevocationList) Revoked(c *Claims) (bool, error) {
	return l.snap.Load().revoked(c), nil
}

func (s *revocationSnapshot) revoked(c *Claims) bool {
	return len(s.jti) > 0 && c.JTI != "" && matchRevocation(s.jti[c.JTI], c) ||
		len(s.origin) > 0 && c.OriginJTI != "" && matchRevocation(s.origin[c.OriginJTI], c) ||
		len(s.sub) > 0 && matchRevocation(s.sub[c.Sub], c) ||
		len(s.client) > 0 && c.ClientID != "" && matchRevocation(s.client[c.ClientID], c)
}

func matchRevocation(entries []revocationEntry, c *Claims) bool {
	for i := range entries {
		e := &entries[i]
		if e.issuer != "" && e.issuer != c.Issuer {
			continue
		}
		if !e.cut || !c.IssuedAt.After(e.cutoff) {
			return true
		}
	}
	return false
}

// Complete returns r with its zero cut-off (of a subject or client) and zero expiry
// filled as adding it now to l would fill them.
func (l *MemoryRevocationList) Complete(r Revocation) Revocation {
	now := l.clock()
	if r.IssuedBefore.IsZero() && (r.Kind == RevokeSubject || r.Kind == RevokeClient) {
		r.IssuedBefore = now
	}
	if r.Expires.IsZero() {
		r.Expires = now.Add(l.ttl)
	}
	r.IssuedBefore, r.Expires = r.IssuedBefore.UTC(), r.Expires.UTC()
	return r
}

// Add puts rs on the list, completed as [MemoryRevocationList.Complete] says, merging
// each with the entry of the same key if there is one, and returns the entries as the
// list now holds them. Verify sees all of them at once. It fails, adding nothing, with an
// error matching [ErrInvalidRevocation] if one of rs is invalid.
func (l *MemoryRevocationList) Add(rs ...Revocation) ([]Revocation, error) {
	for _, r := range rs {
		if err := r.Validate(); err != nil {
			return nil, err
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.clock()
	old := l.snap.Load().all
	all := make(map[string]Revocation, len(old)+len(rs))
	for k, r := range old {
		if r.Expires.After(now) {
			all[k] = r
		}
	}
	out := make([]Revocation, 0, len(rs))
	for _, r := range rs {
		r = l.Complete(r)
		k := r.Key()
		if cur, ok := all[k]; ok {
			r = cur.merge(r)
		}
		all[k] = r
		out = append(out, r)
	}
	l.snap.Store(buildRevocationSnapshot(all))
	return out, nil
}

// Prune forgets the entries whose expiry has passed.
func (l *MemoryRevocationList) Prune() {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.clock()
	old := l.snap.Load().all
	expired := false
	for _, r := range old {
		if !r.Expires.After(now) {
			expired = true
			break
		}
	}
	if !expired {
		return
	}
	all := make(map[string]Revocation, len(old))
	for k, r := range old {
		if r.Expires.After(now) {
			all[k] = r
		}
	}
	l.snap.Store(buildRevocationSnapshot(all))
}

// List returns the entries, sorted by kind, ID and issuer.
func (l *MemoryRevocationList) List() []Revocation {
	all := l.snap.Load().all
	out := make([]Revocation, 0, len(all))
	for _, r := range all {
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b Revocation) int {
		return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.ID, b.ID), cmp.Compare(a.Issuer, b.Issuer))
	})
	return out
}

// Len returns how many entries the list holds.
func (l *MemoryRevocationList) Len() int { return len(l.snap.Load().all) }

// Get returns the entry whose [Revocation.Key] is key.
func (l *MemoryRevocationList) Get(key string) (Revocation, bool) {
	r, ok := l.snap.Load().all[key]
	return r, ok
}

func buildRevocationSnapshot(all map[string]Revocation) *revocationSnapshot {
	s := &revocationSnapshot{all: all}
	index := func(m *map[string][]revocationEntry, r Revocation, e revocationEntry) {
		if *m == nil {
			*m = map[string][]revocationEntry{}
		}
		(*m)[r.ID] = append((*m)[r.ID], e)
	}
	for _, r := range all {
		e := revocationEntry{issuer: r.Issuer}
		switch r.Kind {
		case RevokeJTI:
			index(&s.jti, r, e)
		case RevokeOriginJTI:
			index(&s.origin, r, e)
		case RevokeSubject:
			e.cutoff, e.cut = r.IssuedBefore, true
			index(&s.sub, r, e)
		case RevokeClient:
			e.cutoff, e.cut = r.IssuedBefore, true
			index(&s.client, r, e)
		}
	}
	return s
}

// checkRevoked asks the authorizer's revocation list about verified claims.
func (z *JWTAuthorizer) checkRevoked(c *Claims) error {
	revoked, err := z.revocations.Revoked(c)
	switch {
	case err != nil:
		return &AuthorizationError{Reason: ErrRevocationUnavailable, Detail: "the revocation list cannot tell whether the token is revoked", Err: err, Claims: c}
	case revoked:
		return &AuthorizationError{Reason: ErrTokenRevoked, Detail: "the revocation list holds the token", Claims: c}
	}
	return nil
}
