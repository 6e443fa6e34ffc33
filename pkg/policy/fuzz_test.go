package policy_test

import (
	"bytes"
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/cognitokit/cognitokit/pkg/cognito"
	"github.com/cognitokit/cognitokit/pkg/policy"
)

// FuzzParse fuzzes the policy loader: whatever the YAML, Parse returns a policy or a
// *LoadError of file:line:col entries naming the file, never panics, and a policy it
// returns decides requests without panicking. Seeds: the example policies of testdata
// and the error cases of TestLoadErrors' kind.
func FuzzParse(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.yaml"))
	if err != nil {
		f.Fatal(err)
	}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, seed := range []string{
		"", "version: 1\n", "version: 1\nroutes: {}\n", "version: 2\nroutes: {}\n",
		"version: 1\ndefault: authenticated\ntoken_use: any\nroutes:\n  \"/\": {}\n",
		"version: 1\nroutes:\n  \"GET /t/{tenant}/{rest...}\":\n    claims:\n      custom:tenant: {equals_param: tenant}\n",
		"version: 1\nroutes:\n  \"GET /a/{x}\": {}\n  \"GET /a/{y}\": {}\n",
		"version: 1\nroutes:\n  \"GET /x\":\n    claims:\n      email: {matches: '(['}\n",
		"version: 1\nroutes:\n  \"GET /x\": {a: [}\n",
		"version: 1\nroutes: &a\n  \"GET /x\": *a\n",
		"version: 1\nopenapi: {file: api.yaml, security_scheme: cognito}\nroutes: {}\n",
		"version: 1\nroutes:\n  \"GET /x\":\n    scopes: {all: [a, b], any: [c]}\n    groups: {any: [g]}\n    clients: [c1]\n    token_use: id\n",
	} {
		f.Add([]byte(seed))
	}
	// The OpenAPI document a policy may import is looked up next to the policy's name:
	// testdata holds api.yaml.
	name := filepath.Join("testdata", "fuzzed.yaml")
	user, err := cognito.NewClaims(map[string]any{"custom:tenant": "acme", "email_verified": true, "sub": "s",
		"client_id": "c1", "token_use": "access", "scope": "a orders/read", "cognito:groups": []any{"g", "admin"}})
	if err != nil {
		f.Fatal(err)
	}
	claims := []*cognito.Claims{nil, user}
	f.Fuzz(func(t *testing.T, data []byte) {
		// A policy is trusted configuration: an import of a device or /proc file is not an
		// input worth fuzzing (and /dev/zero never ends).
		for _, dir := range []string{"/dev/", "/proc/", "/sys/"} {
			if bytes.Contains(data, []byte(dir)) {
				t.Skip()
			}
		}
		p, err := policy.Parse(data, name)
		if err != nil {
			var le *policy.LoadError
			if p != nil || !errors.As(err, &le) || len(le.Errs) == 0 {
				t.Fatalf("Parse = %v, %T %v", p, err, err)
			}
			for _, e := range le.Errs {
				if e == nil || e.File != name || e.Msg == "" {
					t.Fatalf("load error entry %#v", e)
				}
			}
			return
		}
		_ = p.Routes()
		for _, target := range []string{"/", "/x", "/orders/7", "/t/acme/a/b", "//a/../b", "/a/x"} {
			for _, method := range []string{"GET", "POST", "DELETE"} {
				for _, c := range claims {
					d := p.Decide(httptest.NewRequest(method, target, nil), c)
					if d.Status != 200 && d.Status != 401 && d.Status != 403 || d.Allow != (d.Status == 200) {
						t.Fatalf("Decide(%s %s) = %+v", method, target, d)
					}
				}
			}
		}
	})
}
