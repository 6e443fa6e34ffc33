// Package extauthz answers Envoy's gRPC external authorization service,
// envoy.service.auth.v3.Authorization/Check, with a forwardauth.Decider's decisions: the
// same decision, identity headers and problem body as the HTTP endpoints, in Envoy's
// terms. It is a package of its own so that gRPC and Envoy's protos are dependencies of
// the cognitokit command only, never of the SDK's packages.
package extauthz

import (
	"context"
	"net/http"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/cognitokit/cognitokit/internal/forwardauth"
)

// Server is the Authorization service. It is safe for concurrent use.
type Server struct {
	authv3.UnimplementedAuthorizationServer
	d        *forwardauth.Decider
	identity []string // canonical identity header names, lower-cased as Envoy sends them
	opts     Options
}

// Options tune a Server.
type Options struct {
	// RemoveAuthorization asks Envoy to drop the Authorization header from allowed
	// requests, so that the upstream never sees the token. False keeps it.
	RemoveAuthorization bool
	// Headers are the identity header names the Decider may set (forwardauth.Config's
	// Headers; nil means forwardauth.DefaultHeaders()). Those it does not set on an allowed
	// request are removed from it, so that a copy the client sent never reaches the
	// upstream.
	Headers []forwardauth.IdentityHeader
}

// New returns a Server deciding with d.
func New(d *forwardauth.Decider, opts Options) *Server {
	headers := opts.Headers
	if headers == nil {
		headers = forwardauth.DefaultHeaders()
	}
	s := &Server{d: d, opts: opts}
	for _, h := range headers {
		s.identity = append(s.identity, http.CanonicalHeaderKey(h.Name))
	}
	return s
}

// Register registers s on g.
func (s *Server) Register(g *grpc.Server) { authv3.RegisterAuthorizationServer(g, s) }

// Check answers one CheckRequest. The peer must be a trusted proxy: the request is all
// attributes the peer asserts, and there is no request of the peer's own to judge
// instead, as the HTTP endpoints do, so any other peer gets PermissionDenied.
func (s *Server) Check(ctx context.Context, req *authv3.CheckRequest) (*authv3.CheckResponse, error) {
	p, ok := peer.FromContext(ctx)
	if !ok || p.Addr == nil || !s.d.Trusts(p.Addr.String()) {
		return nil, status.Error(codes.PermissionDenied, "extauthz: the peer is not a trusted proxy")
	}
	httpReq := req.GetAttributes().GetRequest().GetHttp()
	var o forwardauth.Outcome
	orig, err := forwardauth.OriginalRequest(ctx, httpReq.GetMethod(), httpReq.GetPath(), httpReq.GetHost(), authorization(httpReq))
	if err != nil {
		o = forwardauth.BadRequest(err)
	} else {
		o = s.d.Decide(orig)
	}
	if o.Allow {
		return s.allowed(o), nil
	}
	return denied(o), nil
}

// authorization is the request's Authorization values: from header_map when Envoy sends
// raw headers (one entry per header line), else from headers (Envoy joins repeated
// headers with commas there, which makes two tokens a malformed one, as the middleware
// holds two headers to be).
func authorization(r *authv3.AttributeContext_HttpRequest) []string {
	if hm := r.GetHeaderMap(); hm != nil {
		var out []string
		for _, h := range hm.GetHeaders() {
			if http.CanonicalHeaderKey(h.GetKey()) == "Authorization" {
				v := h.GetValue()
				if raw := h.GetRawValue(); raw != nil {
					v = string(raw)
				}
				out = append(out, v)
			}
		}
		return out
	}
	if v, ok := r.GetHeaders()["authorization"]; ok {
		return []string{v}
	}
	return nil
}

func (s *Server) allowed(o forwardauth.Outcome) *authv3.CheckResponse {
	ok := &authv3.OkHttpResponse{}
	for _, name := range s.identity {
		if v := o.Header.Get(name); v != "" {
			ok.Headers = append(ok.Headers, &corev3.HeaderValueOption{
				Header:       &corev3.HeaderValue{Key: name, Value: v},
				AppendAction: corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD,
			})
		} else {
			ok.HeadersToRemove = append(ok.HeadersToRemove, name)
		}
	}
	if s.opts.RemoveAuthorization {
		ok.HeadersToRemove = append(ok.HeadersToRemove, "authorization")
	}
	return &authv3.CheckResponse{
		Status:       &rpcstatus.Status{Code: int32(codes.OK)},
		HttpResponse: &authv3.CheckResponse_OkResponse{OkResponse: ok},
	}
}

// denied is the refusal Envoy sends the client: the middleware's status, headers and
// problem body.
func denied(o forwardauth.Outcome) *authv3.CheckResponse {
	d := &authv3.DeniedHttpResponse{Status: &typev3.HttpStatus{Code: typev3.StatusCode(o.Status)}, Body: string(o.Body)}
	for _, name := range []string{"Www-Authenticate", "Retry-After", "Content-Type", "Cache-Control"} {
		for _, v := range o.Header.Values(name) {
			d.Headers = append(d.Headers, &corev3.HeaderValueOption{
				Header:       &corev3.HeaderValue{Key: name, Value: v},
				AppendAction: corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD,
			})
		}
	}
	code := codes.PermissionDenied
	switch o.Status {
	case http.StatusUnauthorized:
		code = codes.Unauthenticated
	case http.StatusServiceUnavailable:
		code = codes.Unavailable
	case http.StatusBadRequest:
		code = codes.InvalidArgument
	}
	return &authv3.CheckResponse{
		Status:       &rpcstatus.Status{Code: int32(code), Message: string(o.Denial.Code)},
		HttpResponse: &authv3.CheckResponse_DeniedResponse{DeniedResponse: d},
	}
}
