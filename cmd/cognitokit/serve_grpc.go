package main

import (
	"context"
	"errors"
	"net"

	"google.golang.org/grpc"

	"github.com/cognitokit/cognitokit/internal/forwardauth"
	"github.com/cognitokit/cognitokit/internal/forwardauth/extauthz"
)

// maxCheckRequest bounds a CheckRequest: Envoy sends the request's headers, and its body
// only when with_request_body asks for it (up to its max_request_bytes).
const maxCheckRequest = 1 << 20

// grpcServer is serve's Envoy ext_authz gRPC listener.
type grpcServer struct {
	g       *grpc.Server
	ln      net.Listener
	stopped chan struct{}
}

// listenGRPC binds addr for the Authorization service; it returns nil when addr is empty.
func listenGRPC(addr string, d *forwardauth.Decider, opts extauthz.Options) (*grpcServer, string, error) {
	if addr == "" {
		return nil, "", nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, "", err
	}
	g := grpc.NewServer(grpc.MaxRecvMsgSize(maxCheckRequest))
	extauthz.New(d, opts).Register(g)
	return &grpcServer{g: g, ln: ln, stopped: make(chan struct{})}, ln.Addr().String(), nil
}

func (s *grpcServer) serve() error {
	err := s.g.Serve(s.ln)
	if errors.Is(err, grpc.ErrServerStopped) {
		return nil
	}
	return err
}

// stop lets the calls in flight finish, or cuts them when ctx ends.
func (s *grpcServer) stop(ctx context.Context) {
	go func() {
		<-ctx.Done()
		s.g.Stop()
	}()
	s.g.GracefulStop()
	close(s.stopped)
}

func (s *grpcServer) wait(ctx context.Context) error {
	select {
	case <-s.stopped:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
