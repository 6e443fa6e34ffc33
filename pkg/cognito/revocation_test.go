package cognito

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cognitokit/cognitokit/pkg/cognitotest"
)

// revokedFor fails the test unless err refuses with ErrTokenRevoked and carries the claims
// of the token, as every refusal after the signature does.
func revokedFor(t testing.TB, err error, sub string) {
	t.Helper()
	ae := refusedFor(t, err, ErrTokenRevoked)
	if ae.ReasonCode() != "token_revoked" {
		t.Errorf("code = %q; want token_revoked", ae.ReasonCode())
	}
	if ae.Claims == nil || ae.Claims.Sub != sub {
		t.Errorf("Claims = %+v; want the refused token's (sub %q)", ae.Claims, sub)
	}
}

func verifyOK(t testing.TB, z *JWTAuthorizer, tok, what string) *Claims {
	t.Helper()
	c, err := z.Verify(context.Background(), tok)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return c
}

func addRevocations(t testing.TB, l *MemoryRevocationList, rs ...Revocation) {
	t.Helper()
	if _, err := l.Add(rs...); err != nil {
		t.Fatal(err)
	}
}

// TestRevocationByJTIOnCacheHit: a token verified (and cached) is refused as soon as its
// jti is on the list, on the cache hit as on a fresh verification; other tokens are not.
func TestRevocationByJTIOnCacheHit(t *testing.T) {
	clk := newFakeClock()
	srv := localCognito(t, clk)
	list := NewRevocationList(WithRevocationClock(clk.Now))
	z := newAuthorizer(t, srv, clk, JWTAuthorizerConfig{}, WithRevocationList(list))
	tok := mintAccess(t, srv, cognitotest.TokenOptions{Client: "orders-reader", Username: "alice"})
	other := mintAccess(t, srv, cognitotest.TokenOptions{Client: "orders-reader", Username: "alice"})
	c := verifyOK(t, z, tok, "before the revocation")
	if c.OriginJTI == "" || c.JTI == "" {
		t.Fatalf("claims lack jti or origin_jti: %q %q", c.JTI, c.OriginJTI)
	}
	if z.verified.get(tok) == nil {
		t.Fatal("token not cached")
	}
	addRevocations(t, list, Revocation{Kind: RevokeJTI, ID: c.JTI})
	_, err := z.Verify(context.Background(), tok)
	revokedFor(t, err, c.Sub)
	verifyOK(t, z, other, "another token of the same session")

	// Without the cache, the same.
	z2 := newAuthorizer(t, srv, clk, JWTAuthorizerConfig{}, WithRevocationList(list), WithVerifiedCacheSize(0))
	_, err = z2.Verify(context.Background(), tok)
	revokedFor(t, err, c.Sub)
	if strings.Contains(err.Error(), c.JTI) || strings.Contains(err.Error(), tok) {
		t.Errorf("error %q names the jti or the token", err)
	}
}

// TestRevocationByOriginJTI: revoking a session refuses every token of it, ID tokens
// included, and no token of a parallel session of the same user.
func TestRevocationByOriginJTI(t *testing.T) {
	clk := newFakeClock()
	srv := localCognito(t, clk)
	list := NewRevocationList(WithRevocationClock(clk.Now))
	z := newAuthorizer(t, srv, clk, JWTAuthorizerConfig{TokenUse: TokenUseAny}, WithRevocationList(list))
	session := map[string]any{"origin_jti": "11111111-1111-4111-8111-111111111111"}
	access := mintAccess(t, srv, cognitotest.TokenOptions{Client: "orders-reader", Username: "alice", Claims: session})
	id := mintID(t, srv, cognitotest.TokenOptions{Client: "orders-reader", Username: "alice", Claims: session})
	parallel := mintAccess(t, srv, cognitotest.TokenOptions{Client: "orders-reader", Username: "alice"})
	for _, tok := range []string{access, id, parallel} {
		verifyOK(t, z, tok, "before")
	}
	addRevocations(t, list, Revocation{Kind: RevokeOriginJTI, ID: "11111111-1111-4111-8111-111111111111"})
	for _, tok := range []string{access, id} {
		_, err := z.Verify(context.Background(), tok)
		revokedFor(t, err, aliceSub)
	}
	verifyOK(t, z, parallel, "the parallel session")
}

