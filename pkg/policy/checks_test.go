package policy_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/cognitokit/cognitokit/internal/testkit"
	"github.com/cognitokit/cognitokit/pkg/cognito"
	"github.com/cognitokit/cognitokit/pkg/cognitotest"
	"github.com/cognitokit/cognitokit/pkg/policy"
)

const (
	poolA = "us-east-1_LocalPool1"
	poolB = "eu-west-1_LocalPool2"
)

const tenantPolicy = `version: 1
token_use: any
routes:
  "GET /orders":
    pool: us-east-1_LocalPool1
    checks: [active-org]
  "GET /inventory":
    pools: {any: [eu-west-1_LocalPool2]}
  "GET /shared":
    pools: {any: [us-east-1_LocalPool1, eu-west-1_LocalPool2]}
  "GET /reports":
    checks: [active-org, paid-plan]
`

// activeOrg refuses bob, whose organisation is suspended; its error text must never reach
// the client.
func activeOrg(r *http.Request, c *cognito.Claims) error {
	if _, ok := policy.ClaimsFromContext(r.Context()); !ok {
		return errors.New("no claims in the request context")
	}
	if c.Username == "bob" {
		return errors.New("org globex of bob is suspended (internal ticket 4711)")
	}
	return nil
}

// paidPlan refuses every request with a message for the client.
func paidPlan(*http.Request, *cognito.Claims) error {
	return &policy.SafeError{Message: "reports need a paid plan", Err: errors.New("plan: free")}
}

type poolStack struct {
	cognito *cognitotest.Server
	authz   *cognito.JWTAuthorizer
}

func newPoolStack(t *testing.T) *poolStack {
	t.Helper()
	idp := cognitotest.Start(t, cognitotest.MultiPoolConfig())
	authz, err := cognito.NewMultiPoolAuthorizer([]cognito.JWTAuthorizerConfig{
		{UserPoolID: poolA, AllowAnyClient: true, TokenUse: cognito.TokenUseAny},
		{UserPoolID: poolB, AllowAnyClient: true, TokenUse: cognito.TokenUseAny},
	}, cognito.WithEndpoint(idp.BaseURL()))
	if err != nil {
		t.Fatal(err)
	}
	return &poolStack{cognito: idp, authz: authz}
}

func (s *poolStack) serve(t *testing.T, mw func(http.Handler) http.Handler) *httptest.Server {
	t.Helper()
	api := httptest.NewServer(mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	})))
	t.Cleanup(api.Close)
	return api
}

