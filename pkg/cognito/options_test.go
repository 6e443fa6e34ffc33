package cognito

import (
	"net/http"
	"testing"
	"time"
)

// TestOptionsFitTheirConstructor: an option reaches only the constructor it means
// something to. The interfaces are what the compiler checks a call against, so an
// option that does not implement a constructor's interface cannot be passed to it.
func TestOptionsFitTheirConstructor(t *testing.T) {
	tests := []struct {
		name                      string
		opt                       any
		authenticator, authorizer bool
	}{
		{"WithHTTPClient", WithHTTPClient(&http.Client{}), true, true},
		{"WithClock", WithClock(time.Now), true, true},
		{"WithLogger", WithLogger(nil), true, true},
		{"WithExpiryMargin", WithExpiryMargin(time.Second), true, false},
		{"WithRefreshAhead", WithRefreshAhead(0.1), true, false},
		{"WithRetry", WithRetry(RetryPolicy{}), true, false},
		{"WithTokenStore", WithTokenStore(NewMemoryStore()), true, false},
		{"WithEndpoint", WithEndpoint("http://127.0.0.1:1"), false, true},
		{"WithJWKS", WithJWKS(nil), false, true},
		{"WithJWKSRefresh", WithJWKSRefresh(time.Minute), false, true},
		{"WithUnknownKeyCooldown", WithUnknownKeyCooldown(time.Second), false, true},
		{"WithVerifiedCacheSize", WithVerifiedCacheSize(1), false, true},
		{"WithMaxTokenSize", WithMaxTokenSize(1), false, true},
	}
	for _, tt := range tests {
		_, authn := tt.opt.(AuthenticatorOption)
		_, authz := tt.opt.(AuthorizerOption)
		if authn != tt.authenticator || authz != tt.authorizer {
			t.Errorf("%s: an AuthenticatorOption: %v, an AuthorizerOption: %v; want %v, %v",
				tt.name, authn, authz, tt.authenticator, tt.authorizer)
		}
	}
}
