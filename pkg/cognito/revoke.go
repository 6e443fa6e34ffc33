package cognito

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/cognitokit/cognitokit/gen"
	"github.com/cognitokit/cognitokit/internal/backoff"
)

// RevokerConfig identifies an app client at its user pool domain's revoke endpoint.
type RevokerConfig struct {
	// RevokeURL is the revoke endpoint, "https://<your domain>/oauth2/revoke". Plain http
	// only on loopback hosts.
	RevokeURL string
	// ClientID is the app client the refresh tokens were issued to.
	ClientID string
	// ClientSecret is the app client's secret, sent with HTTP Basic authentication. Empty
	// for a public client: the client ID is then sent in the form.
	ClientSecret string
}

// RevocationWriter puts entries on a revocation list: [MemoryRevocationList] and the
// redisstore package's list are ones.
type RevocationWriter interface {
	// Revoke adds rs to the list and returns them as it holds them.
	Revoke(ctx context.Context, rs ...Revocation) ([]Revocation, error)
}

// Revoke is [MemoryRevocationList.Add]; ctx is not used.
func (l *MemoryRevocationList) Revoke(_ context.Context, rs ...Revocation) ([]Revocation, error) {
	return l.Add(rs...)
}

// RevokerOption tunes a [Revoker]: [WithRevocationWriter], and the shared options
// [WithHTTPClient], [WithClock] and [WithLogger].
type RevokerOption interface {
	applyRevoker(*revokerOptions)
}

type revokerOptions struct {
	sharedOptions
	writer RevocationWriter
}

func (f sharedOption) applyRevoker(o *revokerOptions) { f(&o.sharedOptions) }

type revokerOption func(*revokerOptions)

func (f revokerOption) applyRevoker(o *revokerOptions) { f(o) }

// WithRevocationWriter gives a [Revoker] the list on which [Revoker.Revoke] puts the
// session it ends, such as the fleet's list the service's authorizers enforce. Nil means
// none: Revoke then only revokes at Cognito.
func WithRevocationWriter(w RevocationWriter) RevokerOption {
	return revokerOption(func(o *revokerOptions) { o.writer = w })
}

// Reasons a revocation at Cognito fails. Every [*RevokeError] matches one of them.
var (
	// ErrRevokeInvalidRequest: Cognito answered invalid_request (no token, or a token of
	// another client).
	ErrRevokeInvalidRequest = newReason("invalid_request", "revoke request is invalid")
	// ErrRevokeUnsupportedTokenType: Cognito answered unsupported_token_type (not a
	// refresh token, or token revocation is not enabled on the app client).
	ErrRevokeUnsupportedTokenType = newReason("unsupported_token_type", "token cannot be revoked")
	// ErrRevokeInvalidClient: Cognito answered invalid_client (client authentication
	// failed).
	ErrRevokeInvalidClient = newReason("invalid_client", "client authentication failed")
	// ErrRevokeRejected: Cognito refused the request with another 4xx answer.
	ErrRevokeRejected = newReason("revoke_rejected", "revoke request was rejected")
	// ErrRevokeEndpointUnavailable: network errors, 429 or 5xx outlasted the retries or
	// the caller's context.
	ErrRevokeEndpointUnavailable = newReason("revoke_endpoint_unavailable", "revoke endpoint is unavailable")
)

// RevokeError reports a refresh token that could not be revoked at Cognito. It never
// holds the token, the client secret or the HTTP response.
type RevokeError struct {
	// Reason is one of the ErrRevoke sentinels.
	Reason error
	// ErrorCode and ErrorDescription are Cognito's OAuth error, if it gave one.
	ErrorCode, ErrorDescription string
	// StatusCode is the HTTP status of the last answer; 0 when none was received.
	StatusCode int
	// Err is the underlying cause, if any.
	Err error
}