func get(t *testing.T, api *httptest.Server, path, token string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest("GET", api.URL+path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := api.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var problem map[string]any
	if resp.StatusCode != 200 {
		if err := json.NewDecoder(resp.Body).Decode(&problem); err != nil {
			t.Fatal(err)
		}
	}
	return resp.StatusCode, problem
}

func TestPoolsAndChecks(t *testing.T) {
	s := newPoolStack(t)
	p, err := policy.Parse([]byte(tenantPolicy), "tenants.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Checks(); !reflect.DeepEqual(got, []string{"active-org", "paid-plan"}) {
		t.Fatalf("Checks = %v", got)
	}
	mw, err := policy.NewMiddleware(p, s.authz, policy.WithCheck("active-org", activeOrg), policy.WithCheck("paid-plan", paidPlan))
	if err != nil {
		t.Fatal(err)
	}
	api := s.serve(t, mw)
	mint := func(o cognitotest.TokenOptions) string {
		tok, err := s.cognito.MintAccessToken(o)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	alice := mint(cognitotest.TokenOptions{Username: "alice"})
	bob := mint(cognitotest.TokenOptions{Username: "bob"})
	carol := mint(cognitotest.TokenOptions{Pool: poolB, Username: "carol"})

	for _, tc := range []struct {
		name, path, token string
		status            int
		code, detail      string
	}{
		{"pool A on a pool A route, check passes", "/orders", alice, 200, "", ""},
		{"pool B on a pool A route", "/orders", carol, 403, "wrong_pool", "us-east-1_LocalPool1"},
		{"pool A on a pool B route", "/inventory", alice, 403, "wrong_pool", "eu-west-1_LocalPool2"},
		{"pool B on a pool B route", "/inventory", carol, 200, "", ""},
		{"pool A on a two-pool route", "/shared", alice, 200, "", ""},
		{"pool B on a two-pool route", "/shared", carol, 200, "", ""},
		{"check refuses, its error text hidden", "/orders", bob, 403, "check_failed", `check "active-org" refused the request`},
		{"second check refuses with a safe message", "/reports", alice, 403, "check_failed", `check "paid-plan" refused the request: reports need a paid plan`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, problem := get(t, api, tc.path, tc.token)
			if status != tc.status {
				t.Fatalf("status %d, want %d (%v)", status, tc.status, problem)
			}
			if tc.code == "" {
				return
			}
			detail, _ := problem["detail"].(string)
			if problem["code"] != tc.code || !strings.Contains(detail, tc.detail) {
				t.Fatalf("problem %v, want code %s and detail containing %q", problem, tc.code, tc.detail)
			}
			if strings.Contains(detail, "globex") || strings.Contains(detail, "bob") || strings.Contains(detail, "4711") || strings.Contains(detail, "plan: free") {
				t.Fatalf("the check's error text reached the client: %q", detail)
			}
			if tc.code == "check_failed" && problem["check"] == "" {
				t.Fatalf("no check member in %v", problem)
			}
		})
	}
}

func TestUnregisteredCheckFailsAtBuild(t *testing.T) {
	s := newPoolStack(t)
	p, err := policy.Parse([]byte(tenantPolicy), "tenants.yaml")
	if err != nil {
		t.Fatal(err)
	}
	_, err = policy.NewMiddleware(p, s.authz, policy.WithCheck("active-org", activeOrg))
	if err == nil || !strings.Contains(err.Error(), `tenants.yaml:11: route "GET /reports": check "paid-plan" is not registered`) {
		t.Fatalf("NewMiddleware = %v", err)
	}

	logger, logs := testkit.NewLogger()
	api := s.serve(t, policy.Middleware(p, s.authz, policy.WithCheck("active-org", activeOrg), policy.WithLogger(logger)))
	if !strings.Contains(logs.String(), `check \"paid-plan\" is not registered`) && !strings.Contains(logs.String(), `check "paid-plan" is not registered`) {
		t.Fatalf("not logged at build: %s", logs.String())
	}
	alice, err := s.cognito.MintAccessToken(cognitotest.TokenOptions{Username: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/orders", "/shared", "/nowhere"} {
		if status, problem := get(t, api, path, alice); status != 500 || problem["code"] != "misconfigured" {
			t.Fatalf("%s: %d %v, want 500 misconfigured", path, status, problem)
		}
	}
}

func TestWatcherRefusesPolicyNeedingUnregisteredCheck(t *testing.T) {
	s := newPoolStack(t)
	path := filepath.Join(t.TempDir(), "routes.yaml")
	writeFile(t, path, "version: 1\nroutes:\n  \"GET /x\": {checks: [active-org]}\n")
	var reloadErrs []error
	w, err := policy.Watch(t.Context(), path, policy.WithPollInterval(time.Hour),
		policy.WithOnReloadError(func(err error) { reloadErrs = append(reloadErrs, err) }))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.NewMiddleware(s.authz); err == nil {
		t.Fatal("NewMiddleware accepted a policy needing an unregistered check")
	}
	if _, err := w.NewMiddleware(s.authz, policy.WithCheck("active-org", activeOrg)); err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, "version: 1\nroutes:\n  \"GET /x\": {checks: [active-org, new-check]}\n")
	if err := w.Reload(); err == nil || !strings.Contains(err.Error(), `check "new-check" is not registered`) {
		t.Fatalf("Reload = %v", err)
	}
	if got := w.Policy().Checks(); !reflect.DeepEqual(got, []string{"active-org"}) || len(reloadErrs) != 1 {
		t.Fatalf("policy in force needs %v (%d errors reported); want the last good one", got, len(reloadErrs))
	}
}

func TestPoolAndChecksSchemaErrors(t *testing.T) {
	for _, tc := range []struct{ doc, want string }{
		{`"GET /x": {pool: nope}`, `t.yaml:3:20: "nope" is not a user pool ID`},
		{`"GET /x": {pool: [us-east-1_A]}`, `t.yaml:3:20: pool must be a string`},
		{`"GET /x": {pools: {any: [us-east-1_A, "bad id"]}}`, `t.yaml:3:41: "bad id" is not a user pool ID`},
		{`"GET /x": {pools: {all: [us-east-1_A]}}`, `t.yaml:3:22: unknown key "all" in pools`},
		{`"GET /x": {pools: {}}`, `pools needs any`},
		{`"GET /x": {pool: us-east-1_A, pools: {any: [us-east-1_B]}}`, `t.yaml:3:33: route "GET /x" has both pool and pools`},
		{`"GET /x": {checks: [ok, "bad name"]}`, `t.yaml:3:27: check name "bad name"`},
		{`"GET /x": {checks: [a, a]}`, `t.yaml:3:26: check "a" is listed twice`},
		{`"GET /x": {checks: []}`, `checks must not be empty`},
		{`"GET /x": {public: true, checks: [a]}`, `cannot be combined with public`},
	} {
		_, err := policy.Parse([]byte("version: 1\nroutes:\n  "+tc.doc+"\n"), "t.yaml")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.doc, err, tc.want)
		}
	}
}

// TestWrongPoolWithoutPool: claims that name no pool (NewClaims, another verifier) are
// refused by a route that requires one.
func TestWrongPoolWithoutPool(t *testing.T) {
	p, err := policy.Parse([]byte(tenantPolicy), "tenants.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c, err := cognito.NewClaims(map[string]any{"sub": "x", "token_use": "access"})
	if err != nil {
		t.Fatal(err)
	}
	d := p.Decide(httptest.NewRequest("GET", "/inventory", nil), c)
	if d.Allow || d.Reason != policy.ReasonWrongPool || d.Status != 403 {
		t.Fatalf("decision %+v", d)
	}
	c.UserPoolID = poolB
	if d = p.Decide(httptest.NewRequest("GET", "/reports", nil), c); !d.Allow || !reflect.DeepEqual(d.Checks, []string{"active-org", "paid-plan"}) {
		t.Fatalf("decision %+v, want allowed with the checks to run", d)
	}
}
