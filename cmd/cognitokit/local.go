package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/cognitokit/cognitokit/pkg/cognitotest"
)

func runLocal(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("local", `Usage: cognitokit local [--addr 127.0.0.1:9229]

Runs a local Amazon Cognito (pkg/cognitotest) until SIGINT or SIGTERM: the token, JWKS,
discovery, userInfo and revoke endpoints, minting real RS256 tokens. Prints its pools,
app clients (IDs, secrets, scopes) and URLs. For development and tests only.`, stdout)
	addr := fs.String("addr", "127.0.0.1:9229", "address to listen on (loopback only is wise: secrets are printed)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	srv, ln, err := listenLocal(*addr, cognitotest.DefaultConfig())
	if err != nil {
		return err
	}
	describeLocal(stdout, srv)
	return serveUntilDone(ctx, ln, srv)
}

// listenLocal binds addr and builds a local Cognito whose issuer is that address.
func listenLocal(addr string, cfg cognitotest.Config) (*cognitotest.Server, net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, nil, err
	}
	srv, err := cognitotest.NewServer("http://"+ln.Addr().String(), cfg)
	if err != nil {
		ln.Close()
		return nil, nil, usageError{err}
	}
	return srv, ln, nil
}

// serveUntilDone serves h on ln until ctx is done, then shuts down gracefully.
func serveUntilDone(ctx context.Context, ln net.Listener, h http.Handler) error {
	hs := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := hs.Shutdown(shutdownCtx); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func describeLocal(w io.Writer, srv *cognitotest.Server) {
	fmt.Fprintf(w, "local Cognito at %s\n", srv.BaseURL())
	fmt.Fprintf(w, "  token URL  %s\n", srv.TokenURL())
	for _, p := range srv.Pools() {
		fmt.Fprintf(w, "pool %s\n", p.ID)
		fmt.Fprintf(w, "  issuer     %s\n", srv.Issuer(p.ID))
		fmt.Fprintf(w, "  JWKS URL   %s\n", srv.JWKSURL(p.ID))
		for _, c := range p.Clients {
			fmt.Fprintf(w, "  client %-14s id %s  secret %s  scopes %s\n", c.Name, c.ID, c.Secret, strings.Join(c.Scopes, " "))
		}
	}
}
