package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/asn1"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"hash"
	"math/big"

	_ "crypto/sha512" // SHA-384 and SHA-512 for RS384/RS512/PS384/PS512/HS384/HS512
)

// Every key and every random-looking value of the corpus comes from the seed, so that
// the corpus is the same bytes on every run. Go 1.26's crypto ignores caller-supplied
// randomness (rsa.GenerateKey, rsa.SignPSS), so the keys are generated here from a
// deterministic stream, and PSS signatures are encoded here with a salt from it. The keys
// are test keys derived from a public seed: they protect nothing.

// stream is SHA-256 in counter mode over a label: a deterministic byte source.
type stream struct {
	label string
	n     uint64
	buf   []byte
}

func newStream(seed, label string) *stream { return &stream{label: seed + "\x00" + label} }

func (s *stream) Read(p []byte) (int, error) {
	for i := range p {
		if len(s.buf) == 0 {
			var ctr [8]byte
			binary.BigEndian.PutUint64(ctr[:], s.n)
			s.n++
			sum := sha256.Sum256(append([]byte(s.label), ctr[:]...))
			s.buf = sum[:]
		}
		p[i], s.buf = s.buf[0], s.buf[1:]
	}
	return len(p), nil
}

func (s *stream) bytes(n int) []byte {
	b := make([]byte, n)
	_, _ = s.Read(b)
	return b
}

// prime returns a prime of exactly bits bits whose two top bits are set, so that the
// product of two is exactly 2·bits long.
func prime(r *stream, bits int) *big.Int {
	for {
		b := r.bytes(bits / 8)
		b[0] |= 0xC0
		b[len(b)-1] |= 1
		p := new(big.Int).SetBytes(b)
		if p.ProbablyPrime(20) {
			return p
		}
	}
}

// rsaKey derives an RSA key of bits bits (e = 65537) from the seed and label.
func rsaKey(seed, label string, bits int) *rsa.PrivateKey {
	r := newStream(seed, "rsa/"+label)
	e := big.NewInt(65537)
	one := big.NewInt(1)
	for {
		p, q := prime(r, bits/2), prime(r, bits/2)
		if p.Cmp(q) == 0 {
			continue
		}
		n := new(big.Int).Mul(p, q)
		phi := new(big.Int).Mul(new(big.Int).Sub(p, one), new(big.Int).Sub(q, one))
		d := new(big.Int).ModInverse(e, phi)
		if n.BitLen() != bits || d == nil {
			continue
		}
		k := &rsa.PrivateKey{PublicKey: rsa.PublicKey{N: n, E: 65537}, D: d, Primes: []*big.Int{p, q}}
		k.Precompute()
		if err := k.Validate(); err != nil {
			continue
		}
		return k
	}
}

// ecKey derives a P-256 key from the seed and label.
func ecKey(seed, label string) *ecdsa.PrivateKey {
	r := newStream(seed, "ec/"+label)
	for {
		k, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), r.bytes(32))
		if err == nil {
			return k
		}
	}
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// signer signs a JWS signing input.
type signer func(input []byte) []byte

func hashOf(h crypto.Hash, input []byte) []byte {
	w := h.New()
	w.Write(input)
	return w.Sum(nil)
}

// rs is RSASSA-PKCS1-v1_5, deterministic by construction.
func rs(k *rsa.PrivateKey, h crypto.Hash) signer {
	return func(input []byte) []byte {
		sig, err := rsa.SignPKCS1v15(nil, k, h, hashOf(h, input))
		if err != nil {
			panic(err)
		}
		return sig
	}
}

// ps is RSASSA-PSS (RFC 8017 §8.1) with a salt of the hash's length (RFC 7518 §3.5) taken
// from the seed, checked with rsa.VerifyPSS.
func ps(k *rsa.PrivateKey, h crypto.Hash, salt *stream) signer {
	return func(input []byte) []byte {
		mHash := hashOf(h, input)
		hLen := h.Size()
		s := salt.bytes(hLen)
		emBits := k.N.BitLen() - 1
		emLen := (emBits + 7) / 8
		w := h.New()
		w.Write(make([]byte, 8))
		w.Write(mHash)
		w.Write(s)
		H := w.Sum(nil)
		db := make([]byte, emLen-hLen-1)
		db[len(db)-hLen-1] = 0x01
		copy(db[len(db)-hLen:], s)
		mask := mgf1(h.New, H, len(db))
		for i := range db {
			db[i] ^= mask[i]
		}
		db[0] &= 0xFF >> (8*emLen - emBits)
		em := append(append(db, H...), 0xbc)
		sig := new(big.Int).Exp(new(big.Int).SetBytes(em), k.D, k.N).FillBytes(make([]byte, k.Size()))
		if err := rsa.VerifyPSS(&k.PublicKey, h, mHash, sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}); err != nil {
			panic(fmt.Sprintf("PSS encoding does not verify: %v", err))
		}
		return sig
	}
}

func mgf1(newHash func() hash.Hash, seed []byte, n int) []byte {
	var out []byte
	for c := uint32(0); len(out) < n; c++ {
		w := newHash()
		w.Write(seed)
		w.Write(binary.BigEndian.AppendUint32(nil, c))
		out = w.Sum(out)
	}
	return out[:n]
}

// es256 is ECDSA P-256 with SHA-256, deterministic (RFC 6979), in the JWS form r || s.
func es256(k *ecdsa.PrivateKey) signer {
	return func(input []byte) []byte {
		der, err := k.Sign(nil, hashOf(crypto.SHA256, input), crypto.SHA256)
		if err != nil {
			panic(err)
		}
		var rs struct{ R, S *big.Int }
		if _, err := asn1.Unmarshal(der, &rs); err != nil {
			panic(err)
		}
		out := make([]byte, 64)
		rs.R.FillBytes(out[:32])
		rs.S.FillBytes(out[32:])
		return out
	}
}

// hs is HMAC with secret as the key: the key-confusion attack uses the RSA public key.
func hs(secret []byte, h func() hash.Hash) signer {
	return func(input []byte) []byte {
		m := hmac.New(h, secret)
		m.Write(input)
		return m.Sum(nil)
	}
}

// rsaJWK is the public JWK of k with the members given (kid, alg, use) in a fixed order.
func rsaJWK(pub *rsa.PublicKey, members ...kv) obj {
	o := obj{{"kty", "RSA"}}
	o = append(o, members...)
	return append(o, kv{"n", b64(pub.N.Bytes())}, kv{"e", b64(big.NewInt(int64(pub.E)).Bytes())})
}

func ecJWK(k *ecdsa.PrivateKey, members ...kv) obj {
	pt, err := k.PublicKey.Bytes()
	if err != nil {
		panic(err)
	}
	o := obj{{"kty", "EC"}, {"crv", "P-256"}}
	o = append(o, members...)
	return append(o, kv{"x", b64(pt[1:33])}, kv{"y", b64(pt[33:])})
}

// sha256Hash and friends name the HMAC hashes.
var (
	sha256Hash = sha256.New
	sha384Hash = crypto.SHA384.New
	sha512Hash = crypto.SHA512.New
)
