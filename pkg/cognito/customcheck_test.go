package cognito

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cognitokit/cognitokit/pkg/cognitotest"
)

var errOrgInactive = errors.New("organisation is inactive")

// TestCustomCheckRunsOnEveryVerify: the check runs once per Verify, cache hits included,
// and its answer may change between calls.
func TestCustomCheckRunsOnEveryVerify(t *testing.T) {
	clk := newFakeClock()
	srv := localCognito(t, clk)
	var calls atomic.Int64
	var refuse atomic.Bool
	z := newAuthorizer(t, srv, clk, JWTAuthorizerConfig{}, WithCustomCheck(func(ctx context.Context, c *Claims) error {
		calls.Add(1)
		if c.UserPoolID != poolID || c.ClientID != readerClient {
			t.Errorf("check saw %q %q", c.UserPoolID, c.ClientID)
		}
		if refuse.Load() {
			return errOrgInactive
		}
		return nil
	}), WithCustomCheck(nil))
	tok := mintAccess(t, srv, cognitotest.TokenOptions{Client: "orders-reader"})
	ctx := context.Background()
	for i := range 3 {
		if _, err := z.Verify(ctx, tok); err != nil {
			t.Fatal(err)
		}
		if got := calls.Load(); got != int64(i+1) {
			t.Fatalf("after %d Verify: %d calls", i+1, got)
		}
	}
	if z.verified.get(tok) == nil {
		t.Fatal("token not cached")
	}

	refuse.Store(true)
	_, err := z.Verify(ctx, tok) // a cache hit
	wantReason(t, err, ErrCustomCheck)
	if !errors.Is(err, errOrgInactive) {
		t.Fatalf("err = %v does not unwrap to the check's error", err)
	}
	var ae *AuthorizationError
	errors.As(err, &ae)
	if ae.Claims == nil || ae.Claims.ClientID != readerClient {
		t.Fatalf("Claims = %+v, want the refused token's", ae.Claims)
	}
	if got := calls.Load(); got != 4 {
		t.Fatalf("%d calls after 4 Verify", got)
	}
	// A token refused by the check on its first verification is refused again on the next.
	other := mintAccess(t, srv, cognitotest.TokenOptions{Client: "orders-reader", Username: "bob"})
	for range 2 {
		if _, err := z.Verify(ctx, other); !errors.Is(err, errOrgInactive) {
			t.Fatalf("err = %v", err)
		}
	}
	refuse.Store(false)
	if _, err := z.Verify(ctx, other); err != nil {
		t.Fatalf("once the check passes: %v", err)
	}
}

