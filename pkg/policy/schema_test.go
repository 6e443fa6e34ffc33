package policy_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/cognitokit/cognitokit/pkg/policy"
)

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want string // "line:col: substring"
	}{
		{"unknown top-level key", "version: 1\nroutes: {}\ndefualt: deny\n", `3:1: unknown key "defualt"`},
		{"missing version", "routes: {}\n", "1:1: missing version"},
		{"unsupported version", "version: 2\nroutes: {}\n", `1:10: unsupported version "2"`},
		{"version as string", "version: \"1\"\nroutes: {}\n", `1:10: unsupported version "1"`},
		{"bad default", "version: 1\ndefault: allow\nroutes: {}\n", `2:10: default must be one of deny, authenticated, got "allow"`},
		{"bad token_use", "version: 1\ntoken_use: refresh\nroutes: {}\n", "2:12: token_use must be one of access, id, any"},
		{"routes not a mapping", "version: 1\nroutes: [a]\n", "2:9: routes must be a mapping, got a list"},
		{"unknown route key", "version: 1\nroutes:\n  \"GET /x\":\n    scope: {any: [a]}\n", `4:5: unknown key "scope" in route`},
		{"route not a mapping", "version: 1\nroutes:\n  \"GET /x\": true\n", `3:13: route "GET /x" must be a mapping, got a boolean`},
		{"public with requirement", "version: 1\nroutes:\n  \"GET /x\":\n    public: true\n    scopes: {any: [a]}\n",
			`5:5: route "GET /x" is public: "scopes" cannot be combined with public: true`},
		{"public not bool", "version: 1\nroutes:\n  \"GET /x\":\n    public: \"yes\"\n", "4:13: public must be true or false, got a string"},
		{"empty any", "version: 1\nroutes:\n  \"GET /x\":\n    scopes: {any: []}\n", "4:19: scopes.any must not be empty"},
		{"empty scopes mapping", "version: 1\nroutes:\n  \"GET /x\":\n    scopes: {}\n", "4:13: scopes needs any or all"},
		{"unknown set key", "version: 1\nroutes:\n  \"GET /x\":\n    groups: {some: [a]}\n", `4:14: unknown key "some" in groups (expected any or all)`},
		{"scope not a string", "version: 1\nroutes:\n  \"GET /x\":\n    scopes: {all: [1]}\n", "4:20: scopes.all entries must be a string, got a number"},
		{"unknown operator", "version: 1\nroutes:\n  \"GET /x\":\n    claims:\n      email: {like: a}\n", `5:15: unknown operator "like" for claim "email"`},
		{"bad regex", "version: 1\nroutes:\n  \"GET /x\":\n    claims:\n      email: {matches: '(['}\n", "5:24: claim \"email\" matches: invalid RE2"},
		{"equals_param unknown wildcard", "version: 1\nroutes:\n  \"GET /t/{tenant}\":\n    claims:\n      custom:tenant: {equals_param: org}\n",
			"5:37: claim \"custom:tenant\" equals_param: the route pattern has no wildcard {org}"},
		{"equals list", "version: 1\nroutes:\n  \"GET /x\":\n    claims:\n      a: {equals: [1]}\n", "5:19: claim \"a\" equals must be a string, a boolean or a number, got a list"},
		{"one_of empty", "version: 1\nroutes:\n  \"GET /x\":\n    claims:\n      a: {one_of: []}\n", "5:19: claim \"a\" one_of must be a non-empty list"},
		{"duplicate route", "version: 1\nroutes:\n  \"GET /x\": {}\n  \"GET /x\": {}\n", `4:3: duplicate key "GET /x" in routes (first at line 3)`},
		{"conflicting patterns", "version: 1\nroutes:\n  \"GET /a/{x}\": {}\n  \"GET /a/{y}\": {}\n",
			`4:3: route "GET /a/{y}" conflicts with route "GET /a/{x}" (line 3)`},
		{"conflict across method and path", "version: 1\nroutes:\n  \"GET /a/{x}/c\": {}\n  \"/a/b/{y}\": {}\n",
			`4:3: route "/a/b/{y}" conflicts with route "GET /a/{x}/c" (line 3)`},
		{"invalid pattern", "version: 1\nroutes:\n  \"GET /a/{x\": {}\n", `3:3: invalid route pattern "GET /a/{x"`},
		{"invalid method pattern", "version: 1\nroutes:\n  \"GET  \": {}\n", `3:3: invalid route pattern`},
		{"clients empty", "version: 1\nroutes:\n  \"GET /x\":\n    clients: []\n", "4:14: clients must not be empty"},
		{"syntax error", "version: 1\nroutes:\n  \"GET /x\": {a: [}\n", "2:1: invalid YAML"},
		{"empty file", "", "1:1: empty policy file"},
		{"openapi missing scheme", "version: 1\nopenapi: {file: api.yaml}\n", "2:10: openapi needs both file and security_scheme"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := policy.Parse([]byte(tt.yaml), "routes.yaml")
			if err == nil {
				t.Fatal("Parse succeeded; want an error")
			}
			var le *policy.LoadError
			if !errors.As(err, &le) {
				t.Fatalf("error %T is not a *policy.LoadError: %v", err, err)
			}
			if !strings.Contains(err.Error(), "routes.yaml:"+tt.want) {
				t.Errorf("error:\n%v\nwant it to contain %q", err, "routes.yaml:"+tt.want)
			}
		})
	}
}

func TestLoadErrorListsEveryProblem(t *testing.T) {
	_, err := policy.Parse([]byte("version: 1\nbogus: 1\nroutes:\n  \"GET /x\":\n    nope: 1\n"), "r.yaml")
	var le *policy.LoadError
	if !errors.As(err, &le) || len(le.Errs) != 2 {
		t.Fatalf("got %v; want two located errors", err)
	}
	var located *policy.Error
	if !errors.As(err, &located) || located.Line != 2 {
		t.Errorf("first located error = %+v", located)
	}
}

func TestLoadMissingFile(t *testing.T) {
	if _, err := policy.Load("testdata/does-not-exist.yaml"); err == nil {
		t.Fatal("Load of a missing file succeeded")
	}
}
