//go:build goexperiment.boringcrypto

package bench

import "crypto/boring"

// boringCrypto is true in a GOEXPERIMENT=boringcrypto build whose crypto runs BoringSSL.
var boringCrypto = boring.Enabled()