// TestCustomCheckContext: the check gets the caller's context; one that ended is refused
// as such without calling the check.
func TestCustomCheckContext(t *testing.T) {
	clk := newFakeClock()
	srv := localCognito(t, clk)
	type key struct{}
	var calls atomic.Int64
	z := newAuthorizer(t, srv, clk, JWTAuthorizerConfig{}, WithCustomCheck(func(ctx context.Context, c *Claims) error {
		calls.Add(1)
		if ctx.Value(key{}) != "caller" {
			t.Error("the check did not get the caller's context")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		default:
			return nil
		}
	}))
	tok := mintAccess(t, srv, cognitotest.TokenOptions{Client: "orders-reader"})
	ctx := context.WithValue(context.Background(), key{}, "caller")
	if _, err := z.Verify(ctx, tok); err != nil {
		t.Fatal(err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	_, err := z.Verify(cancelled, tok) // a cache hit: no key wait, the check alone sees ctx
	wantReason(t, err, ErrCustomCheck)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want it to unwrap to context.Canceled", err)
	}
	if calls.Load() != 1 {
		t.Fatalf("the check ran %d times; want once, not with the cancelled context", calls.Load())
	}
}

// TestCustomCheckIsLast: the check never sees a token a built-in check refused.
func TestCustomCheckIsLast(t *testing.T) {
	clk := newFakeClock()
	srv := localCognito(t, clk)
	z := newAuthorizer(t, srv, clk, JWTAuthorizerConfig{}, WithCustomCheck(func(context.Context, *Claims) error {
		t.Error("custom check ran on a refused token")
		return nil
	}))
	_, err := z.Verify(context.Background(), mintAccess(t, srv, cognitotest.TokenOptions{Client: "orders-writer"}))
	wantReason(t, err, ErrInvalidClient)
}

// TestClaimsOnRefusals: AuthorizationError.Claims is set exactly for the refusals made
// after the signature verified, for every reason Verify gives; Error and LogValue never
// show a claim value.
func TestClaimsOnRefusals(t *testing.T) {
	clk := newFakeClock()
	srv := localCognito(t, clk)
	mint := func(o cognitotest.TokenOptions) func(t *testing.T) string {
		return func(t *testing.T) string {
			if o.Client == "" {
				o.Client = "orders-reader"
			}
			if o.Username == "" {
				o.Username = "alice"
			}
			return mintAccess(t, srv, o)
		}
	}
	cases := []struct {
		reason error
		cfg    JWTAuthorizerConfig
		opts   []AuthorizerOption
		token  func(t *testing.T) string
		claims bool
	}{
		{ErrMalformedToken, JWTAuthorizerConfig{}, nil, func(*testing.T) string { return "a.b" }, false},
		{ErrTokenTooLarge, JWTAuthorizerConfig{}, []AuthorizerOption{WithMaxTokenSize(64)}, mint(cognitotest.TokenOptions{}), false},
		{ErrAlgorithmNotAllowed, JWTAuthorizerConfig{}, nil, mint(cognitotest.TokenOptions{Header: map[string]any{"alg": "HS256"}}), false},
		{ErrMissingKeyID, JWTAuthorizerConfig{}, nil, mint(cognitotest.TokenOptions{Header: map[string]any{"kid": nil}}), false},
		{ErrUnsupportedHeader, JWTAuthorizerConfig{}, nil, mint(cognitotest.TokenOptions{Header: map[string]any{"crit": []string{"exp"}}}), false},
		{ErrUnknownKey, JWTAuthorizerConfig{}, nil, mint(cognitotest.TokenOptions{Header: map[string]any{"kid": "nope"}}), false},
		{ErrInvalidSignature, JWTAuthorizerConfig{}, nil, mint(cognitotest.TokenOptions{SigningKey: spareKey()}), false},
		{ErrInvalidIssuer, JWTAuthorizerConfig{}, nil, mint(cognitotest.TokenOptions{Claims: map[string]any{"iss": "https://evil.example/us-east-1_LocalPool1"}}), false},
		{ErrJWKSUnavailable, JWTAuthorizerConfig{}, nil, func(t *testing.T) string {
			srv.FailNext(cognitotest.EndpointJWKS, 1, cognitotest.Fault{Status: 503})
			return mint(cognitotest.TokenOptions{})(t)
		}, false},
		{ErrInvalidTokenUse, JWTAuthorizerConfig{}, nil, func(t *testing.T) string {
			return mintID(t, srv, cognitotest.TokenOptions{Client: "orders-reader"})
		}, true},
		{ErrInvalidClient, JWTAuthorizerConfig{}, nil, mint(cognitotest.TokenOptions{Client: "orders-writer"}), true},
		{ErrTokenExpired, JWTAuthorizerConfig{}, nil, mint(cognitotest.TokenOptions{IssuedAt: t0.Add(-3 * time.Hour)}), true},
		{ErrTokenNotYetValid, JWTAuthorizerConfig{}, nil, mint(cognitotest.TokenOptions{Claims: map[string]any{"nbf": t0.Add(time.Hour).Unix()}}), true},
		{ErrIssuedInFuture, JWTAuthorizerConfig{}, nil, mint(cognitotest.TokenOptions{IssuedAt: t0.Add(time.Hour)}), true},
		{ErrMissingClaim, JWTAuthorizerConfig{}, nil, mint(cognitotest.TokenOptions{Claims: map[string]any{"exp": nil}}), true},
		{ErrInsufficientScope, JWTAuthorizerConfig{RequiredScopes: []string{"orders/admin"}}, nil, mint(cognitotest.TokenOptions{}), true},
		{ErrNotInGroup, JWTAuthorizerConfig{RequiredGroups: []string{"finance"}}, nil, mint(cognitotest.TokenOptions{}), true},
		{ErrCustomCheck, JWTAuthorizerConfig{}, []AuthorizerOption{WithCustomCheck(func(context.Context, *Claims) error {
			return errOrgInactive
		})}, mint(cognitotest.TokenOptions{}), true},
		{ErrTokenRevoked, JWTAuthorizerConfig{}, []AuthorizerOption{WithRevocationList(revokedSubject(t, "a11ce000-0000-4000-8000-000000000001"))},
			mint(cognitotest.TokenOptions{}), true},
		{ErrRevocationUnavailable, JWTAuthorizerConfig{}, []AuthorizerOption{WithRevocationList(failingList{errors.New("out of touch")})},
			mint(cognitotest.TokenOptions{}), true},
	}
	covered := map[string]bool{}
	for _, tc := range cases {
		covered[ReasonCode(tc.reason)] = true
		t.Run(ReasonCode(tc.reason), func(t *testing.T) {
			var logs bytes.Buffer
			z := newAuthorizer(t, srv, clk, tc.cfg, append(tc.opts, WithLogger(slog.New(slog.NewJSONHandler(&logs, nil))))...)
			_, err := z.Verify(context.Background(), tc.token(t))
			wantReason(t, err, tc.reason)
			var ae *AuthorizationError
			errors.As(err, &ae)
			if (ae.Claims != nil) != tc.claims {
				t.Fatalf("Claims = %+v, want present: %v", ae.Claims, tc.claims)
			}
			if tc.claims && (ae.Claims.Sub != "a11ce000-0000-4000-8000-000000000001" || ae.Claims.UserPoolID != poolID) {
				t.Fatalf("Claims = %+v, want alice's in %s", ae.Claims, poolID)
			}
			slog.New(slog.NewJSONHandler(&logs, nil)).Info("refused", "err", err)
			for _, leak := range []string{"a11ce000", "alice", "orders/read"} {
				if strings.Contains(err.Error(), leak) || strings.Contains(logs.String(), leak) {
					t.Fatalf("claim value %q in the error or its log: %s / %s", leak, err, logs.String())
				}
			}
		})
	}
	// Every reason errors.go declares for Verify is in the table above.
	src, err := os.ReadFile("errors.go")
	if err != nil {
		t.Fatal(err)
	}
	authn := []string{"token_request_rejected", "token_endpoint_unavailable", "invalid_token_response", "invalid_config"}
	for _, m := range regexp.MustCompile(`newReason\("(\w+)"`).FindAllStringSubmatch(string(src), -1) {
		if code := m[1]; !slices.Contains(authn, code) && !covered[code] {
			t.Errorf("no case for reason %s", code)
		}
	}
}
