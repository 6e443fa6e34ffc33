package forwardauth

import (
	"context"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
)

// Protocol is the way a proxy describes the request it asks about.
type Protocol uint8

// The protocols a Decider reads.
const (
	// NginxAuthRequest is nginx auth_request and ingress-nginx: the method in
	// X-Original-Method, the request target in X-Original-URI (or, when absent, the full
	// URL in X-Original-URL), the host in X-Forwarded-Host, else Host.
	NginxAuthRequest Protocol = iota + 1
	// ForwardAuth is Traefik forwardAuth, Caddy forward_auth and Oathkeeper-style
	// proxies: X-Forwarded-Method, X-Forwarded-Uri and X-Forwarded-Host, else Host.
	// X-Forwarded-Proto is not read: the scheme does not take part in route matching.
	ForwardAuth
	// EnvoyHTTP is Envoy's ext_authz HTTP service: the original request itself, its path
	// under the configured prefix, its method and Host as sent.
	EnvoyHTTP
)

// String returns the protocol's short name, as logs give it: "nginx", "forward" or
// "envoy".
func (p Protocol) String() string {
	switch p {
	case NginxAuthRequest:
		return "nginx"
	case ForwardAuth:
		return "forward"
	case EnvoyHTTP:
		return "envoy"
	}
	return "unknown"
}

// Limits on what a request may describe. A Go server's default header limit is 1 MB;
// a proxy's original request line is bounded far below that (nginx: 8 KB by default),
// so anything longer is not from a proxy doing its job.
const (
	MaxTargetLength = 8 << 10
	MaxHostLength   = 1 << 10
	MaxMethodLength = 64
)

// BadRequestError is a request a Decider cannot judge because it does not describe an
// original request: a required header missing or given twice, a method that is not an
// HTTP token, a target or host that a server would refuse. Its message names the header
// and what is wrong with it, never the value.
type BadRequestError struct {
	msg string
}

func (e *BadRequestError) Error() string { return "forwardauth: " + e.msg }

func badRequest(msg string) error { return &BadRequestError{msg: msg} }

// LoopbackProxies are the trusted proxies when none are configured.
var loopbackProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}

