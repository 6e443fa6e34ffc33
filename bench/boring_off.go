//go:build !goexperiment.boringcrypto

package bench

// boringCrypto is false: this build's crypto is Go's own.
const boringCrypto = false
