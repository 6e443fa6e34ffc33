package orders

import (
	_ "embed"

	"github.com/cognitokit/cognitokit/pkg/policy"
)

// RoutesYAML is routes.yaml, the service's route policy, built into the binary.
//
//go:embed routes.yaml
var RoutesYAML []byte

// Policy returns the built-in route policy.
func Policy() (*policy.Policy, error) {
	return policy.Parse(RoutesYAML, "examples/orders/routes.yaml")
}
