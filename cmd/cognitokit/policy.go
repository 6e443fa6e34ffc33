package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"

	"github.com/cognitokit/cognitokit/pkg/cognito"
	"github.com/cognitokit/cognitokit/pkg/policy"
)

const policySynopsis = `Usage:
  cognitokit policy check FILE
  cognitokit policy explain FILE --request "GET /orders/7" [--token T (+ verify flags) | --claims claims.json]

check loads and validates a route policy: prints "ok: N routes" and the Go checks its
routes name (which the service must register), or every problem as file:line:col: message
(exit 1).

explain runs one request through the policy middleware and prints the matched route, the
decision, the status and headers the middleware would answer, and why. The caller is
anonymous unless --token (verified like "cognitokit verify") or --claims (a JSON object of
claims taken as verified) says otherwise. The route's Go checks (checks:) are not run: the
explanation lists them.`

func runPolicy(ctx context.Context, e env, args []string) error {
	if len(args) == 0 {
		fmt.Fprintln(e.stderr, policySynopsis)
		return exitError{exitUsage}
	}
	switch args[0] {
	case "check":
		return runPolicyCheck(e, args[1:])
	case "explain":
		return runPolicyExplain(ctx, e, args[1:])
	case "-h", "-help", "--help", "help":
		fmt.Fprintln(e.stdout, policySynopsis)
		return nil
	}
	return usagef("unknown policy command %q (want check or explain)", args[0])
}

func runPolicyCheck(e env, args []string) error {
	fs := newFlagSet("policy check", "Usage: cognitokit policy check [--json] FILE\n\nLoads and validates a route policy.", e.stdout)
	asJSON := fs.Bool("json", false, "print the result as JSON")
	rest, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(rest) != 1 {
		return usagef("give one policy FILE")
	}
	p, err := policy.Load(rest[0])
	var le *policy.LoadError
	switch {
	case err == nil:
		warnings := make([]string, 0, len(p.Warnings()))
		for _, w := range p.Warnings() {
			warnings = append(warnings, w.Error())
		}
		scoped := hostScoped(p.Routes())
		checks := p.Checks()
		if checks == nil {
			checks = []string{}
		}
		if *asJSON {
			return json.NewEncoder(e.stdout).Encode(map[string]any{"ok": true, "routes": p.Routes(),
				"host_scoped_routes": scoped, "warnings": warnings, "checks": checks})
		}
		fmt.Fprintf(e.stdout, "ok: %d routes\n", len(p.Routes()))
		if len(checks) > 0 {
			fmt.Fprintf(e.stdout, "checks: %s (the service must register each with policy.WithCheck)\n", strings.Join(checks, ", "))
		}
		if len(scoped) > 0 {
			fmt.Fprintf(e.stdout, "note: %d host-scoped routes (%s) match only requests whose Host header names "+
				"their host; other requests fall to the other routes or the default\n", len(scoped), strings.Join(scoped, ", "))
		}
		for _, w := range warnings {
			fmt.Fprintln(e.stdout, "warning: "+w)
		}
		return nil
	case errors.As(err, &le):
		if *asJSON {
			type problem struct {
				File    string `json:"file"`
				Line    int    `json:"line"`
				Column  int    `json:"column"`
				Message string `json:"message"`
			}
			out := make([]problem, len(le.Errs))
			for i, pe := range le.Errs {
				out[i] = problem{pe.File, pe.Line, pe.Column, pe.Msg}
			}
			_ = json.NewEncoder(e.stdout).Encode(map[string]any{"ok": false, "errors": out})
		} else {
			for _, pe := range le.Errs {
				fmt.Fprintln(e.stdout, pe.Error())
			}
		}
		return exitError{exitFail}
	default:
		return err
	}
}

// hostScoped returns the patterns that name a host ("api.example.com/", "GET h/x").
func hostScoped(patterns []string) []string {
	var out []string
	for _, p := range patterns {
		_, rest, hasMethod := strings.Cut(p, " ")
		if !hasMethod {
			rest = p
		}
		if !strings.HasPrefix(strings.TrimLeft(rest, " \t"), "/") {
			out = append(out, p)
		}
	}
	return out
}

// claimsVerifier hands out claims read from a file, for explain --claims.
type claimsVerifier struct{ c *cognito.Claims }

func (v claimsVerifier) Verify(context.Context, string) (*cognito.Claims, error) { return v.c, nil }