// Trusts reports whether the peer at remoteAddr ("ip:port", as net/http and gRPC's peer
// give it) is a trusted proxy.
func (d *Decider) Trusts(remoteAddr string) bool {
	ap, err := netip.ParseAddrPort(remoteAddr)
	if err != nil {
		return false
	}
	ip := ap.Addr().Unmap()
	for _, p := range d.trusted {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// Original rebuilds the request r describes under proto: the original method, target
// and host, with r's Authorization headers. From a peer that is not a trusted proxy, it
// is r's own request line and Host, whatever headers it sent. The result carries r's
// context. An error is a *BadRequestError.
func (d *Decider) Original(proto Protocol, r *http.Request) (*http.Request, error) {
	if !d.Trusts(r.RemoteAddr) {
		return OriginalRequest(r.Context(), r.Method, r.RequestURI, r.Host, r.Header["Authorization"])
	}
	switch proto {
	case NginxAuthRequest:
		method, err := single(r.Header, "X-Original-Method")
		if err != nil {
			return nil, err
		}
		target, err := optional(r.Header, "X-Original-URI")
		if err != nil {
			return nil, err
		}
		host, err := forwardedHost(r)
		if err != nil {
			return nil, err
		}
		if target == "" {
			// ingress-nginx sends $scheme://$host$request_uri; its host is the request's.
			full, err := single(r.Header, "X-Original-URL")
			if err != nil {
				return nil, badRequest("X-Original-URI or X-Original-URL is required")
			}
			if target, host, err = splitURL(full); err != nil {
				return nil, err
			}
		}
		return OriginalRequest(r.Context(), method, target, host, r.Header["Authorization"])
	case ForwardAuth:
		method, err := single(r.Header, "X-Forwarded-Method")
		if err != nil {
			return nil, err
		}
		target, err := single(r.Header, "X-Forwarded-Uri")
		if err != nil {
			return nil, err
		}
		host, err := forwardedHost(r)
		if err != nil {
			return nil, err
		}
		return OriginalRequest(r.Context(), method, target, host, r.Header["Authorization"])
	case EnvoyHTTP:
		target, ok := strings.CutPrefix(r.RequestURI, d.envoyPrefix)
		if !ok || !strings.HasPrefix(target, "/") {
			return nil, badRequest("the request target must be " + d.envoyPrefix + " followed by the original path")
		}
		return OriginalRequest(r.Context(), r.Method, target, r.Host, r.Header["Authorization"])
	}
	return nil, badRequest("unknown protocol")
}

// single returns the one value of a required header.
func single(h http.Header, name string) (string, error) {
	v, err := optional(h, name)
	if err == nil && v == "" {
		return "", badRequest(name + " is required")
	}
	return v, err
}

// optional returns the value of a header that may be absent, refusing two of them: two
// values describe two requests, and picking one is picking the one an attacker added.
// name is as the protocols spell it; canonicalHeader has its canonical form, read from
// the map directly rather than canonicalised at every request.
func optional(h http.Header, name string) (string, error) {
	key, ok := canonicalHeader[name]
	if !ok {
		key = http.CanonicalHeaderKey(name)
	}
	vs := h[key]
	switch len(vs) {
	case 0:
		return "", nil
	case 1:
		return vs[0], nil
	}
	return "", badRequest(name + " is given more than once")
}

var canonicalHeader = func() map[string]string {
	m := map[string]string{}
	for _, name := range []string{"X-Original-Method", "X-Original-URI", "X-Original-URL",
		"X-Forwarded-Method", "X-Forwarded-Uri", "X-Forwarded-Host"} {
		m[name] = http.CanonicalHeaderKey(name)
	}
	return m
}()

func forwardedHost(r *http.Request) (string, error) {
	host, err := optional(r.Header, "X-Forwarded-Host")
	if err != nil || host != "" {
		return host, err
	}
	return r.Host, nil
}

// splitURL splits X-Original-URL into the request target and host.
func splitURL(full string) (target, host string, err error) {
	if len(full) > MaxTargetLength+MaxHostLength || !printable(full) {
		return "", "", badRequest("X-Original-URL is not a URL")
	}
	u, err := url.Parse(full)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Opaque != "" {
		return "", "", badRequest("X-Original-URL is not an absolute http(s) URL")
	}
	target = u.EscapedPath()
	if target == "" {
		target = "/"
	}
	if u.RawQuery != "" || u.ForceQuery {
		target += "?" + u.RawQuery
	}
	return target, u.Host, nil
}

var (
	errMethod = badRequest("the original method is not an HTTP method token")
	errTarget = badRequest("the original request target is not one a server would accept")
	errHost   = badRequest("the original host is not a valid Host header")
)

// OriginalRequest returns the request a Go HTTP/1.1 server would have handed its handler
// for the request line "method target HTTP/1.1", Host host and these Authorization
// header values (TestOriginalRequestMatchesReadRequest holds the two equal): an
// absolute-form target's host wins over the Host header, and a CONNECT's authority-form
// target is a host, not a path. It carries no other header: the policy reads none. An
// error is a *BadRequestError.
func OriginalRequest(ctx context.Context, method, target, host string, authorization []string) (*http.Request, error) {
	if len(method) > MaxMethodLength || !isToken(method) {
		return nil, errMethod
	}
	if target == "" {
		return nil, badRequest("the original request target is empty")
	}
	if len(target) > MaxTargetLength || len(host) > MaxHostLength {
		return nil, badRequest("the original request target or host is too long")
	}
	// A space or control byte would let the target smuggle a second request line or a
	// header into what the policy matches; a server would have refused it.
	if !printable(target) {
		return nil, errTarget
	}
	raw := target
	justAuthority := method == http.MethodConnect && !strings.HasPrefix(target, "/")
	if justAuthority {
		raw = "http://" + raw
	}
	u, err := url.ParseRequestURI(raw)
	if err != nil {
		return nil, errTarget
	}
	if justAuthority {
		u.Scheme = ""
	}
	// The Host header must be valid even when an absolute-form target's host overrides
	// it, as a Go server checks it first.
	if !validHost(host) {
		return nil, errHost
	}
	if u.Host != "" {
		host = u.Host
	}
	h := make(http.Header, 1)
	if len(authorization) > 0 {
		h["Authorization"] = authorization
	}
	out := &http.Request{
		Method:     method,
		URL:        u,
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     h,
		Body:       http.NoBody,
		Host:       host,
		RequestURI: target,
	}
	return out.WithContext(ctx), nil
}

// isToken reports whether s is an RFC 9110 token, as an HTTP method must be.
func isToken(s string) bool { return s != "" && allIn(s, &tchar) }

var tchar = asciiTable("!#$%&'*+-.^_`|~")

// asciiTable is the set of ASCII letters, digits and the bytes of extra.
func asciiTable(extra string) (t [128]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
	}
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = true
	}
	for _, c := range extra {
		t[c] = true
	}
	return t
}

// allIn reports whether every byte of s is in set.
func allIn(s string, set *[128]bool) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 0x80 || !set[c] {
			return false
		}
	}
	return true
}

// printable reports whether s has no space, control byte or DEL.
func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c == 0x7f {
			return false
		}
	}
	return true
}

// validHost reports whether h is a Host header a Go server accepts: the bytes of
// golang.org/x/net/http/httpguts.ValidHostHeader (reg-name, IP literal, port, and the
// sub-delims some clients send). An empty Host is valid (RFC 9112 §3.2: a target without
// an authority).
func validHost(h string) bool { return allIn(h, &hostChar) }

var hostChar = asciiTable("!$%&'()*+,-.:;=[]_~")
