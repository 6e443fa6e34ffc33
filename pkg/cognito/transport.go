package cognito

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"

	"golang.org/x/oauth2"
)

// Transport returns an [http.RoundTripper] that sends each request through base (nil
// means [http.DefaultTransport]) with "Authorization: Bearer <token>" from the
// authenticator. When the service answers 401, the token is invalidated and the request
// is sent once more with a new token, provided its body can be sent again (no body, or
// [http.Request.GetBody] set, as [http.NewRequest] does for in-memory bodies); otherwise,
// or if the second answer is 401 too, the 401 is returned. So that a service rejecting
// every token cannot make each call cost a token request, a 401 invalidates the token at
// most once every few seconds.
//
// Redirects followed by an [http.Client] reach RoundTrip as new requests. As
// http.Client does for an Authorization header it was given, the token goes only to the
// host of the original request and its subdomains: once a redirect leaves them, that
// hop and every later one are sent without it, so that an open redirect downstream
// cannot hand the service's token to another host.
//
// A failed token request fails the request with the [*AuthenticationError], before
// anything is sent.
func (a *ClientCredentialsAuthenticator) Transport(base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return &transport{a: a, base: base}
}

type transport struct {
	a    *ClientCredentialsAuthenticator
	base http.RoundTripper
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if !mayCarryToken(req) {
		return t.base.RoundTrip(req)
	}
	tok, err := t.a.GetToken(req.Context())
	if err != nil {
		closeBody(req)
		return nil, err
	}
	resp, err := t.base.RoundTrip(withBearer(req, tok, req.Body))
	if err != nil || resp.StatusCode != http.StatusUnauthorized {
		return resp, err
	}
	replayable := req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
	if !t.a.invalidateRejected(tok) || !replayable {
		return resp, nil
	}
	body := req.Body
	if req.GetBody != nil {
		if body, err = req.GetBody(); err != nil {
			return resp, nil
		}
	}
	fresh, err := t.a.GetToken(req.Context())
	if err != nil || fresh.Token == tok.Token {
		if body != nil {
			body.Close()
		}
		return resp, nil
	}
	// The first answer is dropped: drain a little so the connection can be reused.
	_, _ = io.CopyN(io.Discard, resp.Body, 4<<10)
	resp.Body.Close()
	return t.base.RoundTrip(withBearer(req, fresh, body))
}

// maxRedirectChain bounds the walk back through a redirect chain; http.Client stops at 10.
const maxRedirectChain = 32

// mayCarryToken reports whether req may carry the token: it is not a redirect, or every
// hop from the original request to it stayed on the original host or its subdomains
// (http.Client's rule for the Authorization header, ports ignored as it ignores them).
// A Client sets Response on the request it makes to follow a redirect; its Request is
// the hop before.
func mayCarryToken(req *http.Request) bool {
	var hops []*http.Request
	for r := req; ; r = r.Response.Request {
		if len(hops) == maxRedirectChain {
			return false
		}
		hops = append(hops, r)
		if r.Response == nil || r.Response.Request == nil {
			break
		}
	}
	origin := hostOf(hops[len(hops)-1])
	for _, h := range hops[:len(hops)-1] {
		if !isDomainOrSubdomain(hostOf(h), origin) {
			return false
		}
	}
	return true
}

func hostOf(r *http.Request) string {
	if r.URL == nil {
		return ""
	}
	return strings.ToLower(strings.TrimSuffix(r.URL.Hostname(), "."))
}

// isDomainOrSubdomain reports whether sub is parent or a subdomain of it. An IP address
// has no subdomains.
func isDomainOrSubdomain(sub, parent string) bool {
	if sub == parent {
		return sub != ""
	}
	if strings.ContainsAny(sub, ":%") || net.ParseIP(parent) != nil {
		return false
	}
	return strings.HasSuffix(sub, "."+parent)
}

// withBearer returns a copy of req (a RoundTripper must not modify its request) with the
// token and body.
func withBearer(req *http.Request, tok *Token, body io.ReadCloser) *http.Request {
	r := req.Clone(req.Context())
	r.Body = body
	r.Header.Set("Authorization", "Bearer "+tok.Token)
	return r
}

func closeBody(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}

// TokenSource returns an [oauth2.TokenSource] for golang.org/x/oauth2 clients, such as
// [oauth2.NewClient]. Each Token call is GetToken; the returned token's Expiry is when
// this authenticator stops serving it (its expiry minus the margin), so an
// [oauth2.ReuseTokenSource] wrapped around it does not outlive the margin.
//
// Token takes no context: it waits for a token request at most as long as the
// authenticator's retry policy allows. An oauth2 client never invalidates a token a
// service rejects; use [ClientCredentialsAuthenticator.Transport] for that.
func (a *ClientCredentialsAuthenticator) TokenSource() oauth2.TokenSource { return tokenSource{a} }

type tokenSource struct {
	a *ClientCredentialsAuthenticator
}

func (s tokenSource) Token() (*oauth2.Token, error) {
	e, err := s.a.entry(context.Background())
	if err != nil {
		return nil, err
	}
	return &oauth2.Token{AccessToken: e.tok.Token, TokenType: "Bearer", Expiry: e.freshUntil}, nil
}
