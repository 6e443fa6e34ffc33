package cognito

import (
	"os"
	"strings"
)

// getenv is the only place this package reads the environment.
func getenv(name string) string { return strings.TrimSpace(os.Getenv(name)) }

// ClientCredentialsConfigFromEnv reads a ClientCredentialsConfig from COGNITO_CLIENT_ID,
// COGNITO_CLIENT_SECRET, COGNITO_SCOPE and the token URL: COGNITO_TOKEN_URL if set, else
// "https://<COGNITO_DOMAIN>/oauth2/token". Missing values are an error matching
// [ErrInvalidConfig] that names them (never their values).
func ClientCredentialsConfigFromEnv() (ClientCredentialsConfig, error) {
	cfg := ClientCredentialsConfig{
		ClientID:     getenv("COGNITO_CLIENT_ID"),
		ClientSecret: getenv("COGNITO_CLIENT_SECRET"),
		TokenURL:     getenv("COGNITO_TOKEN_URL"),
		Scope:        getenv("COGNITO_SCOPE"),
	}
	if cfg.TokenURL == "" {
		if domain := getenv("COGNITO_DOMAIN"); domain != "" {
			domain = strings.TrimSuffix(strings.TrimPrefix(domain, "https://"), "/")
			cfg.TokenURL = "https://" + domain + "/oauth2/token"
		}
	}
	var missing []string
	if cfg.ClientID == "" {
		missing = append(missing, "COGNITO_CLIENT_ID")
	}
	if cfg.ClientSecret == "" {
		missing = append(missing, "COGNITO_CLIENT_SECRET")
	}
	if cfg.TokenURL == "" {
		missing = append(missing, "COGNITO_TOKEN_URL or COGNITO_DOMAIN")
	}
	if len(missing) > 0 {
		return cfg, configError("missing environment variables: %s", strings.Join(missing, ", "))
	}
	return cfg, nil
}

// JWTAuthorizerConfigFromEnv reads a JWTAuthorizerConfig from COGNITO_USER_POOL_ID,
// AWS_REGION (or, when unset, the region prefix of the pool ID) and COGNITO_CLIENT_ID (the
// audience, optional).
func JWTAuthorizerConfigFromEnv() (JWTAuthorizerConfig, error) {
	cfg := JWTAuthorizerConfig{
		UserPoolID: getenv("COGNITO_USER_POOL_ID"),
		Region:     getenv("AWS_REGION"),
		Audience:   getenv("COGNITO_CLIENT_ID"),
	}
	if cfg.UserPoolID == "" {
		return cfg, configError("missing environment variable COGNITO_USER_POOL_ID")
	}
	if cfg.Region == "" {
		cfg.Region, _, _ = strings.Cut(cfg.UserPoolID, "_")
	}
	return cfg, nil
}
