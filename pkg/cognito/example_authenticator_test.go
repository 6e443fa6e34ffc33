package cognito_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/cognitokit/cognitokit/pkg/cognito"
	"github.com/cognitokit/cognitokit/pkg/cognitotest"
)

// authnLocalCognito serves a local Cognito (pkg/cognitotest) on 127.0.0.1 for an example;
// in a test, cognitotest.Start(t, cfg) does this and the cleanup.
func authnLocalCognito() (*cognitotest.Server, func()) {
	hs := httptest.NewUnstartedServer(nil)
	local, err := cognitotest.New("http://"+hs.Listener.Addr().String(), cognitotest.DefaultConfig())
	if err != nil {
		log.Fatal(err)
	}
	hs.Config.Handler = local
	hs.Start()
	return local, hs.Close
}

// ordersAPI is a downstream service that wants a bearer token.
func ordersAPI() *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ey") {
			http.Error(w, "no token", http.StatusUnauthorized)
			return
		}
		_, _ = io.WriteString(w, `[{"id":1}]`)
	}))
}

func ExampleNewClientCredentialsAuthenticator() {
	local, stop := authnLocalCognito()
	defer stop()
	client, _ := local.Client("orders-reader")

	authenticator, err := cognito.NewClientCredentialsAuthenticator(cognito.ClientCredentialsConfig{
		ClientID:     client.ID,
		ClientSecret: client.Secret,
		TokenURL:     local.TokenURL(), // https://your-domain.auth.us-east-1.amazoncognito.com/oauth2/token
		Scope:        "orders/read",    // optional
	},
		// A fixed clock, only so that this example prints the same expiry every run.
		cognito.WithClock(func() time.Time { return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) }),
	)
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()

	// Get an access token: fetched once, then served from memory until near its expiry.
	token, err := authenticator.GetToken(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("Token type:", token.TokenType)
	fmt.Println("Scope:", token.Scope)
	fmt.Println("Expires at:", token.ExpiresAtISO())
	fmt.Println(token) // never shows the token itself

	// Get headers for HTTP requests: only Authorization.
	headers, err := authenticator.GetHeaders(ctx)
	if err != nil {
		log.Fatal(err)
	}
	scheme, _, _ := strings.Cut(headers.Get("Authorization"), " ")
	fmt.Println("Authorization:", scheme, "…", len(headers), "header")
	// Output:
	// Token type: Bearer
	// Scope: orders/read
	// Expires at: 2026-01-01T01:00:00Z
	// Token{TokenType: Bearer, Scope: orders/read, ExpiresAt: 2026-01-01T01:00:00Z, Token: REDACTED}
	// Authorization: Bearer … 1 header
}

func ExampleClientCredentialsAuthenticator_Transport() {
	local, stop := authnLocalCognito()
	defer stop()
	client, _ := local.Client("orders-reader")
	api := ordersAPI()
	defer api.Close()

	authenticator, err := cognito.NewClientCredentialsAuthenticator(cognito.ClientCredentialsConfig{
		ClientID: client.ID, ClientSecret: client.Secret, TokenURL: local.TokenURL(),
	})
	if err != nil {
		log.Fatal(err)
	}
	// Every request gets a bearer token; a 401 invalidates it and the request is sent
	// once more with a new one.
	httpClient := &http.Client{Transport: authenticator.Transport(nil), Timeout: 10 * time.Second}
	for range 3 {
		resp, err := httpClient.Get(api.URL + "/orders")
		if err != nil {
			log.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Println(resp.StatusCode, string(body))
	}
	fmt.Println("token requests:", local.Requests(cognitotest.EndpointToken))
	// Output:
	// 200 [{"id":1}]
	// 200 [{"id":1}]
	// 200 [{"id":1}]
	// token requests: 1
}

func ExampleClientCredentialsAuthenticator_TokenSource() {
	local, stop := authnLocalCognito()
	defer stop()
	client, _ := local.Client("orders-reader")
	api := ordersAPI()
	defer api.Close()

	authenticator, err := cognito.NewClientCredentialsAuthenticator(cognito.ClientCredentialsConfig{
		ClientID: client.ID, ClientSecret: client.Secret, TokenURL: local.TokenURL(),
	})
	if err != nil {
		log.Fatal(err)
	}
	// Any golang.org/x/oauth2 client, or a library that takes an oauth2.TokenSource.
	httpClient := oauth2.NewClient(context.Background(), authenticator.TokenSource())
	resp, err := httpClient.Get(api.URL + "/orders")
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	fmt.Println(resp.StatusCode)
	// Output:
	// 200
}

func ExampleNewMemoryStore() {
	local, stop := authnLocalCognito()
	defer stop()
	client, _ := local.Client("orders-reader")
	cfg := cognito.ClientCredentialsConfig{ClientID: client.ID, ClientSecret: client.Secret, TokenURL: local.TokenURL()}

	// Two parts of one service with the same client share tokens through one store.
	store := cognito.NewMemoryStore()
	orders, err := cognito.NewClientCredentialsAuthenticator(cfg, cognito.WithTokenStore(store))
	if err != nil {
		log.Fatal(err)
	}
	billing, err := cognito.NewClientCredentialsAuthenticator(cfg, cognito.WithTokenStore(store))
	if err != nil {
		log.Fatal(err)
	}
	t1, _ := orders.GetToken(context.Background())
	t2, _ := billing.GetToken(context.Background())
	fmt.Println("same token:", t1.Token == t2.Token)
	fmt.Println("token requests:", local.Requests(cognitotest.EndpointToken))
	// Output:
	// same token: true
	// token requests: 1
}

func ExampleAuthenticationError() {
	local, stop := authnLocalCognito()
	defer stop()
	client, _ := local.Client("orders-reader")

	authenticator, err := cognito.NewClientCredentialsAuthenticator(cognito.ClientCredentialsConfig{
		ClientID: client.ID, ClientSecret: "not-the-secret", TokenURL: local.TokenURL(),
	})
	if err != nil {
		log.Fatal(err)
	}
	_, err = authenticator.GetToken(context.Background())

	var authErr *cognito.AuthenticationError
	if errors.As(err, &authErr) {
		fmt.Println("OAuth error:", authErr.ErrorCode, "HTTP", authErr.StatusCode, "attempts", authErr.Attempts)
	}
	switch {
	case errors.Is(err, cognito.ErrTokenRequestRejected):
		fmt.Println("rejected: fix the configuration, retrying will not help")
	case errors.Is(err, cognito.ErrTokenEndpointUnavailable):
		fmt.Println("Cognito unreachable: retry later")
	}
	fmt.Println(err)
	// Output:
	// OAuth error: invalid_client HTTP 400 attempts 1
	// rejected: fix the configuration, retrying will not help
	// cognito: token request was rejected: "invalid_client" ("Client authentication failed."), HTTP 400
}

// Reading the configuration from COGNITO_CLIENT_ID, COGNITO_CLIENT_SECRET,
// COGNITO_DOMAIN (or COGNITO_TOKEN_URL) and COGNITO_SCOPE.
func ExampleClientCredentialsConfigFromEnv() {
	cfg, err := cognito.ClientCredentialsConfigFromEnv()
	if err != nil {
		log.Fatal(err) // names the missing variables, never a value
	}
	authenticator, err := cognito.NewClientCredentialsAuthenticator(cfg)
	if err != nil {
		log.Fatal(err)
	}
	headers, err := authenticator.GetHeaders(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, "https://orders.internal.example.com/orders", nil)
	for k, v := range headers {
		req.Header[k] = v
	}
	_ = req
}
