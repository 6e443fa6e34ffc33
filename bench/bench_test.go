package bench

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// BenchmarkVerify runs every library over the shared corpus:
//
//   - corpus=distinct: each token once per verifier instance (a verifier that remembers
//     tokens gets a fresh instance for each pass over the 1,000 tokens): the cost of a
//     token never seen before.
//   - corpus=mix: the repeated-token mix, 10,000 requests over 50 tokens in a Zipf
//     sequence; a fresh verifier instance for each pass over the sequence, so a verifier
//     that remembers tokens pays its 50 first verifications in every pass.
//   - corpus=distinct-parallel and corpus=mix-parallel: the same from every core
//     (b.RunParallel); 1e9 / ns/op is the verifications per second of the process.
func BenchmarkVerify(b *testing.B) {
	c := testCorpus(b)
	mix := c.MixSequence()
	for _, lib := range Libraries() {
		b.Run("lib="+lib.Name, func(b *testing.B) {
			b.Run("corpus=distinct", func(b *testing.B) { benchSerial(b, lib, c.Distinct) })
			b.Run("corpus=mix", func(b *testing.B) { benchSerial(b, lib, mix) })
			b.Run("corpus=distinct-parallel", func(b *testing.B) { benchParallel(b, lib, c.Distinct) })
			b.Run("corpus=mix-parallel", func(b *testing.B) { benchParallel(b, lib, mix) })
		})
	}
}

// BenchmarkInterleaved sends each token through every Go library in turn, timing each
// call, and reports each library's ns/op: every library sees the same moment of machine
// load, so on a shared machine the comparison holds where separate benchmarks, seconds
// apart, may not. ns/op is the sum over the libraries.
func BenchmarkInterleaved(b *testing.B) {
	c := testCorpus(b)
	mix := c.MixSequence()
	for _, corpus := range []struct {
		name   string
		tokens []string
	}{{"distinct", c.Distinct}, {"mix", mix}} {
		b.Run("corpus="+corpus.name, func(b *testing.B) {
			libs := Libraries()
			ins := make([]*instances, len(libs))
			for j, lib := range libs {
				ins[j] = newInstances(b, lib, corpus.tokens)
			}
			spent := make([]time.Duration, len(libs))
			ctx := context.Background()
			b.ResetTimer()
			for i := range b.N {
				tok := corpus.tokens[i%len(corpus.tokens)]
				for j, in := range ins {
					t0 := time.Now()
					if err := in.get(i).Verify(ctx, tok); err != nil {
						b.Fatal(err)
					}
					spent[j] += time.Since(t0)
				}
			}
			for j, lib := range libs {
				b.ReportMetric(float64(spent[j])/float64(b.N), lib.Name+"-ns/op")
			}
		})
	}
}

// instances hands out the verifier for operation i over tokens: one instance for every
// pass over tokens for a library that remembers tokens, else one for the whole run. A new
// instance is built when the first operation of its pass asks for it, inside the timed
// loop (for cognitokit, parsing the JWKS once per 1,000 verifications: about 0.1 µs per
// operation, counted against it), and the previous one is dropped, so that no more than
// one pass of remembered tokens is alive, as in a service whose cache holds its traffic's
// tokens rather than every token of the benchmark.
type instances struct {
	b       *testing.B
	lib     Library
	tokens  int
	mu      sync.Mutex
	pass    atomic.Int64
	current atomic.Pointer[Verifier]
}

func newInstances(b *testing.B, lib Library, tokens []string) *instances {
	in := &instances{b: b, lib: lib, tokens: len(tokens)}
	v := newVerifier(b, lib, testCorpus(b))
	in.current.Store(&v)
	return in
}

func (in *instances) get(i int) Verifier {
	if !in.lib.RemembersTokens {
		return *in.current.Load()
	}
	pass := int64(i / in.tokens)
	if in.pass.Load() < pass {
		in.mu.Lock()
		if in.pass.Load() < pass {
			v, release, err := in.lib.New(testCorpus(in.b))
			if err != nil {
				in.mu.Unlock()
				in.b.Fatal(err)
			}
			in.b.Cleanup(release)
			in.current.Store(&v)
			in.pass.Store(pass)
		}
		in.mu.Unlock()
	}
	return *in.current.Load()
}

func benchSerial(b *testing.B, lib Library, tokens []string) {
	in := newInstances(b, lib, tokens)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	defer reportCPU(b)()
	for i := range b.N {
		if err := in.get(i).Verify(ctx, tokens[i%len(tokens)]); err != nil {
			b.Fatal(err)
		}
	}
}

func benchParallel(b *testing.B, lib Library, tokens []string) {
	in := newInstances(b, lib, tokens)
	ctx := context.Background()
	var next atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	defer reportCPU(b)()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := int(next.Add(1) - 1)
			if err := in.get(i).Verify(ctx, tokens[i%len(tokens)]); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// reportCPU starts counting the CPU time of the process (user and system, every thread,
// the garbage collector's included) and returns the function that reports it per
// iteration as cpu-ns/op. Unlike ns/op it barely moves with the load of other jobs on the
// machine, since time spent waiting for a core is not counted.
func reportCPU(b *testing.B) func() {
	start := cpuTime()
	return func() { b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op") }
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkRSA is the RSA part alone, SHA-256 of the signing input and
// rsa.VerifyPKCS1v15, over the distinct corpus: the floor of every Go library here. The
// Node runner measures the same with node:crypto (OpenSSL), to show how much of the
// difference with aws-jwt-verify is the RSA implementation.
func BenchmarkRSA(b *testing.B) {
	c := testCorpus(b)
	keys, err := rsaKeys(c.JWKS)
	if err != nil {
		b.Fatal(err)
	}
	type signed struct {
		input, sig []byte
		key        *rsa.PublicKey
	}
	var toks []signed
	for _, tok := range c.Distinct {
		h, _, _ := strings.Cut(tok, ".")
		hb, err := base64.RawURLEncoding.DecodeString(h)
		if err != nil {
			b.Fatal(err)
		}
		var hdr struct{ Kid string }
		if err := json.Unmarshal(hb, &hdr); err != nil {
			b.Fatal(err)
		}
		i := strings.LastIndexByte(tok, '.')
		sig, err := base64.RawURLEncoding.DecodeString(tok[i+1:])
		if err != nil {
			b.Fatal(err)
		}
		toks = append(toks, signed{input: []byte(tok[:i]), sig: sig, key: keys[hdr.Kid]})
	}
	b.Run("lib=go-crypto-rsa"+CryptoBuild()+"/corpus=distinct", func(b *testing.B) {
		b.ReportAllocs()
		defer reportCPU(b)()
		for i := range b.N {
			t := toks[i%len(toks)]
			digest := sha256.Sum256(t.input)
			if err := rsa.VerifyPKCS1v15(t.key, crypto.SHA256, digest[:], t.sig); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// rsaKeys reads the RSA keys of a JWKS by kid.
func rsaKeys(jwks []byte) (map[string]*rsa.PublicKey, error) {
	var set struct {
		Keys []struct{ Kid, N, E string }
	}
	if err := json.Unmarshal(jwks, &set); err != nil {
		return nil, err
	}
	keys := map[string]*rsa.PublicKey{}
	for _, k := range set.Keys {
		n, err1 := base64.RawURLEncoding.DecodeString(k.N)
		e, err2 := base64.RawURLEncoding.DecodeString(k.E)
		if err := errors.Join(err1, err2); err != nil {
			return nil, err
		}
		keys[k.Kid] = &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
	}
	return keys, nil
}
