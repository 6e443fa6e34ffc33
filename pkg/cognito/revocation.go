package cognito

import (
	"cmp"
	"encoding/json"
	"errors"
	"math/bits"
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
// with an index per kind of entry. The snapshot has two layers: the bulk of the entries,
// rebuilt rarely, and the recent ones, a small layer copied at each write and folded into
// the bulk when it grows past a few thousand entries; so a write costs in proportion to
// the recent layer, and only every few thousand writes to the whole list. Expired entries
// are dropped at each rebuild of a layer holding them and by
// [MemoryRevocationList.Prune]; until then they still match.
type MemoryRevocationList struct {
	snap  atomic.Pointer[revocationSnapshot]
	mu    sync.Mutex // serialises writers
	ttl   time.Duration
	clock func() time.Time
}

// revocationSnapshot is one immutable state of a list: its bulk and its recent entries.
// An entry in recent may also be in bulk, merged into a later cut-off or expiry.
type revocationSnapshot struct {
	bulk, recent *revocationLayer
}

// revocationLayer is a set of entries by key, and indexes by the ID of each kind for
// Verify.
type revocationLayer struct {
	all                      map[string]Revocation
	jti, origin, sub, client revocationIndex
	minExpires               time.Time // the earliest expiry, zero when empty
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
	empty := buildRevocationLayer(nil)
	l.snap.Store(&revocationSnapshot{bulk: empty, recent: empty})
	return l
}

// Revoked reports whether c is held by an entry. It never fails.
func (l *MemoryRevocationList) Revoked(c *Claims) (bool, error) {
	h := &c.idHashes
	if !c.hashed {
		// Claims that did not come from Verify: hashed here, never stored (they may be
		// shared).
		h = &[4]uint64{quickHash(c.JTI), quickHash(c.OriginJTI), quickHash(c.Sub), quickHash(c.ClientID)}
	}
	s := l.snap.Load()
	return s.recent.revoked(c, h) || s.bulk.revoked(c, h), nil
}

func (s *revocationLayer) revoked(c *Claims, h *[4]uint64) bool {
	return matchRevocation(s.jti.lookup(c.JTI, h[0]), c) ||
		matchRevocation(s.origin.lookup(c.OriginJTI, h[1]), c) ||
		matchRevocation(s.sub.lookup(c.Sub, h[2]), c) ||
		matchRevocation(s.client.lookup(c.ClientID, h[3]), c)
}

// hashIDs sets c's idHashes. Verify calls it before the claims are shared.
func (c *Claims) hashIDs() {
	c.idHashes = [4]uint64{quickHash(c.JTI), quickHash(c.OriginJTI), quickHash(c.Sub), quickHash(c.ClientID)}
	c.hashed = true
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

// maxRecent is how many entries the recent layer may hold before it is folded into the
// bulk: a write copies at most this many, and a fold, which copies the whole list, comes
// once every that many writes at most.
func maxRecent(bulk int) int {
	n := 1024
	for n*n < bulk*4 && n < 16384 {
		n *= 2
	}
	return n
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
	s := l.snap.Load()
	recent := make(map[string]Revocation, len(s.recent.all)+len(rs))
	for k, r := range s.recent.all {
		if r.Expires.After(now) {
			recent[k] = r
		}
	}
	out := make([]Revocation, 0, len(rs))
	for _, r := range rs {
		r = l.Complete(r)
		k := r.Key()
		if cur, ok := recent[k]; ok {
			r = cur.merge(r)
		} else if cur, ok := s.bulk.all[k]; ok {
			r = cur.merge(r)
		}
		recent[k] = r
		out = append(out, r)
	}
	if len(recent) <= maxRecent(len(s.bulk.all)) {
		l.snap.Store(&revocationSnapshot{bulk: s.bulk, recent: buildRevocationLayer(recent)})
		return out, nil
	}
	l.fold(s.bulk.all, recent, now)
	return out, nil
}

// fold rebuilds the list as one bulk layer of the entries of bulk and recent (recent's
// winning) that expire after now, and an empty recent layer.
func (l *MemoryRevocationList) fold(bulk, recent map[string]Revocation, now time.Time) {
	all := make(map[string]Revocation, len(bulk)+len(recent))
	for _, m := range []map[string]Revocation{bulk, recent} {
		for k, r := range m {
			if r.Expires.After(now) {
				all[k] = r
			}
		}
	}
	l.snap.Store(&revocationSnapshot{bulk: buildRevocationLayer(all), recent: buildRevocationLayer(nil)})
}

// Prune forgets the entries whose expiry has passed.
func (l *MemoryRevocationList) Prune() {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.clock()
	s := l.snap.Load()
	for _, layer := range []*revocationLayer{s.bulk, s.recent} {
		if !layer.minExpires.IsZero() && !layer.minExpires.After(now) {
			l.fold(s.bulk.all, s.recent.all, now)
			return
		}
	}
}

// List returns the entries, sorted by kind, ID and issuer.
func (l *MemoryRevocationList) List() []Revocation {
	s := l.snap.Load()
	out := make([]Revocation, 0, len(s.bulk.all)+len(s.recent.all))
	for k, r := range s.bulk.all {
		if _, newer := s.recent.all[k]; !newer {
			out = append(out, r)
		}
	}
	for _, r := range s.recent.all {
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b Revocation) int {
		return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.ID, b.ID), cmp.Compare(a.Issuer, b.Issuer))
	})
	return out
}