// TestRevocationSubjectCutOff: a global sign-out refuses the user's tokens issued at or
// before the cut-off, and accepts a sign-in after it; other users are untouched.
func TestRevocationSubjectCutOff(t *testing.T) {
	clk := newFakeClock()
	srv := localCognito(t, clk)
	list := NewRevocationList(WithRevocationClock(clk.Now))
	z := newAuthorizer(t, srv, clk, JWTAuthorizerConfig{}, WithRevocationList(list))
	mint := func(user string, iat time.Time) string {
		return mintAccess(t, srv, cognitotest.TokenOptions{Client: "orders-reader", Username: user, IssuedAt: iat})
	}
	before := mint("alice", t0.Add(-time.Minute))
	at := mint("alice", t0)
	bob := mint("bob", t0.Add(-time.Minute))
	c := verifyOK(t, z, before, "before")
	addRevocations(t, list, Revocation{Kind: RevokeSubject, ID: c.Sub}) // cut-off: now, t0
	for _, tok := range []string{before, at} {
		_, err := z.Verify(context.Background(), tok)
		revokedFor(t, err, c.Sub)
	}
	verifyOK(t, z, bob, "another user")
	clk.Advance(time.Second)
	verifyOK(t, z, mint("alice", clk.Now()), "a sign-in after the cut-off")

	// A token without iat cannot show it was issued after the cut-off.
	noIat := mintAccess(t, srv, cognitotest.TokenOptions{Client: "orders-reader", Username: "alice", Claims: map[string]any{"iat": nil}})
	_, err := z.Verify(context.Background(), noIat)
	revokedFor(t, err, c.Sub)
}

// TestRevocationClientCutOff: a client cut-off refuses that client's machine tokens
// issued before it, and no other client's.
func TestRevocationClientCutOff(t *testing.T) {
	clk := newFakeClock()
	srv := localCognito(t, clk)
	list := NewRevocationList(WithRevocationClock(clk.Now))
	z := newAuthorizer(t, srv, clk, JWTAuthorizerConfig{ClientIDs: []string{readerClient, writerClient}}, WithRevocationList(list))
	reader := mintAccess(t, srv, cognitotest.TokenOptions{Client: "orders-reader"})
	writer := mintAccess(t, srv, cognitotest.TokenOptions{Client: "orders-writer"})
	verifyOK(t, z, reader, "reader before")
	addRevocations(t, list, Revocation{Kind: RevokeClient, ID: readerClient, IssuedBefore: t0})
	_, err := z.Verify(context.Background(), reader)
	revokedFor(t, err, readerClient)
	verifyOK(t, z, writer, "the other client")
	clk.Advance(time.Second)
	verifyOK(t, z, mintAccess(t, srv, cognitotest.TokenOptions{Client: "orders-reader"}), "a token after the new secret")
}

// TestRevocationIssuer: an entry limited to an issuer matches only that issuer's tokens.
func TestRevocationIssuer(t *testing.T) {
	clk := newFakeClock()
	srv := localCognito(t, clk)
	list := NewRevocationList(WithRevocationClock(clk.Now))
	z := newAuthorizer(t, srv, clk, JWTAuthorizerConfig{}, WithRevocationList(list))
	tok := mintAccess(t, srv, cognitotest.TokenOptions{Client: "orders-reader"})
	addRevocations(t, list, Revocation{Kind: RevokeClient, ID: readerClient, Issuer: "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Other"})
	verifyOK(t, z, tok, "another issuer's entry")
	addRevocations(t, list, Revocation{Kind: RevokeClient, ID: readerClient, Issuer: srv.Issuer(poolID)})
	_, err := z.Verify(context.Background(), tok)
	revokedFor(t, err, readerClient)
	if list.Len() != 2 {
		t.Errorf("Len = %d; want 2 entries (one per issuer)", list.Len())
	}
}

