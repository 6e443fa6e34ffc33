//go:build goexperiment.boringcrypto

package corpus_test

import (
	"crypto/boring"
	"testing"
)

// TestBoringCryptoEnabled: in a GOEXPERIMENT=boringcrypto build, crypto/rsa really runs
// BoringSSL's code, so the corpus's outcomes checked beside it are BoringSSL's. make
// test-boring fails when this test did not run.
func TestBoringCryptoEnabled(t *testing.T) {
	if !boring.Enabled() {
		t.Fatal("built with GOEXPERIMENT=boringcrypto, but crypto/boring.Enabled() is false")
	}
	t.Log("crypto/boring.Enabled() = true: crypto/rsa is BoringSSL's")
}
