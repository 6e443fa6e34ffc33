package forwardauth_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"

	"github.com/cognitokit/cognitokit/internal/forwardauth"
	"github.com/cognitokit/cognitokit/internal/forwardauth/extauthz"
)

// checkGRPC asks srv, as Envoy's gRPC ext_authz filter on loopback would, and returns
// its answer as the HTTP answer Envoy makes of it: the status, the headers set (on the
// upstream request when allowed, on the client's answer when denied) and the body.
func checkGRPC(t testing.TB, srv *extauthz.Server, method, target, host string, auth []string) *httptest.ResponseRecorder {
	t.Helper()
	headers := map[string]string{}
	if len(auth) > 0 {
		headers["authorization"] = strings.Join(auth, ",") // Envoy merges repeated headers
	}
	ctx := peer.NewContext(context.Background(), &peer.Peer{Addr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}})
	resp, err := srv.Check(ctx, &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
			Method: method, Path: target, Host: host, Headers: headers,
		}},
	}})
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	rec := httptest.NewRecorder()
	set := func(hs []*corev3.HeaderValueOption) {
		for _, h := range hs {
			if h.GetAppendAction() != corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD {
				t.Errorf("header %s appended, not overwritten", h.GetHeader().GetKey())
			}
			rec.Header().Add(h.GetHeader().GetKey(), h.GetHeader().GetValue())
		}
	}
	if ok := resp.GetOkResponse(); ok != nil {
		if codes.Code(resp.GetStatus().GetCode()) != codes.OK {
			t.Errorf("allowed with gRPC status %d", resp.GetStatus().GetCode())
		}
		set(ok.GetHeaders())
		// Every identity header is either set or removed: a client's copy never passes.
		for _, h := range forwardauth.DefaultHeaders() {
			if (rec.Header().Get(h.Name) == "") != slices.Contains(ok.GetHeadersToRemove(), h.Name) {
				t.Errorf("%s neither set nor removed exactly once: %v", h.Name, ok.GetHeadersToRemove())
			}
		}
		if slices.Contains(ok.GetHeadersToRemove(), "authorization") {
			t.Error("Authorization removed without RemoveAuthorization")
		}
		rec.WriteHeader(http.StatusOK)
		return rec
	}
	denied := resp.GetDeniedResponse()
	if denied == nil {
		t.Fatalf("Check answered neither ok nor denied: %v", resp)
	}
	want := map[int]codes.Code{400: codes.InvalidArgument, 401: codes.Unauthenticated, 403: codes.PermissionDenied, 503: codes.Unavailable}
	if got := codes.Code(resp.GetStatus().GetCode()); got != want[int(denied.GetStatus().GetCode())] {
		t.Errorf("denied %d with gRPC status %v", denied.GetStatus().GetCode(), got)
	}
	set(denied.GetHeaders())
	rec.WriteHeader(int(denied.GetStatus().GetCode()))
	rec.WriteString(denied.GetBody())
	return rec
}
