package cognitotest

import (
	"net/http/httptest"
	"testing"
)

// Start serves a local Cognito for cfg on 127.0.0.1 with a free port for the duration of
// the test, and stops it in tb's cleanup. It fails the test if cfg is invalid.
func Start(tb testing.TB, cfg Config) *Server {
	tb.Helper()
	hs := httptest.NewUnstartedServer(nil)
	s, err := New("http://"+hs.Listener.Addr().String(), cfg)
	if err != nil {
		hs.Close()
		tb.Fatalf("cognitotest.Start: %v", err)
	}
	hs.Config.Handler = s
	hs.Start()
	tb.Cleanup(hs.Close)
	return s
}
