package cognito

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cognitokit/cognitokit/pkg/cognitotest"
)

func TestTokenKey(t *testing.T) {
	base := ClientCredentialsConfig{ClientID: "client-1", ClientSecret: "the-secret-value",
		TokenURL: "https://a.example.com/oauth2/token", Scope: "orders/read orders/write"}
	key := TokenKey(base)
	if !strings.Contains(key, "client-1") {
		t.Errorf("key %q does not name the client", key)
	}
	if strings.Contains(key, base.ClientSecret) {
		t.Errorf("key %q holds the secret", key)
	}
	same := base
	same.Scope = "  orders/write   orders/read "
	if TokenKey(same) != key {
		t.Error("the order of scopes changed the key")
	}
	for name, mutate := range map[string]func(*ClientCredentialsConfig){
		"token URL": func(c *ClientCredentialsConfig) { c.TokenURL = "https://b.example.com/oauth2/token" },
		"client ID": func(c *ClientCredentialsConfig) { c.ClientID = "client-2" },
		"secret":    func(c *ClientCredentialsConfig) { c.ClientSecret = "another-secret" },
		"scope":     func(c *ClientCredentialsConfig) { c.Scope = "orders/read" },
		"no scope":  func(c *ClientCredentialsConfig) { c.Scope = "" },
	} {
		other := base
		mutate(&other)
		if TokenKey(other) == key {
			t.Errorf("a different %s gives the same key", name)
		}
	}
}

func TestMemoryStore(t *testing.T) {
	ctx := context.Background()
	var s MemoryStore // the zero value is ready
	if tok, err := s.Load(ctx, "k"); tok != nil || err != nil {
		t.Fatalf("Load of an empty store = %v, %v", tok, err)
	}
	if err := s.Delete(ctx, "k", &Token{Token: "x"}); err != nil {
		t.Fatal(err)
	}
	t1, t2 := &Token{Token: "one"}, &Token{Token: "two"}
	_ = s.Store(ctx, "k", t1)
	_ = s.Store(ctx, "other", t2)
	if tok, _ := s.Load(ctx, "k"); tok != t1 {
		t.Fatalf("Load = %v; want one", tok)
	}
	_ = s.Delete(ctx, "k", t2) // not the stored token: kept
	if tok, _ := s.Load(ctx, "k"); tok != t1 {
		t.Fatal("Delete removed a token it was not given")
	}
	_ = s.Delete(ctx, "k", &Token{Token: "one"}) // same token string: removed
	if tok, _ := s.Load(ctx, "k"); tok != nil {
		t.Fatal("Delete kept the token")
	}
	if tok, _ := s.Load(ctx, "other"); tok != t2 {
		t.Fatal("Delete touched another key")
	}
}

func TestMemoryStoreCoalesce(t *testing.T) {
	s := NewMemoryStore()
	var calls atomic.Int64
	release := make(chan struct{})
	entered := make(chan struct{})
	fetch := func(context.Context, *Token) (*Token, error) {
		if calls.Add(1) == 1 {
			close(entered)
		}
		<-release
		return &Token{Token: "shared"}, nil
	}
	results := make(chan *Token, 100)
	go func() {
		tok, _ := s.Coalesce(context.Background(), "k", fetch)
		results <- tok
	}()
	<-entered
	for range 99 {
		go func() {
			tok, _ := s.Coalesce(context.Background(), "k", fetch)
			results <- tok
		}()
	}
	// A waiter whose context ends returns without waiting for the fetch.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if tok, err := s.Coalesce(ctx, "k", fetch); tok != nil || !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled waiter got %v, %v", tok, err)
	}
	if n := calls.Load(); n != 1 {
		t.Fatalf("fetch calls while the first runs = %d; want 1", n)
	}
	// Another key is not held up.
	if tok, err := s.Coalesce(context.Background(), "other", func(context.Context, *Token) (*Token, error) {
		return &Token{Token: "o"}, nil
	}); err != nil || tok.Token != "o" {
		t.Errorf("other key: %v, %v", tok, err)
	}
	close(release)
	for range 100 {
		if tok := within(t, results, 10*time.Second, "a Coalesce result"); tok == nil || tok.Token != "shared" {
			t.Fatalf("got %v", tok)
		}
	}
	failing := errors.New("fetch failed")
	if _, err := s.Coalesce(context.Background(), "k", func(context.Context, *Token) (*Token, error) { return nil, failing }); err != failing {
		t.Errorf("fetch error passed as %v", err)
	}
	// fetch is given what is stored, and what it returns is stored.
	shared, _ := s.Load(context.Background(), "k")
	if shared == nil || shared.Token != "shared" {
		t.Fatalf("stored after the fetch: %v; want its token", shared)
	}
	var given *Token
	if tok, _ := s.Coalesce(context.Background(), "k", func(_ context.Context, stored *Token) (*Token, error) {
		given = stored
		return stored, nil
	}); tok != shared || given != shared {
		t.Errorf("fetch given %v and Coalesce returned %v; want the stored token both times", given, tok)
	}
}

