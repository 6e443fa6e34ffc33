package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"strings"
	"time"

	"github.com/cognitokit/cognitokit/pkg/cognito"
)

const tokenSynopsis = `Usage: cognitokit token [flags]

Gets an access token with the OAuth 2.0 client-credentials grant and prints the token
response as JSON (--raw: only the access token). Every flag falls back to its environment
variable. Prefer --client-secret-file or COGNITO_CLIENT_SECRET to --client-secret, which
other users of the machine can see in the process list. --metrics prints the
OpenTelemetry metrics of the run (token requests by outcome, their duration, cache use)
on stderr.`

func runToken(ctx context.Context, e env, args []string) error {
	fs := newFlagSet("token", tokenSynopsis, e.stdout)
	tokenURL := fs.String("token-url", os.Getenv("COGNITO_TOKEN_URL"), "token endpoint URL, https://<domain>/oauth2/token (env COGNITO_TOKEN_URL)")
	domain := fs.String("domain", os.Getenv("COGNITO_DOMAIN"), "user pool domain; the token URL becomes https://<domain>/oauth2/token (env COGNITO_DOMAIN)")
	clientID := fs.String("client-id", os.Getenv("COGNITO_CLIENT_ID"), "app client ID (env COGNITO_CLIENT_ID)")
	secret := fs.String("client-secret", "", "app client secret (env COGNITO_CLIENT_SECRET)")
	secretFile := fs.String("client-secret-file", "", "file holding the app client secret")
	scope := fs.String("scope", os.Getenv("COGNITO_SCOPE"), "space-separated scopes; empty asks for all the client's scopes (env COGNITO_SCOPE)")
	raw := fs.Bool("raw", false, "print only the access token")
	timeout := fs.Duration("timeout", 30*time.Second, "give up after this long")
	metrics := fs.Bool("metrics", false, "print the metrics of the run on stderr")
	rest, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usagef("unexpected argument %q", rest[0])
	}
	cfg := cognito.ClientCredentialsConfig{ClientID: *clientID, TokenURL: *tokenURL, Scope: *scope}
	switch {
	case *secret != "" && *secretFile != "":
		return usagef("give --client-secret or --client-secret-file, not both")
	case *secretFile != "":
		b, err := os.ReadFile(*secretFile)
		if err != nil {
			return usagef("reading the client secret: %v", err)
		}
		cfg.ClientSecret = strings.TrimSpace(string(b))
	case *secret != "":
		cfg.ClientSecret = *secret
	default:
		cfg.ClientSecret = os.Getenv("COGNITO_CLIENT_SECRET")
	}
	if cfg.TokenURL == "" && *domain != "" {
		d := strings.TrimSuffix(strings.TrimPrefix(*domain, "https://"), "/")
		cfg.TokenURL = "https://" + d + "/oauth2/token"
	}
	if cfg.TokenURL == "" {
		return usagef("no token endpoint: give --token-url or --domain (or COGNITO_TOKEN_URL / COGNITO_DOMAIN)")
	}
	var opts []cognito.AuthenticatorOption
	if *metrics {
		m := newRunMetrics()
		opts = append(opts, cognito.WithMeterProvider(m.provider))
		defer func() { _ = m.print(context.WithoutCancel(ctx), e.stderr) }()
	}
	authn, err := cognito.NewClientCredentialsAuthenticator(cfg, opts...)
	if err != nil {
		return usageError{err}
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	fmt.Fprintf(e.stderr, "requesting a token from %s\n", cfg.TokenURL)
	tok, err := authn.GetToken(ctx)
	if err != nil {
		return err
	}
	if *raw {
		fmt.Fprintln(e.stdout, tok.Token)
		return nil
	}
	enc := json.NewEncoder(e.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		ExpiresIn   int64  `json:"expires_in"`
		ExpiresAt   string `json:"expires_at"`
		Scope       string `json:"scope,omitempty"`
	}{
		AccessToken: tok.Token,
		TokenType:   tok.TokenType,
		ExpiresIn:   int64(math.Round(time.Until(tok.ExpiresAt).Seconds())),
		ExpiresAt:   tok.ExpiresAtISO(),
		Scope:       tok.Scope,
	})
}
