package cognito

import (
	"errors"
	"fmt"
	"testing"
)

// TestReasonCodeNames: ReasonCode means this package's reason code wherever it appears
// (the function, both error types, the sentinels), and ErrorCode only the OAuth error an
// endpoint answered.
func TestReasonCodeNames(t *testing.T) {
	authn := &AuthenticationError{Reason: ErrTokenRequestRejected, ErrorCode: "invalid_client", StatusCode: 400}
	authz := &AuthorizationError{Reason: ErrTokenExpired, Detail: "exp is past"}
	for _, tt := range []struct {
		err    error
		method string
		want   string
	}{
		{authn, authn.ReasonCode(), "token_request_rejected"},
		{authz, authz.ReasonCode(), "expired"},
		{fmt.Errorf("wrapped: %w", authz), authz.ReasonCode(), "expired"},
	} {
		if got := ReasonCode(tt.err); got != tt.want || tt.method != tt.want {
			t.Errorf("%v: ReasonCode = %q, method %q; want %q", tt.err, got, tt.method, tt.want)
		}
	}
	var sentinel interface{ ReasonCode() string }
	if !errors.As(ErrInvalidSignature, &sentinel) || sentinel.ReasonCode() != "invalid_signature" {
		t.Errorf("ErrInvalidSignature has no ReasonCode method, or the wrong code")
	}
	if got, want := authn.Error(), `cognito: token request was rejected: "invalid_client", HTTP 400`; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if (&AuthorizationError{}).ReasonCode() != "" || (&AuthenticationError{}).ReasonCode() != "" {
		t.Error("an error without a reason has a reason code")
	}
}
