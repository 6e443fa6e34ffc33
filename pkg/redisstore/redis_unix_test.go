//go:build unix

package redisstore_test

import (
	"syscall"
	"testing"
)

// freeze stops the server process without closing its sockets: connections are accepted
// by the kernel and commands get no answer, as with a Redis that hangs. The returned
// function resumes it; it also runs when the test ends.
func (r *redisServer) freeze(tb testing.TB) (thaw func()) {
	tb.Helper()
	r.mu.Lock()
	p := r.cmd.Process
	r.mu.Unlock()
	if err := p.Signal(syscall.SIGSTOP); err != nil {
		tb.Fatal(err)
	}
	thaw = func() { _ = p.Signal(syscall.SIGCONT) }
	tb.Cleanup(thaw)
	return thaw
}
