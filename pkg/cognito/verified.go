package cognito

import (
	"hash/maphash"
	"math/rand/v2"
	"sync/atomic"
)

// verifiedCache remembers tokens whose signature and claims were verified, so a token seen
// again costs a hash and a string comparison instead of an RSA verification. It is
// two-way set associative over a fixed array: bounded, O(1), lock-free; an insert into a
// full set evicts one of its two entries at random.
//
// Entries are keyed by maphash of the whole token with a per-authorizer seed (an attacker
// cannot aim collisions at it) and hold the token itself, compared in full on lookup, so a
// collision can only miss, never return another token's claims. Each entry remembers the
// key set it was verified with and its generation: once that issuer's keys change, the
// entry is dead.
type verifiedCache struct {
	seed  maphash.Seed
	sets  uint64
	slots []atomic.Pointer[verifiedEntry]
}

type verifiedEntry struct {
	token  string
	claims *Claims
	keys   *jwksCache
	gen    uint64
}

// newVerifiedCache returns a cache of about n entries (n rounded up to even), or nil for
// n <= 0.
func newVerifiedCache(n int) *verifiedCache {
	if n <= 0 {
		return nil
	}
	sets := (n + 1) / 2
	return &verifiedCache{
		seed:  maphash.MakeSeed(),
		sets:  uint64(sets),
		slots: make([]atomic.Pointer[verifiedEntry], 2*sets),
	}
}

func (v *verifiedCache) bucket(token string) uint64 {
	return maphash.String(v.seed, token) % v.sets * 2
}

// get returns the entry for token if it is there and its key set is unchanged.
func (v *verifiedCache) get(token string) *verifiedEntry {
	return v.getAt(v.bucket(token), token)
}

// getAt is get for the token whose bucket is i. Verify hashes a token once (a ~1 KB
// token takes about 0.3 µs to hash) and gives the bucket to getAt and, after a miss, to
// putAt.
func (v *verifiedCache) getAt(i uint64, token string) *verifiedEntry {
	for j := i; j < i+2; j++ {
		if e := v.slots[j].Load(); e != nil && e.token == token {
			if e.alive() {
				return e
			}
			return nil
		}
	}
	return nil
}

// put remembers a verified token: in its set's slot holding the same token or a dead entry
// if there is one, else in one of the two at random.
func (v *verifiedCache) put(e *verifiedEntry) {
	v.putAt(v.bucket(e.token), e)
}

// putAt is put for an entry whose token's bucket is i.
func (v *verifiedCache) putAt(i uint64, e *verifiedEntry) {
	for j := i; j < i+2; j++ {
		old := v.slots[j].Load()
		if old == nil || old.token == e.token || !old.alive() {
			v.slots[j].Store(e)
			return
		}
	}
	v.slots[i+rand.Uint64N(2)].Store(e)
}

func (e *verifiedEntry) alive() bool {
	s := e.keys.set.Load()
	return s != nil && s.gen == e.gen
}

// purge drops the entries verified with keys' earlier key sets, so their claims are not
// kept in memory after a key change.
func (v *verifiedCache) purge(keys *jwksCache) {
	for i := range v.slots {
		if e := v.slots[i].Load(); e != nil && e.keys == keys && !e.alive() {
			v.slots[i].CompareAndSwap(e, nil)
		}
	}
}