func (e *RevokeError) Error() string {
	s := "cognito: " + errText(e.Reason, "revocation failed")
	if e.ErrorCode != "" {
		s += ": " + strconv.Quote(e.ErrorCode)
	}
	if e.ErrorDescription != "" {
		s += " (" + strconv.Quote(e.ErrorDescription) + ")"
	}
	if e.StatusCode != 0 {
		s += fmt.Sprintf(", HTTP %d", e.StatusCode)
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the reason and the cause.
func (e *RevokeError) Unwrap() []error { return nonNil(e.Reason, e.Err) }

// ReasonCode returns the snake_case code of the reason, such as "unsupported_token_type".
func (e *RevokeError) ReasonCode() string { return ReasonCode(e.Reason) }

// Revoker revokes refresh tokens at Cognito's revoke endpoint and, given a list, ends their
// session at once on every verifier enforcing it. Build it with [NewRevoker]; it is safe
// for concurrent use.
type Revoker struct {
	cfg       RevokerConfig
	basic     secretString
	client    *gen.Client
	revokeURL *url.URL // set when it is not "<server>/oauth2/revoke"
	writer    RevocationWriter
	clock     func() time.Time
	logger    *slog.Logger
}

// NewRevoker returns a revoker for cfg. It fails with an error matching
// [ErrInvalidConfig] when cfg.RevokeURL is not an absolute https URL (http on loopback) or
// cfg.ClientID is empty. It makes no network call.
func NewRevoker(cfg RevokerConfig, opts ...RevokerOption) (*Revoker, error) {
	if cfg.ClientID == "" {
		return nil, configError("client ID is empty")
	}
	u, err := parseTokenURL(cfg.RevokeURL)
	if err != nil {
		return nil, configError("RevokeURL: %v", strings.TrimPrefix(err.Error(), "cognito: invalid configuration: "))
	}
	o := revokerOptions{sharedOptions: defaultSharedOptions()}
	for _, opt := range opts {
		if opt != nil {
			opt.applyRevoker(&o)
		}
	}
	o.finish()
	r := &Revoker{cfg: cfg, writer: o.writer, clock: o.clock, logger: o.logger}
	if cfg.ClientSecret != "" {
		r.basic = secretString("Basic " + base64.StdEncoding.EncodeToString(
			[]byte(url.QueryEscape(cfg.ClientID)+":"+url.QueryEscape(cfg.ClientSecret))))
	}
	const op = "/oauth2/revoke"
	s := *u
	s.RawQuery, s.ForceQuery, s.RawPath = "", false, ""
	s.Path = strings.TrimSuffix(u.Path, op)
	if !strings.HasSuffix(u.Path, op) || u.RawQuery != "" || u.RawPath != "" {
		r.revokeURL = u
	}
	// The endpoint answers; it never redirects (a redirect would carry the credential).
	noRedirects := *o.httpClient
	noRedirects.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	if r.client, err = gen.NewClient(s.String(), gen.WithHTTPClient(limitedDoer{client: &noRedirects, limit: maxResponseBody}),
		gen.WithRequestEditorFn(r.editRequest)); err != nil {
		return nil, configError("RevokeURL: %v", err)
	}
	return r, nil
}

func (r *Revoker) editRequest(_ context.Context, req *http.Request) error {
	if r.basic != "" {
		req.Header.Set("Authorization", string(r.basic))
	}
	req.Header.Set("Accept", "application/json")
	if r.revokeURL != nil {
		u := *r.revokeURL
		req.URL, req.Host = &u, ""
	}
	return nil
}

// Revoke ends a sign-in session: when session is not nil (the verified claims of an access
// or ID token of that sign-in, such as the ones a logout request carried) and the revoker
// has a list ([WithRevocationWriter]), it first puts the session's origin_jti on the list
// (its jti when the token has no origin_jti: token revocation is disabled on the app
// client), so that every verifier enforcing the list refuses the session's tokens now;
// then it revokes refreshToken at Cognito, so that no new token is issued with it.
//
// Cognito answers 200 for a token already revoked or unknown (RFC 7009), and so does
// Revoke. Network errors, 429 and 5xx are retried (three attempts in all, within ctx),
// then reported with [ErrRevokeEndpointUnavailable]; a refusal is a [*RevokeError] matching
// [ErrRevokeInvalidRequest], [ErrRevokeUnsupportedTokenType], [ErrRevokeInvalidClient] or
// [ErrRevokeRejected]. An error of the list is returned joined with Cognito's, if any:
// either step is done even when the other failed.
func (r *Revoker) Revoke(ctx context.Context, refreshToken string, session *Claims) error {
	var listErr error
	if session != nil && r.writer != nil {
		rev := Revocation{Kind: RevokeOriginJTI, ID: session.OriginJTI, Issuer: session.Issuer}
		if rev.ID == "" {
			rev = Revocation{Kind: RevokeJTI, ID: session.JTI, Issuer: session.Issuer}
		}
		if _, err := r.writer.Revoke(ctx, rev); err != nil {
			listErr = fmt.Errorf("cognito: putting the session on the revocation list: %w", err)
		}
	}
	return errors.Join(listErr, r.revokeAtCognito(ctx, refreshToken))
}

func (r *Revoker) revokeAtCognito(ctx context.Context, refreshToken string) error {
	if refreshToken == "" {
		return &RevokeError{Reason: ErrRevokeInvalidRequest, Err: errors.New("the refresh token is empty")}
	}
	form := gen.PostRevokeFormdataRequestBody{Token: refreshToken}
	if r.basic == "" {
		form.ClientId = r.cfg.ClientID
	}
	wait := backoff.Exponential{First: 100 * time.Millisecond, Max: 2 * time.Second}
	const attempts = 3
	for n := 1; ; n++ {
		retryAfter, err := r.attempt(ctx, form, refreshToken)
		var re *RevokeError
		if err == nil || !errors.As(err, &re) || re.Reason != ErrRevokeEndpointUnavailable || n == attempts {
			return err
		}
		if serr := backoff.Sleep(ctx, wait.Retry(n, retryAfter, nil)); serr != nil {
			return err
		}
	}
}

// attempt makes one request and sorts out the answer.
func (r *Revoker) attempt(ctx context.Context, form gen.PostRevokeFormdataRequestBody, token string) (time.Duration, error) {
	resp, err := r.client.PostRevokeWithFormdataBody(ctx, form)
	if err != nil {
		return 0, &RevokeError{Reason: ErrRevokeEndpointUnavailable, Err: scrubURLError(err)}
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	status := resp.StatusCode
	oe, _ := oauthError(body)
	code, desc := r.scrub(string(oe.Error), 64, token), r.scrub(oe.ErrorDescription, 512, token)
	switch {
	case status == http.StatusOK:
		return 0, nil
	case status == http.StatusTooManyRequests || status >= 500:
		retryAfter, _ := backoff.ParseRetryAfter(resp.Header.Get("Retry-After"), r.clock())
		return retryAfter, &RevokeError{Reason: ErrRevokeEndpointUnavailable, StatusCode: status, ErrorCode: code, ErrorDescription: desc}
	}
	reason := ErrRevokeRejected
	switch oe.Error {
	case gen.InvalidRequest:
		reason = ErrRevokeInvalidRequest
	case gen.UnsupportedTokenType:
		reason = ErrRevokeUnsupportedTokenType
	case gen.InvalidClient:
		reason = ErrRevokeInvalidClient
	}
	return 0, &RevokeError{Reason: reason, StatusCode: status, ErrorCode: code, ErrorDescription: desc}
}

// scrub makes a server-supplied string safe for an error: without the secret or the token
// should the server echo them, and cut to n bytes.
func (r *Revoker) scrub(s string, n int, token string) string {
	for _, secret := range []string{r.cfg.ClientSecret, url.QueryEscape(r.cfg.ClientSecret), token, url.QueryEscape(token)} {
		if secret != "" {
			s = strings.ReplaceAll(s, secret, "REDACTED")
		}
	}
	if len(s) > n {
		s = strings.ToValidUTF8(s[:n], "") + "…"
	}
	return s
}

// scrubURLError keeps a transport error's cause without the request, whose form holds the
// token only in the body, never in the URL: the error names the endpoint and the cause.
func scrubURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