// The caller that started a fetch giving up returns at once, but does not end the fetch,
// which others may be waiting for.
func TestMemoryStoreCoalesceStarterGivesUp(t *testing.T) {
	s := NewMemoryStore()
	entered, release := make(chan struct{}), make(chan struct{})
	fetchErr := make(chan error, 1)
	starter, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := s.Coalesce(starter, "k", func(ctx context.Context, _ *Token) (*Token, error) {
			close(entered)
			<-release
			fetchErr <- ctx.Err()
			return &Token{Token: "shared"}, nil
		})
		done <- err
	}()
	<-entered
	cancel()
	if err := within(t, done, 10*time.Second, "the starter's return"); !errors.Is(err, context.Canceled) {
		t.Errorf("starter got %v; want its context's error", err)
	}
	close(release)
	if err := within(t, fetchErr, 10*time.Second, "the fetch's end"); err != nil {
		t.Errorf("the fetch's context ended with its starter's: %v", err)
	}
}

func TestSharedStoreTwoAuthenticatorsFetchOnce(t *testing.T) {
	g := startGatedCognito(t, 0)
	cfg := configFor(g.Server, "orders-reader")
	cfg.TokenURL = g.URL + "/oauth2/token"
	store := NewMemoryStore()
	a1, _ := newAuth(t, cfg, WithTokenStore(store))
	a2, _ := newAuth(t, cfg, WithTokenStore(store))

	var wg sync.WaitGroup
	tokens := make(chan string, 2000)
	for i := range 2000 {
		a := a1
		if i%2 == 1 {
			a = a2
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			tok, err := a.GetToken(context.Background())
			if err != nil {
				t.Error(err)
				return
			}
			tokens <- tok.Token
		}()
	}
	within(t, g.entered, 10*time.Second, "the token request")
	close(g.release)
	wg.Wait()
	close(tokens)
	first := ""
	for tok := range tokens {
		if first == "" {
			first = tok
		}
		if tok != first {
			t.Fatal("the authenticators got different tokens")
		}
	}
	if n := g.Requests(cognitotest.EndpointToken); n != 1 {
		t.Errorf("token requests = %d; want 1 for both authenticators", n)
	}

	// A third authenticator with the same config starts from the store.
	a3, _ := newAuth(t, cfg, WithTokenStore(store))
	if tok := mustToken(t, a3); tok.Token != first {
		t.Error("a third authenticator did not take the stored token")
	}
	// One with another secret does not.
	other := cfg
	other.ClientSecret = "wrong"
	a4, _ := newAuth(t, other, WithTokenStore(store))
	if _, err := a4.GetToken(context.Background()); !errors.Is(err, ErrTokenRequestRejected) {
		t.Errorf("an authenticator with a wrong secret got %v; want a rejection", err)
	}
	if n := g.Requests(cognitotest.EndpointToken); n != 2 {
		t.Errorf("token requests = %d; want 2", n)
	}
}

func TestSharedStoreRefreshIsShared(t *testing.T) {
	te := startTokenEndpoint(t, nil)
	clock := newFakeClock()
	store := NewMemoryStore()
	cfg := testConfig(te.TokenURL())
	a1, _ := newAuth(t, cfg, WithTokenStore(store), WithClock(clock.Now))
	a2, _ := newAuth(t, cfg, WithTokenStore(store), WithClock(clock.Now))
	old := mustToken(t, a1)
	if mustToken(t, a2) != old || te.requests.Load() != 1 {
		t.Fatal("the second authenticator did not start from the store")
	}
	clock.Advance(3000 * time.Second) // refresh-ahead window
	mustToken(t, a1)
	waitFlight(a1)
	fresh := mustToken(t, a1)
	if fresh.Token == old.Token || te.requests.Load() != 2 {
		t.Fatalf("a1 did not refresh: %v, %d requests", fresh, te.requests.Load())
	}
	// a2 reaches its own refresh point and finds a1's token in the store.
	mustToken(t, a2)
	waitFlight(a2)
	if tok := mustToken(t, a2); tok.Token != fresh.Token {
		t.Errorf("a2 has %v; want a1's refreshed token", tok)
	}
	if n := te.requests.Load(); n != 2 {
		t.Errorf("token requests = %d; want 2", n)
	}
}

// failingStore fails every call, as a store whose backend is down.
type failingStore struct{}

var errStoreDown = errors.New("store backend down")

