package cognito

import (
	"hash/maphash"
	"math/rand/v2"
	"sync/atomic"
)

// verifiedCache remembers tokens whose signature and claims were verified, so a token seen
// again costs a hash and a few comparisons instead of an RSA verification. It is a fixed
// array of two-slot sets, and a token may live in either of two sets that its hash picks
// ("two choices"): bounded, O(1), lock-free. An insert takes a free or dead slot of either
// set, else evicts one of the four entries at random. With a single set per token, a
// cache given as many distinct tokens as it has slots would keep only about three in four
// of them, the rest lost to sets that happen to be full; with two choices, about nine in
// ten: more hits for the memory, and less of it held by evicted entries' garbage.
//
// An entry does not keep the token (most of what an entry would weigh): it keeps the
// token's maphash with a per-authorizer seed, its length and its last tailSize bytes, and
// a lookup must match all three. The tail is the end of the token's RSA signature, about
// 260 bits that cannot be guessed, so matching an entry needs the signature of the token
// it was made for, which is to say that token. What a match returns is that token's
// verified claims: a string that differs from the token yet matches it (a maphash
// collision, which with a secret seed must be found blind, one Verify at a time) gets no
// more than its presenter could have had by presenting the token itself. The
// alternatives cost more on every hit: comparing the whole token means keeping it, and a
// cryptographic hash of it (SHA-256) takes several times a hit's whole budget.
//
// Each entry remembers the key set it was verified with and its generation: once that
// issuer's keys change, the entry is dead.
type verifiedCache struct {
	seed  maphash.Seed
	sets  uint64
	slots []atomic.Pointer[verifiedEntry]
}

// tailSize is how many bytes of the end of a token an entry keeps: 44 base64url
// characters of an RSA signature carry 260 bits of it.
const tailSize = 44

type verifiedEntry struct {
	hash   uint64 // maphash of the whole token
	size   int32  // length of the token
	tail   [tailSize]byte
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

// bucket returns the token's hash, from which getAt and putAt pick its sets. Verify hashes
// a token once and gives the hash to getAt and, after a miss, to putAt.
func (v *verifiedCache) bucket(token string) uint64 {
	return maphash.String(v.seed, token)
}

// get returns the entry for token if it is there and its key set is unchanged.
func (v *verifiedCache) get(token string) *verifiedEntry {
	return v.getAt(v.bucket(token), token)
}

// getAt is get for the token whose hash is h.
func (v *verifiedCache) getAt(h uint64, token string) *verifiedEntry {
	a, b := v.sets2(h)
	for _, j := range [4]uint64{a, a + 1, b, b + 1} {
		if e := v.slots[j].Load(); e != nil && e.is(h, token) {
			if e.alive() {
				return e
			}
			return nil
		}
	}
	return nil
}

// sets2 returns the first slots of the two sets of the token whose hash is h: one from
// its low half, one from its high half.
func (v *verifiedCache) sets2(h uint64) (a, b uint64) {
	return uint64(uint32(h)) % v.sets * 2, h >> 32 % v.sets * 2
}

// put remembers a verified token's entry (its claims, keys and generation set).
func (v *verifiedCache) put(token string, e *verifiedEntry) {
	v.putAt(v.bucket(token), token, e)
}

// putAt is put for the token whose hash is h: it records the token's identity in e, then
// stores e in the slot of its two sets holding the same token if there is one, else in an
// empty slot or one holding a dead entry, else in one of the four at random.
func (v *verifiedCache) putAt(h uint64, token string, e *verifiedEntry) {
	e.hash, e.size = h, int32(len(token))
	copy(e.tail[:], token[len(token)-min(len(token), tailSize):])
	a, b := v.sets2(h)
	slots := [4]uint64{a, a + 1, b, b + 1}
	free := -1
	for k, j := range slots {
		old := v.slots[j].Load()
		if old != nil && old.is(h, token) {
			v.slots[j].Store(e)
			return
		}
		if free < 0 && (old == nil || !old.alive()) {
			free = k
		}
	}
	if free < 0 {
		free = rand.IntN(len(slots))
	}
	v.slots[slots[free]].Store(e)
}

// is reports whether e was made for token, whose hash is h.
func (e *verifiedEntry) is(h uint64, token string) bool {
	n := len(token)
	return e.hash == h && int(e.size) == n && string(e.tail[:min(n, tailSize)]) == token[n-min(n, tailSize):]
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