// Len returns how many entries the list holds.
func (l *MemoryRevocationList) Len() int {
	s := l.snap.Load()
	n := len(s.bulk.all)
	for k := range s.recent.all {
		if _, ok := s.bulk.all[k]; !ok {
			n++
		}
	}
	return n
}

// Get returns the entry whose [Revocation.Key] is key.
func (l *MemoryRevocationList) Get(key string) (Revocation, bool) {
	s := l.snap.Load()
	if r, ok := s.recent.all[key]; ok {
		return r, true
	}
	r, ok := s.bulk.all[key]
	return r, ok
}

func buildRevocationLayer(all map[string]Revocation) *revocationLayer {
	s := &revocationLayer{all: all}
	for _, r := range all {
		if s.minExpires.IsZero() || r.Expires.Before(s.minExpires) {
			s.minExpires = r.Expires
		}
		e := revocationEntry{issuer: r.Issuer}
		switch r.Kind {
		case RevokeJTI:
			s.jti.add(r.ID, e)
		case RevokeOriginJTI:
			s.origin.add(r.ID, e)
		case RevokeSubject:
			e.cutoff, e.cut = r.IssuedBefore, true
			s.sub.add(r.ID, e)
		case RevokeClient:
			e.cutoff, e.cut = r.IssuedBefore, true
			s.client.add(r.ID, e)
		}
	}
	for _, ix := range []*revocationIndex{&s.jti, &s.origin, &s.sub, &s.client} {
		ix.seal()
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

// revocationIndex finds the entries of one kind by ID. In front of the map, a bitset over
// a cheap hash of the IDs (16 bits per ID) answers most lookups of an ID that is not on
// the list, which is nearly every lookup, in a few nanoseconds instead of a map lookup's
// hashing of the whole ID. A false positive costs only that map lookup; nobody but the
// list's operators chooses the IDs on it, so it cannot be aimed.
type revocationIndex struct {
	m    map[string][]revocationEntry
	set  []uint64
	mask uint64
}

func (ix *revocationIndex) add(id string, e revocationEntry) {
	if ix.m == nil {
		ix.m = map[string][]revocationEntry{}
	}
	ix.m[id] = append(ix.m[id], e)
}

// seal builds the bitset once every entry is in.
func (ix *revocationIndex) seal() {
	if len(ix.m) == 0 {
		return
	}
	n := uint64(64)
	for n < 16*uint64(len(ix.m)) {
		n <<= 1
	}
	ix.set, ix.mask = make([]uint64, n/64), n-1
	for id := range ix.m {
		h := quickHash(id) & ix.mask
		ix.set[h>>6] |= 1 << (h & 63)
	}
}

// lookup returns the entries of id, whose quickHash is hash.
func (ix *revocationIndex) lookup(id string, hash uint64) []revocationEntry {
	if len(ix.m) == 0 || id == "" {
		return nil
	}
	h := hash & ix.mask
	if ix.set[h>>6]&(1<<(h&63)) == 0 {
		return nil
	}
	return ix.m[id]
}

// quickHash mixes a string's length and its first and last eight bytes: the IDs on a
// list (UUIDs, client IDs) differ there.
func quickHash(s string) uint64 {
	n := len(s)
	var a, b uint64
	if n >= 8 {
		a, b = load64(s), load64(s[n-8:])
	} else {
		for i := range n {
			a |= uint64(s[i]) << (8 * i)
		}
	}
	// MurmurHash3's finaliser: every input bit moves every output bit, so that the
	// bitset's low bits see the end of an ID as much as its start.
	h := a ^ bits.RotateLeft64(b, 31) ^ uint64(n)<<56
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	return h ^ h>>33
}

// load64 reads the first eight bytes of s, little-endian, in one load.
func load64(s string) uint64 {
	_ = s[7]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}
