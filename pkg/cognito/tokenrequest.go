package cognito

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/cognitokit/cognitokit/gen"
	"github.com/cognitokit/cognitokit/internal/backoff"
)

// tokenServer returns the server URL to give the generated client, which posts to the
// spec's operation path "/oauth2/token" under it, and whether it then posts to exactly u:
// when u is "<server>/oauth2/token" with no query and no unusual escaping, as Cognito's
// token URLs are (a path prefix, such as a proxy's, is part of the server).
func tokenServer(u *url.URL) (server string, exact bool) {
	const op = "/oauth2/token"
	s := *u
	s.RawQuery, s.ForceQuery = "", false
	s.Path, s.RawPath = strings.TrimSuffix(u.Path, op), ""
	exact = strings.HasSuffix(u.Path, op) && u.RawQuery == "" && !u.ForceQuery && u.RawPath == ""
	return s.String(), exact
}

// editRequest authenticates a token request (RFC 6749 §2.3.1: HTTP Basic of the
// form-urlencoded client ID and secret). A token URL that is not "<server>/oauth2/token"
// (another path, a query: an OAuth server that is not Cognito, or a gateway) cannot be
// expressed by the spec, whose operation path is fixed; it is set on the request here.
func (a *ClientCredentialsAuthenticator) editRequest(_ context.Context, req *http.Request) error {
	req.Header.Set("Authorization", string(a.basic))
	req.Header.Set("Accept", "application/json")
	if a.tokenURL != nil {
		u := *a.tokenURL
		req.URL, req.Host = &u, ""
	}
	return nil
}

// fetch requests a token, with retries, unless a cool-down holds requests off (see
// circuit.go): every token request this package makes goes through here.
func (a *ClientCredentialsAuthenticator) fetch(ctx context.Context) (*Token, error) {
	if ae := a.heldOff(a.now()); ae != nil {
		return nil, ae
	}
	r := a.retry
	if a.circuit.probing() {
		r.policy.MaxAttempts = 1
	}
	var tok *Token
	var lastRetryAfter time.Duration
	attempts, err := r.do(ctx, func(ctx context.Context) (time.Duration, bool, error) {
		t, retryAfter, retryable, err := a.observedRequest(ctx)
		tok, lastRetryAfter = t, retryAfter
		return retryAfter, retryable, err
	})
	if err != nil {
		var ae *AuthenticationError
		if errors.As(err, &ae) {
			ae.Attempts = attempts
			a.trip(ctx, ae, lastRetryAfter)
		}
		return nil, err
	}
	a.reset(ctx)
	// The stores that keep it ask the token how long it is served (Token.FreshWindow).
	tok.margin, tok.hasMargin = a.margin, true
	return tok, nil
}

// request makes one token request and sorts out the answer.
func (a *ClientCredentialsAuthenticator) request(ctx context.Context) (tok *Token, retryAfter time.Duration, retryable bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, a.attemptTimeout)
	defer cancel()
	sent := a.now()
	// The generated request, read here rather than by PostTokenWithFormdataBodyWithResponse:
	// its parser returns no response, status included, when a body does not decode, and a
	// 4xx must never be mistaken for a retryable failure. The body is decoded into the
	// generated models (decodeAnswer, oauthError).
	resp, err := a.client.PostTokenWithFormdataBody(ctx, a.form)
	if err != nil {
		if errors.Is(err, errBodyTooLarge) {
			return nil, 0, false, &AuthenticationError{Reason: ErrInvalidTokenResponse, Err: errBodyTooLarge}
		}
		return nil, 0, true, &AuthenticationError{Reason: ErrTokenEndpointUnavailable, Err: err}
	}
	defer resp.Body.Close()
	body, readErr := io.ReadAll(resp.Body)
	status := resp.StatusCode
	if readErr != nil && !errors.Is(readErr, errBodyTooLarge) {
		return nil, 0, true, &AuthenticationError{Reason: ErrTokenEndpointUnavailable, StatusCode: status, Err: readErr}
	}
	switch {
	case status == http.StatusOK:
		if readErr != nil {
			return nil, 0, false, &AuthenticationError{Reason: ErrInvalidTokenResponse, StatusCode: status, Err: errBodyTooLarge}
		}
		t, err := tokenFromAnswer(body, resp.Header.Get("Content-Type"), sent, a.now(), a.cfg.Scope)
		var oe *oauthAnswerError
		switch {
		case errors.As(err, &oe):
			return nil, 0, false, a.rejection(status, oe.code, oe.description)
		case err != nil:
			return nil, 0, false, &AuthenticationError{Reason: ErrInvalidTokenResponse, StatusCode: status, Err: err}
		}
		return t, 0, false, nil
	case status == http.StatusTooManyRequests || status >= 500:
		retryAfter, _ = backoff.ParseRetryAfter(resp.Header.Get("Retry-After"), a.now())
		oe, _ := oauthError(body)
		return nil, retryAfter, true, &AuthenticationError{Reason: ErrTokenEndpointUnavailable, StatusCode: status,
			ErrorCode: a.scrub(string(oe.Error), 64), ErrorDescription: a.scrub(oe.ErrorDescription, 512)}
	case status >= 400:
		oe, _ := oauthError(body)
		return nil, 0, false, a.rejection(status, string(oe.Error), oe.ErrorDescription)
	default:
		return nil, 0, false, &AuthenticationError{Reason: ErrInvalidTokenResponse, StatusCode: status,
			Err: fmt.Errorf("unexpected HTTP status %d", status)}
	}
}

// rejection is the error for an OAuth error answer.
func (a *ClientCredentialsAuthenticator) rejection(status int, code, description string) *AuthenticationError {
	return &AuthenticationError{Reason: ErrTokenRequestRejected, StatusCode: status,
		ErrorCode: a.scrub(code, 64), ErrorDescription: a.scrub(description, 512)}
}

// oauthError decodes an OAuth error body (RFC 6749 §5.2).
func oauthError(body []byte) (oe gen.OAuthError, ok bool) {
	if len(body) == 0 || json.Unmarshal(body, &oe) != nil || oe.Error == "" {
		return gen.OAuthError{}, false
	}
	return oe, true
}

// scrub makes a server-supplied string safe for an error: cut to n bytes, and with the
// client secret removed should the server echo it.
func (a *ClientCredentialsAuthenticator) scrub(s string, n int) string {
	for _, secret := range []string{a.cfg.ClientSecret, url.QueryEscape(a.cfg.ClientSecret), strings.TrimPrefix(string(a.basic), "Basic ")} {
		if secret != "" {
			s = strings.ReplaceAll(s, secret, "REDACTED")
		}
	}
	if len(s) > n {
		s = strings.ToValidUTF8(s[:n], "") + "…"
	}
	return s
}