func runPolicyExplain(ctx context.Context, e env, args []string) error {
	fs := newFlagSet("policy explain", policySynopsis, e.stdout)
	request := fs.String("request", "", `the request: "METHOD /path" or "METHOD https://host/path" (required)`)
	token := fs.String("token", "", "the caller's bearer token, verified with the verify flags")
	claimsFile := fs.String("claims", "", "a JSON file of the caller's claims, taken as verified")
	asJSON := fs.Bool("json", false, "print the explanation as JSON")
	var af authorizerFlags
	af.register(fs)
	rest, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(rest) != 1 {
		return usagef("give one policy FILE")
	}
	method, target, ok := strings.Cut(strings.TrimSpace(*request), " ")
	if !ok || method == "" || !strings.HasPrefix(strings.TrimLeft(target, " "), "/") && !strings.Contains(target, "://") {
		return usagef(`--request must be "METHOD /path", such as "GET /orders/7"`)
	}
	if *token != "" && *claimsFile != "" {
		return usagef("give --token or --claims, not both")
	}
	p, err := policy.Load(rest[0])
	if err != nil {
		return usageError{err}
	}
	var verifier policy.Verifier = claimsVerifier{}
	bearer := ""
	switch {
	case *token != "":
		z, err := af.authorizer(fs)
		if err != nil {
			return err
		}
		verifier, bearer = z, *token
	case *claimsFile != "":
		b, err := os.ReadFile(*claimsFile)
		if err != nil {
			return usagef("reading claims: %v", err)
		}
		var raw map[string]any
		if err := json.Unmarshal(b, &raw); err != nil {
			return usagef("claims file is not a JSON object: %v", err)
		}
		c, err := cognito.NewClaims(raw)
		if err != nil {
			return usageError{err}
		}
		// Any well-formed bearer token: the verifier ignores it and returns the file's claims.
		verifier, bearer = claimsVerifier{c}, "claims-from-file"
	}

	r := httptest.NewRequestWithContext(ctx, method, strings.TrimLeft(target, " "), nil)
	if bearer != "" {
		r.Header.Set("Authorization", "Bearer "+bearer)
	}
	reached := false
	// The service's Go checks are not here: each passes, and the explanation lists them.
	var checkOpts []policy.MiddlewareOption
	for _, name := range p.Checks() {
		checkOpts = append(checkOpts, policy.WithCheck(name, func(*http.Request, *cognito.Claims) error { return nil }))
	}
	h := policy.Middleware(p, verifier, checkOpts...)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached = true
		w.WriteHeader(http.StatusOK)
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	var problem map[string]any
	_ = json.Unmarshal(rec.Body.Bytes(), &problem)

	var claims *cognito.Claims
	if bearer != "" {
		claims, _ = verifier.Verify(ctx, bearer)
	}
	d := p.Decide(r, claims)
	out := explanation{
		Request:   method + " " + target,
		Route:     d.Route,
		Allowed:   reached,
		Status:    rec.Code,
		Challenge: rec.Header().Get("WWW-Authenticate"),
		Code:      str(problem["code"]),
		TokenErr:  str(problem["token_error"]),
		Why:       str(problem["detail"]),
	}
	if reached {
		out.Code = string(d.Reason)
		out.Checks = d.Checks
		out.Why = "every requirement of the route holds"
		if d.Reason == policy.ReasonPublic {
			out.Why = "the route is public"
		}
	}
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	route := out.Route
	if route == "" {
		route = "(none)"
	}
	decision := "deny"
	if out.Allowed {
		decision = "allow"
	}
	fmt.Fprintf(e.stdout, "request:   %s\nroute:     %s\ndecision:  %s (%s)\nanswer:    %d %s\n",
		out.Request, route, decision, out.Code, out.Status, http.StatusText(out.Status))
	if out.Challenge != "" {
		fmt.Fprintf(e.stdout, "           WWW-Authenticate: %s\n", out.Challenge)
	}
	if out.TokenErr != "" {
		fmt.Fprintf(e.stdout, "token:     %s\n", out.TokenErr)
	}
	fmt.Fprintf(e.stdout, "why:       %s\n", out.Why)
	if len(out.Checks) > 0 {
		fmt.Fprintf(e.stdout, "checks:    %s (the service's Go checks, not run here)\n", strings.Join(out.Checks, ", "))
	}
	return nil
}

type explanation struct {
	Request   string   `json:"request"`
	Route     string   `json:"route"`
	Allowed   bool     `json:"allowed"`
	Status    int      `json:"status"`
	Challenge string   `json:"www_authenticate,omitempty"`
	Code      string   `json:"code"`
	TokenErr  string   `json:"token_error,omitempty"`
	Why       string   `json:"why"`
	Checks    []string `json:"checks,omitempty"` // run by the service, not by explain
}

func str(v any) string {
	s, _ := v.(string)
	return s
}
