package cognito

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"
	"sync"

	"github.com/cognitokit/cognitokit/internal/flight"
)

// TokenStore is where a ClientCredentialsAuthenticator keeps its token between requests,
// keyed by [TokenKey]. The authenticator keeps its own copy in memory as well, so a store
// is consulted only when that copy is missing or due for a refresh, never on the cache-hit
// path.
//
// A store failure never fails a caller: the authenticator logs it and fetches a token
// itself. Implementations must be safe for concurrent use.
type TokenStore interface {
	// Load returns the token stored under key, or nil when there is none. It may return an
	// expired token; the authenticator checks.
	Load(ctx context.Context, key string) (*Token, error)
	// Store saves t under key, replacing what was there. A store that expires what it
	// keeps keeps t at least for its fresh window ([Token.FreshWindow]).
	Store(ctx context.Context, key string, t *Token) error
	// Delete removes the token under key if it is still t (the same Token string), so
	// that an authenticator dropping a token rejected downstream does not delete a newer
	// one another authenticator stored.
	Delete(ctx context.Context, key string, t *Token) error
}

// CoalescingStore is a TokenStore that also keeps the authenticators sharing it from
// fetching the same key at the same time: however many of them miss at once, one token
// request goes out. A store shared by a fleet implements it with a lock across processes.
type CoalescingStore interface {
	TokenStore
	// Coalesce calls fetch with the token stored under key (nil when there is none),
	// which a store may read in the same step as it takes its lock, and returns the token
	// fetch returns, having stored it unless it is that stored token itself: fetch makes
	// no store calls of its own. When a Coalesce for key is already running, Coalesce
	// may instead wait for that call and return its result, or wait for it to finish and
	// then call fetch, which is then given the token that call stored.
	//
	// It returns ctx's error if ctx ends while waiting, and an error fetch returns
	// unchanged. If storing the token fails, it returns the token and the error.
	Coalesce(ctx context.Context, key string, fetch func(ctx context.Context, stored *Token) (*Token, error)) (*Token, error)
}

// MemoryStore is a [CoalescingStore] in the process's memory. Authenticators given the same
// MemoryStore with [WithTokenStore] share tokens: two authenticators for the same token
// URL, client ID, secret and scope make one token request between them, even when both
// miss at once. Its zero value is ready to use.
type MemoryStore struct {
	mu      sync.Mutex
	tokens  map[string]*Token
	flights flight.Group[string, *Token]
}

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore { return &MemoryStore{} }

// Load returns the token under key, or nil. It never fails.
func (s *MemoryStore) Load(_ context.Context, key string) (*Token, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tokens[key], nil
}

// Store saves t under key. It never fails.
func (s *MemoryStore) Store(_ context.Context, key string, t *Token) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tokens == nil {
		s.tokens = map[string]*Token{}
	}
	s.tokens[key] = t
	return nil
}

// Delete removes the token under key if it is still t. It never fails.
func (s *MemoryStore) Delete(_ context.Context, key string, t *Token) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if cur, ok := s.tokens[key]; ok && t != nil && cur.Token == t.Token {
		delete(s.tokens, key)
	}
	return nil
}

// Coalesce calls fetch with the token under key and stores the token it returns, or,
// when a call for key is running, waits for it (or for ctx) and returns its result.
// fetch runs in its own goroutine, with ctx's values and deadline but not its
// cancellation, so that the caller that started it giving up does not fail the others
// waiting for it.
func (s *MemoryStore) Coalesce(ctx context.Context, key string, fetch func(ctx context.Context, stored *Token) (*Token, error)) (*Token, error) {
	return s.flights.Do(ctx, key, 0, func(ctx context.Context) (*Token, error) {
		stored, _ := s.Load(ctx, key)
		t, err := fetch(ctx, stored)
		if err == nil && t != nil && t != stored {
			_ = s.Store(ctx, key, t)
		}
		return t, err
	})
}

// TokenKey returns the key under which tokens for cfg are stored: the same for every
// authenticator with the same token URL, client ID, client secret and scope (the order of
// scopes does not matter), different otherwise.
//
// The key holds the client ID in clear, for people reading a shared store, and a hash of
// all four fields, never the secret itself. The secret is in the hash so that an
// authenticator with a wrong or rotated secret never picks up a token it could not have
// obtained; from the 128-bit truncated SHA-256 it cannot be recovered.
func TokenKey(cfg ClientCredentialsConfig) string {
	scopes := strings.Fields(cfg.Scope)
	slices.Sort(scopes)
	h := sha256.New()
	for _, part := range []string{cfg.TokenURL, cfg.ClientID, strings.Join(scopes, " "), cfg.ClientSecret} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	return "cognito:client_credentials:" + cfg.ClientID + ":" + hex.EncodeToString(h.Sum(nil)[:16])
}