// TestRevocationListEntries: defaults, merging, expiry and validation.
func TestRevocationListEntries(t *testing.T) {
	clk := newFakeClock()
	list := NewRevocationList(WithRevocationClock(clk.Now), WithRevocationTTL(time.Hour))
	got, err := list.Add(Revocation{Kind: RevokeSubject, ID: aliceSub}, Revocation{Kind: RevokeJTI, ID: "j1", Expires: t0.Add(10 * time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	if !got[0].IssuedBefore.Equal(t0) || !got[0].Expires.Equal(t0.Add(time.Hour)) || !got[1].IssuedBefore.IsZero() {
		t.Errorf("completed entries = %+v", got)
	}
	clk.Advance(time.Minute)
	got, _ = list.Add(Revocation{Kind: RevokeSubject, ID: aliceSub})
	if !got[0].IssuedBefore.Equal(clk.Now()) || !got[0].Expires.Equal(clk.Now().Add(time.Hour)) {
		t.Errorf("merged entry = %+v; want the later cut-off and expiry", got[0])
	}
	if list.Len() != 2 {
		t.Fatalf("Len = %d; want 2", list.Len())
	}
	clk.Advance(10 * time.Minute)
	list.Prune()
	if l := list.List(); len(l) != 1 || l[0].Kind != RevokeSubject {
		t.Errorf("after the jti's expiry: %+v", l)
	}
	if r, ok := list.Get(Revocation{Kind: RevokeSubject, ID: aliceSub}.Key()); !ok || r.ID != aliceSub {
		t.Errorf("Get = %+v, %v", r, ok)
	}
	for _, bad := range []Revocation{
		{Kind: "user", ID: "x"},
		{Kind: RevokeJTI},
		{Kind: RevokeOriginJTI, ID: "x", IssuedBefore: t0},
	} {
		if _, err := list.Add(Revocation{Kind: RevokeJTI, ID: "fine"}, bad); !errors.Is(err, ErrInvalidRevocation) {
			t.Errorf("Add(%+v) = %v; want ErrInvalidRevocation", bad, err)
		}
	}
	if list.Len() != 1 {
		t.Errorf("a refused Add added something: Len = %d", list.Len())
	}
}

type failingList struct{ err error }

func (f failingList) Revoked(*Claims) (bool, error) { return false, f.err }

// TestRevocationListUnavailable: a list that cannot tell refuses with
// ErrRevocationUnavailable, unwrapping to its error.
func TestRevocationListUnavailable(t *testing.T) {
	clk := newFakeClock()
	srv := localCognito(t, clk)
	cause := errors.New("out of touch for 40s")
	z := newAuthorizer(t, srv, clk, JWTAuthorizerConfig{}, WithRevocationList(failingList{cause}))
	tok := mintAccess(t, srv, cognitotest.TokenOptions{Client: "orders-reader"})
	for range 2 { // a fresh verification, then a cache hit
		_, err := z.Verify(context.Background(), tok)
		refusedFor(t, err, ErrRevocationUnavailable)
		if !errors.Is(err, cause) || cognitoCode(err) != "revocation_unavailable" {
			t.Fatalf("err = %v", err)
		}
	}
}

func cognitoCode(err error) string { return ReasonCode(err) }

// TestRevocationListConcurrent: Verify reads the list while writers add to it (-race).
func TestRevocationListConcurrent(t *testing.T) {
	clk := newFakeClock()
	srv := localCognito(t, clk)
	list := NewRevocationList(WithRevocationClock(clk.Now))
	z := newAuthorizer(t, srv, clk, JWTAuthorizerConfig{}, WithRevocationList(list))
	tok := mintAccess(t, srv, cognitotest.TokenOptions{Client: "orders-reader", Username: "alice"})
	c := verifyOK(t, z, tok, "first")
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 50 {
				addRevocations(t, list, Revocation{Kind: RevokeJTI, ID: fmt.Sprintf("other-%d-%d", w, i)})
			}
		})
		wg.Go(func() {
			for range 200 {
				if _, err := z.Verify(context.Background(), tok); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	addRevocations(t, list, Revocation{Kind: RevokeJTI, ID: c.JTI})
	_, err := z.Verify(context.Background(), tok)
	revokedFor(t, err, c.Sub)
	if list.Len() != 201 {
		t.Errorf("Len = %d; want 201", list.Len())
	}
}

const aliceSub = "a11ce000-0000-4000-8000-000000000001"

// revokedSubject is a list revoking every token of sub issued up to an hour from t0.
func revokedSubject(t testing.TB, sub string) *MemoryRevocationList {
	l := NewRevocationList()
	addRevocations(t, l, Revocation{Kind: RevokeSubject, ID: sub, IssuedBefore: t0.Add(time.Hour)})
	return l
}

// TestRevocationListLayers: entries added one at a time go to the recent layer and are
// folded into the bulk past maxRecent; lookups, merges, Len, List and Prune see both.
func TestRevocationListLayers(t *testing.T) {
	clk := newFakeClock()
	list := NewRevocationList(WithRevocationClock(clk.Now), WithRevocationTTL(time.Hour))
	n := maxRecent(0) + 10
	for i := range n {
		addRevocations(t, list, Revocation{Kind: RevokeJTI, ID: fmt.Sprint("jti-", i)})
	}
	if s := list.snap.Load(); len(s.bulk.all) == 0 || len(s.recent.all) >= n {
		t.Fatalf("bulk %d, recent %d: no fold", len(s.bulk.all), len(s.recent.all))
	}
	for _, i := range []int{0, n / 2, n - 1} {
		if ok, _ := list.Revoked(&Claims{JTI: fmt.Sprint("jti-", i)}); !ok {
			t.Errorf("jti-%d not revoked", i)
		}
	}
	if ok, _ := list.Revoked(&Claims{JTI: "jti-x"}); ok {
		t.Error("an unknown jti revoked")
	}
	// An entry in the bulk, revoked again later: merged, counted once.
	clk.Advance(30 * time.Minute)
	got, _ := list.Add(Revocation{Kind: RevokeJTI, ID: "jti-0"})
	if !got[0].Expires.Equal(clk.Now().Add(time.Hour)) || list.Len() != n || len(list.List()) != n {
		t.Errorf("after re-revoking: %+v, Len %d, List %d; want the later expiry and %d entries", got[0], list.Len(), len(list.List()), n)
	}
	clk.Advance(45 * time.Minute) // every entry but jti-0 has expired
	list.Prune()
	if l := list.List(); len(l) != 1 || l[0].ID != "jti-0" {
		t.Errorf("after Prune: %d entries", len(l))
	}
	if ok, _ := list.Revoked(&Claims{JTI: "jti-1"}); ok {
		t.Error("an expired entry still matches after Prune")
	}
}

func TestQuickHashSpreads(t *testing.T) {
	seen := map[uint64]bool{}
	for i := range 10_000 {
		seen[quickHash(fmt.Sprintf("%08x-0000-4000-8000-%012x", i, i))&(1<<18-1)] = true
		seen[quickHash(fmt.Sprintf("%dclient%d", i, i))&(1<<18-1)] = true
	}
	if len(seen) < 19_000 {
		t.Errorf("20,000 IDs in 2^18 slots take %d; want fewer collisions", len(seen))
	}
}
