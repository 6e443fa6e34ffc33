package forwardauth_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/cognitokit/cognitokit/internal/forwardauth"
	"github.com/cognitokit/cognitokit/internal/forwardauth/extauthz"
	"github.com/cognitokit/cognitokit/pkg/cognito"
	"github.com/cognitokit/cognitokit/pkg/policy"
)

// endpointRequest is the request proxy proto sends to ask about method target host as
// caller c; ok is false when the proxy cannot describe that request.
func endpointRequest(proto string, method, target, host string, c caller) (raw string, ok bool) {
	auth := authHeaders(c)
	switch proto {
	case "nginx":
		return rawRequest("GET", forwardauth.NginxPath, "auth.internal",
			append([]string{"X-Original-Method", method, "X-Original-URI", target, "X-Forwarded-Host", host}, auth...)...), true
	case "nginx-url":
		if !strings.HasPrefix(target, "/") {
			return "", false
		}
		return rawRequest("GET", forwardauth.NginxPath, "auth.internal",
			append([]string{"X-Original-Method", method, "X-Original-URL", "https://" + host + target}, auth...)...), true
	case "forward":
		return rawRequest("GET", forwardauth.ForwardPath, host,
			append([]string{"X-Forwarded-Method", method, "X-Forwarded-Uri", target, "X-Forwarded-Proto", "https"}, auth...)...), true
	case "envoy":
		if !strings.HasPrefix(target, "/") {
			return "", false
		}
		return rawRequest(method, "/auth/envoy"+target, host, auth...), true
	}
	panic(proto)
}

var protocols = []string{"nginx", "nginx-url", "forward", "envoy"}

// TestParityWithMiddleware: for every policy, route, method, host and caller, every
// endpoint answers what the Go middleware answers the same request: status (200 for
// every allowed request), WWW-Authenticate, Retry-After, Content-Type and the problem
// body byte for byte; and an allowed request carries the identity of the claims the
// middleware put in its context.
func TestParityWithMiddleware(t *testing.T) {
	f := newFixture(t)
	for name, p := range policies(t) {
		t.Run(name, func(t *testing.T) {
			d := newDecider(t, forwardauth.Static(p), f.authz)
			h := d.Handler(http.NotFoundHandler())
			grpcSrv := extauthz.New(d, extauthz.Options{})
			n, statuses := 0, map[int]int{}
			for _, target := range targets(p) {
				for _, method := range methods {
					for _, host := range hosts {
						for _, c := range f.callers {
							want, ok := readRequest(t, rawRequest(method, target, host, authHeaders(c)...), "203.0.113.9:4000")
							if !ok {
								t.Fatalf("test request %s %s is not one a server accepts", method, target)
							}
							ref, claims := reference(p, f.authz, want)
							if strings.HasPrefix(target, "/") {
								got := checkGRPC(t, grpcSrv, method, target, host, c.auth)
								n++
								statuses[got.Code]++
								if msg := compare(ref, claims, got); msg != "" {
									t.Errorf("%s %s %s as %s through gRPC Check: %s", method, host, target, c.name, msg)
								}
							}
							for _, proto := range protocols {
								raw, ok := endpointRequest(proto, method, target, host, c)
								if !ok {
									continue
								}
								r, ok := readRequest(t, raw, "127.0.0.1:4000")
								if !ok {
									t.Fatalf("%s: endpoint request refused by the parser:\n%s", proto, raw)
								}
								got := httptest.NewRecorder()
								h.ServeHTTP(got, r)
								n++
								statuses[got.Code]++
								if msg := compare(ref, claims, got); msg != "" {
									t.Errorf("%s %s %s as %s through %s: %s", method, host, target, c.name, proto, msg)
								}
							}
						}
					}
				}
			}
			t.Logf("%d requests compared; statuses %v", n, statuses)
			if statuses[200] == 0 || statuses[401] == 0 || statuses[403] == 0 {
				t.Errorf("statuses %v: the request set must reach allowed, unauthenticated and forbidden answers", statuses)
			}
		})
	}
}

// compare returns what differs between the middleware's answer and the endpoint's.
func compare(ref *httptest.ResponseRecorder, claims *cognito.Claims, got *httptest.ResponseRecorder) string {
	if ref.Code == http.StatusOK {
		if got.Code != http.StatusOK {
			return fmt.Sprintf("status %d (%s); the middleware allows", got.Code, got.Body)
		}
		want := http.Header{}
		if claims != nil {
			want = expectedIdentity(claims)
		}
		for _, h := range forwardauth.DefaultHeaders() {
			if g, w := got.Header().Values(h.Name), want.Values(h.Name); !slices.Equal(g, w) {
				return fmt.Sprintf("%s = %q; want %q", h.Name, g, w)
			}
		}
		return ""
	}
	if got.Code != ref.Code {
		return fmt.Sprintf("status %d; the middleware answers %d (%s)", got.Code, ref.Code, ref.Body)
	}
	for _, h := range []string{"WWW-Authenticate", "Retry-After", "Content-Type", "Cache-Control"} {
		if g, w := got.Header().Values(h), ref.Header().Values(h); !slices.Equal(g, w) {
			return fmt.Sprintf("%s = %q; the middleware sends %q", h, g, w)
		}
	}
	if got.Body.String() != ref.Body.String() {
		return fmt.Sprintf("body %s; the middleware's is %s", got.Body, ref.Body)
	}
	for _, h := range forwardauth.DefaultHeaders() {
		if v := got.Header().Get(h.Name); v != "" {
			return fmt.Sprintf("a denial carries %s", h.Name)
		}
	}
	return ""
}

