package policy_test

import (
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/cognitokit/cognitokit/pkg/policy"
)

// generatedPolicy has n routes of the shapes real services have: literal paths, path
// wildcards, scopes, groups and claim conditions.
func generatedPolicy(b *testing.B, n int) *policy.Policy {
	b.Helper()
	var sb strings.Builder
	sb.WriteString("version: 1\nroutes:\n")
	for i := range n {
		switch i % 4 {
		case 0:
			fmt.Fprintf(&sb, "  \"GET /svc%d/items/{id}\":\n    scopes: {any: [svc%d/read, svc%d/admin]}\n", i, i, i)
		case 1:
			fmt.Fprintf(&sb, "  \"POST /svc%d/items\":\n    scopes: {all: [svc%d/write]}\n    groups: {any: [ops, admin]}\n", i, i)
		case 2:
			fmt.Fprintf(&sb, "  \"GET /tenants/{tenant}/svc%d/\":\n    claims:\n      custom:tenant: {equals_param: tenant}\n", i)
		case 3:
			fmt.Fprintf(&sb, "  \"GET /public%d\":\n    public: true\n", i)
		}
	}
	p, err := policy.Parse([]byte(sb.String()), "generated.yaml")
	if err != nil {
		b.Fatal(err)
	}
	return p
}

func BenchmarkDecide(b *testing.B) {
	for _, n := range []int{10, 1000, 10000} {
		b.Run(fmt.Sprintf("routes=%d", n), func(b *testing.B) {
			p := generatedPolicy(b, n)
			// A route in the middle of the file, with a wildcard and a scope check.
			i := (n / 2) &^ 3
			r := httptest.NewRequest("GET", fmt.Sprintf("/svc%d/items/42", i), nil)
			c := accessClaims(scopes(fmt.Sprintf("svc%d/admin", i)))
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if d := p.Decide(r, c); !d.Allow {
					b.Fatalf("denied: %+v", d)
				}
			}
		})
	}
}

func BenchmarkDecideTenant(b *testing.B) {
	p := generatedPolicy(b, 1000)
	r := httptest.NewRequest("GET", "/tenants/acme/svc502/orders", nil)
	c := accessClaims(claim("custom:tenant", "acme"))
	b.ReportAllocs()
	for b.Loop() {
		if d := p.Decide(r, c); !d.Allow {
			b.Fatalf("denied: %+v", d)
		}
	}
}
