package cognito

import "context"

// TokenStore is where a ClientCredentialsAuthenticator keeps its token between requests,
// keyed by the token URL, client ID and scope. The authenticator keeps its own copy in
// memory as well, so a store is consulted only when that copy is missing or stale.
type TokenStore interface {
	// Load returns the token stored under key, or nil when there is none.
	Load(ctx context.Context, key string) (*Token, error)
	// Store saves t under key.
	Store(ctx context.Context, key string, t *Token) error
	// Delete removes the token under key if it is still t.
	Delete(ctx context.Context, key string, t *Token) error
}
