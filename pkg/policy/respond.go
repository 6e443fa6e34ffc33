package policy

import (
	"encoding/json"
	"net/http"
	"strings"
)

// Denial is a refused request, as handed to the error writer.
type Denial struct {
	// Status is 401, 403, 503, or 500 for ReasonMisconfigured.
	Status int
	// Code is the outcome's stable code: a Decision's Reason, or ReasonInvalidToken,
	// ReasonKeysUnavailable or ReasonRevocationUnavailable. It is the problem body's "code" and the logs' "code".
	Code Reason
	// TokenError is the verifier's reason code when Code is ReasonInvalidToken (such as
	// "expired", from cognito.ReasonCode). It is the problem body's "token_error" and the
	// logs' "token_error".
	TokenError string
	// Detail explains the denial without token or claim values.
	Detail string
	// Route is the matched route pattern, if any.
	Route string
	// Check is the name of the check that refused the request, when Code is
	// ReasonCheckFailed. It is the problem body's "check".
	Check string
	// Scopes are the scopes the route needs, for insufficient_scope.
	Scopes []string
	// Challenge is the WWW-Authenticate value to send; empty for none.
	Challenge string
}

// ErrorWriter writes the answer to a denied request. The default writes RFC 9457
// application/problem+json.
type ErrorWriter func(w http.ResponseWriter, r *http.Request, d Denial)

// problem is an RFC 9457 problem details body; code is an extension member.
type problem struct {
	Type       string `json:"type"`
	Title      string `json:"title"`
	Status     int    `json:"status"`
	Detail     string `json:"detail,omitempty"`
	Code       Reason `json:"code"`
	TokenError string `json:"token_error,omitempty"`
	Scope      string `json:"scope,omitempty"`
	Check      string `json:"check,omitempty"`
}

// WriteProblem is the default ErrorWriter: the challenge header, Cache-Control: no-store
// and a problem+json body. It never echoes the token.
func WriteProblem(w http.ResponseWriter, _ *http.Request, d Denial) {
	h := w.Header()
	if d.Challenge != "" {
		h.Set("WWW-Authenticate", d.Challenge)
	}
	if d.Status == http.StatusServiceUnavailable {
		h.Set("Retry-After", "5")
	}
	h.Set("Content-Type", "application/problem+json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(d.Status)
	_ = json.NewEncoder(w).Encode(problem{
		Type:       "about:blank",
		Title:      http.StatusText(d.Status),
		Status:     d.Status,
		Detail:     d.Detail,
		Code:       d.Code,
		TokenError: d.TokenError,
		Scope:      strings.Join(d.Scopes, " "),
		Check:      d.Check,
	})
}

// challenge builds an RFC 6750 WWW-Authenticate value: Bearer realm="…" followed by the
// given attribute pairs.
func challenge(realm string, attrs ...string) string {
	var b strings.Builder
	b.WriteString(`Bearer realm="`)
	b.WriteString(quoteEscape(realm))
	b.WriteByte('"')
	for i := 0; i+1 < len(attrs); i += 2 {
		b.WriteString(", ")
		b.WriteString(attrs[i])
		b.WriteString(`="`)
		b.WriteString(quoteEscape(attrs[i+1]))
		b.WriteByte('"')
	}
	return b.String()
}

func quoteEscape(s string) string {
	if !strings.ContainsAny(s, "\"\\\r\n") {
		return s
	}
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\r", "", "\n", "")
	return r.Replace(s)
}