// expectedIdentity is the default identity headers for c, written out independently of
// the package.
func expectedIdentity(c *cognito.Claims) http.Header {
	h := http.Header{}
	set := func(name, v string) {
		if v != "" {
			h.Set(name, v)
		}
	}
	set("X-Auth-Request-User", c.Sub)
	set("X-Auth-Request-Email", c.Email)
	set("X-Auth-Request-Username", c.Username)
	set("X-Auth-Request-Groups", strings.Join(c.Groups, ","))
	set("X-Auth-Request-Scopes", strings.Join(c.Scopes, " "))
	set("X-Auth-Request-Client-Id", c.ClientID)
	set("X-Auth-Request-Token-Use", string(c.TokenUse))
	set("X-Auth-Request-Pool", c.Issuer[strings.LastIndex(c.Issuer, "/")+1:])
	return h
}

// unavailable is a verifier whose keys are out of reach.
type unavailable struct{}

func (unavailable) Verify(context.Context, string) (*cognito.Claims, error) {
	return nil, fmt.Errorf("%w: test", cognito.ErrJWKSUnavailable)
}

// TestParityKeysUnavailable: when the keys cannot be had, every endpoint answers the
// middleware's 503 with Retry-After, never a 401 that would make the client drop a good
// token.
func TestParityKeysUnavailable(t *testing.T) {
	f := newFixture(t)
	p := policies(t)["pkg/policy/testdata/routes.yaml"]
	d := newDecider(t, forwardauth.Static(p), unavailable{})
	h := d.Handler(http.NotFoundHandler())
	grpcSrv := extauthz.New(d, extauthz.Options{})
	c := f.callers[3] // orders-admin
	saw503 := false
	for _, target := range targets(p) {
		want, _ := readRequest(t, rawRequest("GET", target, "example.com", authHeaders(c)...), "203.0.113.9:4000")
		ref, claims := reference(p, unavailable{}, want)
		saw503 = saw503 || ref.Code == http.StatusServiceUnavailable
		if strings.HasPrefix(target, "/") {
			if msg := compare(ref, claims, checkGRPC(t, grpcSrv, "GET", target, "example.com", c.auth)); msg != "" {
				t.Errorf("GET %s through gRPC Check: %s", target, msg)
			}
		}
		for _, proto := range protocols {
			raw, ok := endpointRequest(proto, "GET", target, "example.com", c)
			if !ok {
				continue
			}
			r, _ := readRequest(t, raw, "127.0.0.1:4000")
			got := httptest.NewRecorder()
			h.ServeHTTP(got, r)
			if msg := compare(ref, claims, got); msg != "" {
				t.Errorf("GET %s through %s: %s", target, proto, msg)
			}
			if got.Code == http.StatusServiceUnavailable && got.Header().Get("Retry-After") == "" {
				t.Errorf("GET %s through %s: 503 without Retry-After", target, proto)
			}
		}
	}
	if !saw503 {
		t.Fatal("no request reached the verifier")
	}
}

// TestDecideOutcome: Decide reports the middleware's denial and the claims it verified.
func TestDecideOutcome(t *testing.T) {
	f := newFixture(t)
	p := policies(t)["pkg/policy/testdata/routes.yaml"]
	d := newDecider(t, forwardauth.Static(p), f.authz)
	reader := f.callers[1]
	r, _ := readRequest(t, rawRequest("POST", "/orders", "example.com", authHeaders(reader)...), "127.0.0.1:1")
	o := d.Decide(r)
	if o.Allow || o.Status != 403 || o.Denial.Code != policy.ReasonInsufficientScope || o.Denial.Route != "POST /orders" ||
		!strings.Contains(o.Header.Get("WWW-Authenticate"), `scope="orders/write"`) {
		t.Errorf("outcome = %+v", o)
	}
	r, _ = readRequest(t, rawRequest("GET", "/orders/7", "example.com", authHeaders(reader)...), "127.0.0.1:1")
	if o = d.Decide(r); !o.Allow || o.Claims == nil || o.Header.Get("X-Auth-Request-Client-Id") != "1reader0orders0client00001" {
		t.Errorf("outcome = %+v", o)
	}
	r, _ = readRequest(t, rawRequest("GET", "/healthz", "example.com", authHeaders(reader)...), "127.0.0.1:1")
	if o = d.Decide(r); !o.Allow || o.Claims != nil || len(o.Header) != 0 {
		t.Errorf("public route: outcome = %+v; want allowed with no identity", o)
	}
}
