package bench

import "crypto/fips140"

// CryptoBuild names the crypto/rsa this binary runs, as a suffix for cognitokit's and
// crypto/rsa's benchmark names: "" for Go's own, "+boringcrypto" when built with
// GOEXPERIMENT=boringcrypto (BoringSSL's code), "+fips140" in Go's FIPS 140-3 mode
// (GODEBUG=fips140=on). bench/peers.sh runs the benchmarks in all three; the report names
// the rows "cognitokit (BoringCrypto)" and "cognitokit (GODEBUG=fips140=on)".
func CryptoBuild() string {
	switch {
	case boringCrypto:
		return "+boringcrypto"
	case fips140.Enabled():
		return "+fips140"
	}
	return ""
}
