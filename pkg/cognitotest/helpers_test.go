package cognitotest_test

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/url"
	"testing"

	"github.com/cognitokit/cognitokit/gen"
	"github.com/cognitokit/cognitokit/pkg/cognitotest"
)

// newClient returns the generated client pointed at srv.
func newClient(t *testing.T, srv *cognitotest.Server) *gen.ClientWithResponses {
	t.Helper()
	c, err := gen.NewClientWithResponses(srv.BaseURL())
	if err != nil {
		t.Fatalf("NewClientWithResponses: %v", err)
	}
	return c
}

// basicAuth sets RFC 6749 client authentication: each part form-urlencoded, then Basic.
func basicAuth(id, secret string) gen.RequestEditorFn {
	return func(_ context.Context, req *http.Request) error {
		raw := url.QueryEscape(id) + ":" + url.QueryEscape(secret)
		req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(raw)))
		return nil
	}
}

func bearer(token string) gen.RequestEditorFn {
	return func(_ context.Context, req *http.Request) error {
		req.Header.Set("Authorization", "Bearer "+token)
		return nil
	}
}

func mustClient(t *testing.T, srv *cognitotest.Server, name string) cognitotest.AppClient {
	t.Helper()
	c, ok := srv.Client(name)
	if !ok {
		t.Fatalf("no client %q", name)
	}
	return c
}