func (failingStore) Load(context.Context, string) (*Token, error) { return nil, errStoreDown }
func (failingStore) Store(context.Context, string, *Token) error  { return errStoreDown }
func (failingStore) Delete(context.Context, string, *Token) error { return errStoreDown }
func (failingCoalescingStore) Coalesce(context.Context, string, func(context.Context, *Token) (*Token, error)) (*Token, error) {
	return nil, errStoreDown
}

type failingCoalescingStore struct{ failingStore }

// staleStore always hands back the token it was first given, as a store whose Delete
// silently does nothing.
type staleStore struct {
	mu  sync.Mutex
	tok *Token
}

func (s *staleStore) Load(context.Context, string) (*Token, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tok, nil
}

func (s *staleStore) Store(_ context.Context, _ string, t *Token) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tok == nil {
		s.tok = t
	}
	return nil
}

func (s *staleStore) Delete(context.Context, string, *Token) error { return nil }

func TestStoreFailuresNeverFailCallers(t *testing.T) {
	for _, store := range []TokenStore{failingStore{}, failingCoalescingStore{}} {
		t.Run(fmt.Sprintf("%T", store), func(t *testing.T) {
			te := startTokenEndpoint(t, nil)
			logger, logs := newLogger()
			a, _ := newAuth(t, testConfig(te.TokenURL()), WithTokenStore(store), WithLogger(logger))
			first := mustToken(t, a)
			a.Invalidate()
			second := mustToken(t, a)
			if first.Token == second.Token || te.requests.Load() != 2 {
				t.Errorf("tokens %v then %v with %d requests", first, second, te.requests.Load())
			}
			if !strings.Contains(logs.String(), "token store failed") || !strings.Contains(logs.String(), errStoreDown.Error()) {
				t.Errorf("store failures not logged: %s", logs)
			}
		})
	}
}

func TestInvalidatedTokenNotTakenBackFromStore(t *testing.T) {
	te := startTokenEndpoint(t, nil)
	a, _ := newAuth(t, testConfig(te.TokenURL()), WithTokenStore(&staleStore{}))
	first := mustToken(t, a)
	a.Invalidate()
	if tok := mustToken(t, a); tok.Token == first.Token {
		t.Fatal("the invalidated token came back from the store")
	}
	if n := te.requests.Load(); n != 2 {
		t.Errorf("token requests = %d; want 2", n)
	}
}

func TestStoredTokenNearExpiryIsNotUsed(t *testing.T) {
	te := startTokenEndpoint(t, nil)
	clock := newFakeClock()
	store := NewMemoryStore()
	cfg := testConfig(te.TokenURL())
	// Another process stored a token that is in its last seconds.
	_ = store.Store(context.Background(), TokenKey(cfg), &Token{Token: "nearly-expired", TokenType: "Bearer",
		IssuedAt: clock.Now().Add(-3590 * time.Second), ExpiresAt: clock.Now().Add(10 * time.Second)})
	a, _ := newAuth(t, cfg, WithTokenStore(store), WithClock(clock.Now))
	if tok := mustToken(t, a); tok.Token != "token-1" {
		t.Errorf("got %v; want a fetched token", tok)
	}
	if stored, _ := store.Load(context.Background(), TokenKey(cfg)); stored.Token != "token-1" {
		t.Errorf("store holds %v; want the new token", stored)
	}
}

// The local Cognito's token endpoint is used here only to show that a store is not
// needed for anything to work: the default is a private MemoryStore.
func TestDefaultStoreIsPrivate(t *testing.T) {
	te := startTokenEndpoint(t, func(n int64, w http.ResponseWriter, r *http.Request) {
		writeToken(w, fmt.Sprintf("token-%d", n), 3600)
	})
	a1, _ := newAuth(t, testConfig(te.TokenURL()))
	a2, _ := newAuth(t, testConfig(te.TokenURL()))
	if mustToken(t, a1).Token == mustToken(t, a2).Token || te.requests.Load() != 2 {
		t.Error("authenticators without WithTokenStore shared a token")
	}
}

func TestSlowAnswerForShortTokenIsNotFetchedTwice(t *testing.T) {
	clock := newFakeClock()
	te := startTokenEndpoint(t, func(n int64, w http.ResponseWriter, r *http.Request) {
		// By the time the answer arrives, a 1s token is past its refresh point (375ms).
		clock.Advance(400 * time.Millisecond)
		writeToken(w, fmt.Sprintf("token-%d", n), 1)
	})
	a, _ := newAuth(t, testConfig(te.TokenURL()), WithClock(clock.Now), WithTokenStore(NewMemoryStore()))
	if tok := mustToken(t, a); tok.Token != "token-1" {
		t.Errorf("got %v", tok)
	}
	if n := te.requests.Load(); n != 1 {
		t.Errorf("token requests = %d; want 1", n)
	}
}
