package cognito

import (
	"bytes"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"sync"
	"testing"
	"time"
)

// sha256DigestInfo is the DER prefix of a SHA-256 DigestInfo (RFC 8017, section 9.2).
var sha256DigestInfo = []byte{0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20}

// pkcs1v15Encoding is EMSA-PKCS1-v1_5 of the SHA-256 of input for a k-byte modulus.
func pkcs1v15Encoding(input []byte, k int) []byte {
	digest := sha256.Sum256(input)
	t := append(bytes.Clone(sha256DigestInfo), digest[:]...)
	em := make([]byte, k)
	em[1] = 1
	for i := 2; i < k-len(t)-1; i++ {
		em[i] = 0xff
	}
	copy(em[k-len(t):], t)
	return em
}

// referenceRS256 is RSASSA-PKCS1-v1_5 verification with SHA-256 written from RFC 8017
// with math/big alone: what verifyRS256 must answer, for any key parseJWKS keeps,
// whichever crypto/rsa backend the binary was built with (Go's own, or BoringSSL's under
// GOEXPERIMENT=boringcrypto).
func referenceRS256(pub *rsa.PublicKey, input, sig []byte) bool {
	k := (pub.N.BitLen() + 7) / 8
	if len(sig) != k {
		return false
	}
	s := new(big.Int).SetBytes(sig)
	if s.Cmp(pub.N) >= 0 {
		return false
	}
	m := new(big.Int).Exp(s, big.NewInt(int64(pub.E)), pub.N)
	return bytes.Equal(m.FillBytes(make([]byte, k)), pkcs1v15Encoding(input, k))
}

// referenceSign signs input with key's primes and the public exponent e, with math/big:
// keys with an exponent crypto/rsa would not generate.
func referenceSign(key *rsa.PrivateKey, e int, input []byte) (*rsa.PublicKey, []byte, bool) {
	one := big.NewInt(1)
	p1 := new(big.Int).Sub(key.Primes[0], one)
	q1 := new(big.Int).Sub(key.Primes[1], one)
	lambda := new(big.Int).Div(new(big.Int).Mul(p1, q1), new(big.Int).GCD(nil, nil, p1, q1))
	d := new(big.Int).ModInverse(big.NewInt(int64(e)), lambda)
	if d == nil {
		return nil, nil, false
	}
	k := key.Size()
	em := new(big.Int).SetBytes(pkcs1v15Encoding(input, k))
	sig := new(big.Int).Exp(em, d, key.N).FillBytes(make([]byte, k))
	return &rsa.PublicKey{N: key.N, E: e}, sig, true
}

// rs256Keys are the keys FuzzRS256 verifies with: an RSA-2048 key with the usual
// exponent and the same modulus with other exponents, each with a signature made for it,
// as far as parseJWKS keeps them (it refuses exponents above 2^31-1, where Go's
// crypto/rsa and BoringSSL disagree: TestLargeExponentKeyRefused).
var rs256Keys = sync.OnceValue(func() (keys []rs256Key) {
	key := spareKey()
	for _, e := range []int{65537, 3, 5, 17, 257, 1<<31 - 1, 4294967311} {
		pub, sig, ok := referenceSign(key, e, []byte("seed"))
		if !ok {
			continue
		}
		var set struct{ Keys []any }
		set.Keys = append(set.Keys, rsaJWK("k", pub, nil))
		body, err := json.Marshal(set)
		if err != nil {
			panic(err)
		}
		if parsed, err := parseJWKS(body, discardLogger(), "test"); err == nil && parsed.keys["k"] != nil {
			keys = append(keys, rs256Key{parsed.keys["k"], sig})
		}
	}
	return keys
})

type rs256Key struct {
	pub *rsa.PublicKey
	sig []byte // of "seed"
}

// FuzzRS256 is a differential fuzz target: for any signing input, signature and key,
// verifyRS256 (crypto/rsa) answers as referenceRS256 (math/big) does. Run in the default
// build and under GOEXPERIMENT=boringcrypto (make test-boring), it shows that both
// builds accept exactly the same signatures.
func FuzzRS256(f *testing.F) {
	keys := rs256Keys()
	for i, k := range keys {
		f.Add(uint8(i), []byte("seed"), k.sig)
		f.Add(uint8(i), []byte("seeds"), k.sig)
		f.Add(uint8(i), []byte("seed"), k.sig[1:])
		f.Add(uint8(i), []byte("seed"), append(bytes.Clone(k.sig), 0))
		f.Add(uint8(i), []byte("seed"), append([]byte{0}, k.sig[1:]...))
		f.Add(uint8(i), []byte("seed"), k.pub.N.Bytes())
		f.Add(uint8(i), []byte("seed"), new(big.Int).Sub(k.pub.N, big.NewInt(1)).Bytes())
		f.Add(uint8(i), []byte("seed"), make([]byte, len(k.sig)))
	}
	f.Fuzz(func(t *testing.T, which uint8, input, sig []byte) {
		k := keys[int(which)%len(keys)]
		got, want := verifyRS256(k.pub, input, sig), referenceRS256(k.pub, input, sig)
		if got != want {
			t.Fatalf("e=%d, input %q, signature %x: verifyRS256 says %t, the reference %t", k.pub.E, input, sig, got, want)
		}
	})
}

// TestRS256Reference: the reference accepts the signatures made for the keys and refuses
// others, so that FuzzRS256 compares against a reference that can say yes.
func TestRS256Reference(t *testing.T) {
	if n := len(rs256Keys()); n < 3 {
		t.Fatalf("%d keys to fuzz with, want at least 3", n)
	}
	for _, k := range rs256Keys() {
		if !referenceRS256(k.pub, []byte("seed"), k.sig) {
			t.Errorf("e=%d: the reference refuses its own signature", k.pub.E)
		}
		if referenceRS256(k.pub, []byte("seeds"), k.sig) {
			t.Errorf("e=%d: the reference accepts a signature for another input", k.pub.E)
		}
	}
}

// TestLargeExponentKeyRefused: a JWKS key whose exponent is above 2^31-1 is refused, so a
// token it signed gets ErrAlgorithmNotAllowed in the default build and under BoringCrypto
// alike (BoringSSL alone would accept the signature, Go's crypto/rsa would not).
func TestLargeExponentKeyRefused(t *testing.T) {
	const e = 4294967311 // 2^32 + 15: 33 bits, coprime with most moduli' λ
	iss := "http://127.0.0.1:9/" + poolID
	input := encodeJSON(t, map[string]any{"alg": "RS256", "kid": "big-e"}) + "." + encodeJSON(t, map[string]any{
		"iss": iss, "sub": "s", "token_use": "access", "client_id": "c", "exp": time.Now().Add(time.Hour).Unix()})
	pub, sig, ok := referenceSign(spareKey(), e, []byte(input))
	if !ok {
		t.Skip("the spare key's λ shares a factor with the exponent")
	}
	jwks := jwksJSON(t, rsaJWK("ok", &spareKey().PublicKey, nil), rsaJWK("big-e", pub, nil))
	z, err := NewJWTAuthorizer(JWTAuthorizerConfig{UserPoolID: poolID, AllowAnyClient: true},
		WithEndpoint("http://127.0.0.1:9"), WithJWKS(jwks))
	if err != nil {
		t.Fatal(err)
	}
	_, err = z.Verify(t.Context(), input+"."+base64.RawURLEncoding.EncodeToString(sig))
	wantReason(t, err, ErrAlgorithmNotAllowed)
}
