package cognito

import (
	"errors"
	"strings"
	"testing"
)

func TestJWTAuthorizerConfigFromEnv(t *testing.T) {
	t.Setenv("COGNITO_USER_POOL_ID", " eu-west-1_AbC123xyz ")
	t.Setenv("AWS_REGION", "eu-west-1")
	t.Setenv("COGNITO_CLIENT_ID", "client-1")
	cfg, err := JWTAuthorizerConfigFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.UserPoolID != "eu-west-1_AbC123xyz" || cfg.Region != "eu-west-1" || cfg.Audience != "client-1" {
		t.Fatalf("cfg = %+v", cfg)
	}
	z, err := NewJWTAuthorizer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if want := "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC123xyz"; z.Issuer() != want {
		t.Fatalf("Issuer = %q, want %q", z.Issuer(), want)
	}
}

func TestJWTAuthorizerConfigFromEnvRegionFromPool(t *testing.T) {
	t.Setenv("COGNITO_USER_POOL_ID", "ap-southeast-2_AbC123xyz")
	t.Setenv("AWS_REGION", "")
	t.Setenv("COGNITO_CLIENT_ID", "")
	cfg, err := JWTAuthorizerConfigFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Region != "ap-southeast-2" || cfg.Audience != "" {
		t.Fatalf("cfg = %+v", cfg)
	}
	// Without a client ID the authorizer fails closed: skipping the client check must be
	// asked for.
	if _, err := NewJWTAuthorizer(cfg); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("NewJWTAuthorizer without client = %v, want ErrInvalidConfig", err)
	}
	cfg.AllowAnyClient = true
	if _, err := NewJWTAuthorizer(cfg); err != nil {
		t.Fatal(err)
	}
}

func TestJWTAuthorizerConfigFromEnvMissingPool(t *testing.T) {
	t.Setenv("COGNITO_USER_POOL_ID", "")
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("COGNITO_CLIENT_ID", "client-1")
	_, err := JWTAuthorizerConfigFromEnv()
	if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), "COGNITO_USER_POOL_ID") {
		t.Fatalf("err = %v", err)
	}
}

// TestJWTAuthorizerConfigFromEnvRegionMismatch: the environment's region must agree with
// the pool, caught when the authorizer is built.
func TestJWTAuthorizerConfigFromEnvRegionMismatch(t *testing.T) {
	t.Setenv("COGNITO_USER_POOL_ID", "us-east-1_AbC123xyz")
	t.Setenv("AWS_REGION", "us-west-2")
	t.Setenv("COGNITO_CLIENT_ID", "client-1")
	cfg, err := JWTAuthorizerConfigFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewJWTAuthorizer(cfg); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("err = %v, want ErrInvalidConfig", err)
	}
}
