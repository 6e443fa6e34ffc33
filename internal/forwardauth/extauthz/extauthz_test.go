package extauthz_test

import (
	"context"
	"net"
	"net/netip"
	"os/exec"
	"slices"
	"strings"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/cognitokit/cognitokit/internal/forwardauth"
	"github.com/cognitokit/cognitokit/internal/forwardauth/extauthz"
	"github.com/cognitokit/cognitokit/pkg/cognito"
	"github.com/cognitokit/cognitokit/pkg/cognitotest"
	"github.com/cognitokit/cognitokit/pkg/policy"
)

// serve runs the Authorization service on a loopback port and returns a client of it.
func serve(t *testing.T, trusted []netip.Prefix, opts extauthz.Options) (authv3.AuthorizationClient, *cognitotest.Server) {
	t.Helper()
	idp := cognitotest.Start(t, cognitotest.DefaultConfig())
	authz, err := cognito.NewJWTAuthorizer(cognito.JWTAuthorizerConfig{
		UserPoolID: idp.Pools()[0].ID, AllowAnyClient: true, TokenUse: cognito.TokenUseAny,
	}, cognito.WithEndpoint(idp.BaseURL()))
	if err != nil {
		t.Fatal(err)
	}
	p, err := policy.Load("../../../examples/orders/routes.yaml")
	if err != nil {
		t.Fatal(err)
	}
	d, err := forwardauth.New(forwardauth.Config{Guard: forwardauth.Static(p), Verifier: authz, TrustedProxies: trusted, Realm: "orders"})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := grpc.NewServer()
	extauthz.New(d, opts).Register(g)
	go func() { _ = g.Serve(ln) }()
	t.Cleanup(g.Stop)
	conn, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return authv3.NewAuthorizationClient(conn), idp
}

func check(method, path string, headers map[string]string) *authv3.CheckRequest {
	return &authv3.CheckRequest{Attributes: &authv3.AttributeContext{Request: &authv3.AttributeContext_Request{
		Http: &authv3.AttributeContext_HttpRequest{Method: method, Path: path, Host: "orders.example.com", Headers: headers},
	}}}
}

// TestCheckOverGRPC: over a real gRPC connection, an allowed request gets the identity
// headers and, when configured, the Authorization header removed; a refusal gets the
// status, challenge and problem body; a request with no path is a 400.
func TestCheckOverGRPC(t *testing.T) {
	client, idp := serve(t, nil, extauthz.Options{RemoveAuthorization: true})
	tok, err := idp.MintAccessToken(cognitotest.TokenOptions{Client: "orders-reader"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	resp, err := client.Check(ctx, check("GET", "/orders/7?x=1", map[string]string{"authorization": "Bearer " + tok}))
	if err != nil {
		t.Fatal(err)
	}
	ok := resp.GetOkResponse()
	if ok == nil || !slices.Contains(ok.GetHeadersToRemove(), "authorization") || !slices.Contains(ok.GetHeadersToRemove(), "X-Auth-Request-Email") {
		t.Fatalf("allowed answer %v", resp)
	}
	if i := slices.IndexFunc(ok.GetHeaders(), func(h *corev3.HeaderValueOption) bool { return h.GetHeader().GetKey() == "X-Auth-Request-Client-Id" }); i < 0 ||
		ok.GetHeaders()[i].GetHeader().GetValue() != "1reader0orders0client00001" {
		t.Errorf("identity headers %v", ok.GetHeaders())
	}

	resp, err = client.Check(ctx, check("POST", "/orders", map[string]string{"authorization": "Bearer " + tok}))
	if err != nil {
		t.Fatal(err)
	}
	denied := resp.GetDeniedResponse()
	if denied == nil || denied.GetStatus().GetCode() != 403 || codes.Code(resp.GetStatus().GetCode()) != codes.PermissionDenied ||
		!slices.ContainsFunc(denied.GetHeaders(), func(h *corev3.HeaderValueOption) bool {
			return h.GetHeader().GetKey() == "Www-Authenticate" && h.GetHeader().GetValue() == `Bearer realm="orders", error="insufficient_scope", scope="orders/write"`
		}) || !json(denied.GetBody()) {
		t.Errorf("denied answer %v", resp)
	}

	resp, err = client.Check(ctx, check("GET", "", nil))
	if err != nil || resp.GetDeniedResponse().GetStatus().GetCode() != 400 {
		t.Errorf("no path: %v, %v", resp, err)
	}

	// Raw headers (encode_raw_headers): two Authorization lines are two headers, which
	// the middleware refuses.
	raw := check("GET", "/orders/7", nil)
	raw.Attributes.Request.Http.HeaderMap = &corev3.HeaderMap{Headers: []*corev3.HeaderValue{
		{Key: "authorization", RawValue: []byte("Bearer " + tok)}, {Key: "authorization", RawValue: []byte("Bearer " + tok)},
	}}
	if resp, err = client.Check(ctx, raw); err != nil || resp.GetDeniedResponse().GetStatus().GetCode() != 401 {
		t.Errorf("two raw Authorization headers: %v, %v", resp, err)
	}
	raw.Attributes.Request.Http.HeaderMap.Headers = raw.Attributes.Request.Http.HeaderMap.Headers[:1]
	if resp, err = client.Check(ctx, raw); err != nil || resp.GetOkResponse() == nil {
		t.Errorf("one raw Authorization header: %v, %v", resp, err)
	}
}

func json(body string) bool { return len(body) > 2 && body[0] == '{' }

// TestCheckFromUntrustedPeer: a peer that is not a trusted proxy gets PermissionDenied,
// whatever it asserts.
func TestCheckFromUntrustedPeer(t *testing.T) {
	client, _ := serve(t, []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}, extauthz.Options{})
	_, err := client.Check(context.Background(), check("GET", "/healthz", nil))
	if status.Code(err) != codes.PermissionDenied {
		t.Errorf("Check from an untrusted peer: %v; want PermissionDenied", err)
	}
}

// TestOnlyTheCommandImportsGRPC: gRPC and Envoy's protos are the cognitokit command's
// dependencies (through this package), never the SDK's or the decision core's.
func TestOnlyTheCommandImportsGRPC(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "../../../pkg/...", "..").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, "google.golang.org/grpc") || strings.HasPrefix(line, "github.com/envoyproxy/") {
			t.Errorf("the SDK's packages or internal/forwardauth depend on %s", line)
		}
	}
}
