package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/cognitokit/cognitokit/pkg/cognitotest"
)

const localSynopsis = `Usage: cognitokit local [--addr 127.0.0.1:9229] [--config local.yaml]

Runs a local Amazon Cognito (pkg/cognitotest) until SIGINT or SIGTERM: the token, JWKS,
discovery, userInfo and revoke endpoints, minting real RS256 tokens. Prints its pools, app
clients (IDs, secrets, scopes) and URLs. For development and tests only: the secrets are
printed, so keep it on loopback.

--config is a YAML file of pools:

  pools:
    - id: us-east-1_LocalPool1
      access_token_ttl: 1h
      resource_servers:
        - {identifier: orders, scopes: [read, write]}
      clients:
        - {name: reader, id: 1reader0orders0client00001, secret: s3cret, scopes: [orders/read]}
      users:
        - {username: alice, email: alice@example.com, email_verified: true, groups: [admin],
           attributes: {tenant: acme}}

Without --config, one pool with three clients and two users (DefaultConfig) is served.`

func runLocal(ctx context.Context, e env, args []string) error {
	fs := newFlagSet("local", localSynopsis, e.stdout)
	addr := fs.String("addr", "127.0.0.1:9229", "address to listen on")
	config := fs.String("config", "", "YAML file of pools, clients and users (default: the built-in configuration)")
	rest, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usagef("unexpected argument %q", rest[0])
	}
	cfg := cognitotest.DefaultConfig()
	if *config != "" {
		if cfg, err = loadLocalConfig(*config); err != nil {
			return usageError{err}
		}
	}
	srv, ln, err := listenLocal(*addr, cfg)
	if err != nil {
		return err
	}
	describeLocal(e.stdout, srv)
	fmt.Fprintln(e.stderr, "serving; press Ctrl-C to stop")
	return serveUntilDone(ctx, ln, srv)
}

func loadLocalConfig(path string) (cognitotest.Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return cognitotest.Config{}, err
	}
	var cfg cognitotest.Config
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
		return cognitotest.Config{}, fmt.Errorf("%s: %v", path, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	return cfg, nil
}

// listenLocal binds addr and builds a local Cognito whose issuer is that address.
func listenLocal(addr string, cfg cognitotest.Config) (*cognitotest.Server, net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, nil, err
	}
	srv, err := cognitotest.New("http://"+ln.Addr().String(), cfg)
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
		for _, u := range p.Users {
			fmt.Fprintf(w, "  user   %-14s sub %s  groups %s\n", u.Username, u.Sub, strings.Join(u.Groups, " "))
		}
	}
}

func listen() (net.Listener, error) { return net.Listen("tcp", "127.0.0.1:0") }

// serveInBackground serves h on ln and returns a function that shuts it down and waits.
func serveInBackground(ln net.Listener, h http.Handler) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = serveUntilDone(ctx, ln, h)
	}()
	return func() { cancel(); <-done }
}
