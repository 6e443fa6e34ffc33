package cognito

import (
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	adversarial "github.com/cognitokit/cognitokit/internal/corpus"
	"github.com/cognitokit/cognitokit/pkg/cognitotest"
)

func decodeClaims(t *testing.T, js string) (*Claims, error) {
	t.Helper()
	var raw map[string]any
	if err := json.Unmarshal([]byte(js), &raw); err != nil {
		t.Fatal(err)
	}
	return newClaimsFromPayload(raw)
}

func TestClaimsFromAccessToken(t *testing.T) {
	c, err := decodeClaims(t, `{
		"sub": "a11ce000", "iss": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_X",
		"client_id": "client-1", "token_use": "access", "scope": "openid  orders/read https://api.example.com/write",
		"auth_time": 1700000000, "iat": 1700000001, "exp": 1700003601, "jti": "j-1", "version": 2,
		"username": "alice", "cognito:groups": ["admin", "ops"], "cognito:username": "ignored-in-access"}`)
	if err != nil {
		t.Fatal(err)
	}
	want := Claims{
		Sub: "a11ce000", Username: "alice", ClientID: "client-1", TokenUse: "access",
		Issuer: "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_X", JTI: "j-1",
		Scopes: []string{"openid", "orders/read", "https://api.example.com/write"}, Groups: []string{"admin", "ops"},
		IssuedAt: time.Unix(1700000001, 0), AuthTime: time.Unix(1700000000, 0), expiresAt: time.Unix(1700003601, 0),
	}
	assertClaims(t, c, want)
	if !c.HasScope("orders/read") || c.HasScope("orders") || !c.InGroup("ops") || c.InGroup("Admin") {
		t.Error("HasScope/InGroup wrong")
	}
	if v, ok := c.Get("version"); !ok || v != 2.0 {
		t.Errorf("Get(version) = %v, %v", v, ok)
	}
	if len(c.Raw()) != 13 {
		t.Errorf("Raw has %d claims, want 13", len(c.Raw()))
	}
}

func TestClaimsFromIDToken(t *testing.T) {
	for _, aud := range []string{`"client-1"`, `["client-1", "client-2"]`} {
		c, err := decodeClaims(t, `{
			"sub": "b0b", "iss": "i", "aud": `+aud+`, "token_use": "id", "email": "bob@example.org",
			"email_verified": false, "name": "Bob", "cognito:username": "bob", "username": "not-this",
			"exp": 1700003601, "iat": 1700000001, "nbf": 1700000000, "custom:tenant": "globex"}`)
		if err != nil {
			t.Fatal(err)
		}
		if c.Username != "bob" || c.ClientID != "client-1" || c.Email != "bob@example.org" || c.EmailVerified ||
			c.Name != "Bob" || !c.NotBefore.Equal(time.Unix(1700000000, 0)) || c.Audience[0] != "client-1" {
			t.Errorf("aud %s: claims = %+v", aud, c)
		}
		if v, _ := c.Get("custom:tenant"); v != "globex" {
			t.Errorf("custom:tenant = %v", v)
		}
	}
}

// TestClaimsOddTypes: a claim of an unexpected JSON type is ErrMalformedToken naming the
// claim, never a panic, never the value.
func TestClaimsOddTypes(t *testing.T) {
	claims := map[string][]string{
		"sub":              {`1`, `true`, `{}`, `["a"]`},
		"iss":              {`1`, `[]`},
		"token_use":        {`1`, `["access"]`},
		"client_id":        {`1`, `null`},
		"username":         {`1`},
		"cognito:username": {`{}`},
		"email":            {`1`},
		"name":             {`false`},
		"jti":              {`1`},
		"scope":            {`["a"]`, `1`},
		"cognito:groups":   {`"admin"`, `[1]`, `[["a"]]`, `{}`, `[null]`},
		"aud":              {`1`, `[1]`, `{}`, `[null]`},
		"email_verified":   {`1`, `"yes"`, `null`},
		"exp":              {`"1"`, `true`, `-5`, `1e20`, `[]`, `null`},
		"iat":              {`"1"`},
		"nbf":              {`{}`},
		"auth_time":        {`"x"`},
	}
	for name, values := range claims {
		for _, v := range values {
			c, err := decodeClaims(t, `{"sub":"s","exp":1700000000,"`+name+`":`+v+`}`)
			if c != nil || !errors.Is(err, ErrMalformedToken) || !strings.Contains(err.Error(), "claim "+name+" ") {
				t.Errorf("%s = %s: claims %v, err %v", name, v, c, err)
			}
			if len(v) > 2 && strings.Contains(err.Error(), v) {
				t.Errorf("error %q holds the value", err)
			}
		}
	}
}

// TestClaimsNullNeverPanics: null claim values are odd types too (except where allowed).
func TestClaimsAbsentAreZero(t *testing.T) {
	c, err := decodeClaims(t, `{}`)
	if err != nil {
		t.Fatal(err)
	}
	if !c.ExpiresAt().IsZero() || c.Scopes != nil || c.Groups != nil || c.Audience != nil {
		t.Errorf("claims = %+v", c)
	}
}

func assertClaims(t *testing.T, got *Claims, want Claims) {
	t.Helper()
	g := *got
	g.raw = nil
	for _, pair := range [][2][]string{{g.Scopes, want.Scopes}, {g.Groups, want.Groups}, {g.Audience, want.Audience}} {
		if !slices.Equal(pair[0], pair[1]) {
			t.Errorf("claims = %+v\nwant     %+v", g, want)
			return
		}
	}
	g.Scopes, g.Groups, g.Audience = want.Scopes, want.Groups, want.Audience
	if !g.IssuedAt.Equal(want.IssuedAt) || !g.AuthTime.Equal(want.AuthTime) || !g.expiresAt.Equal(want.expiresAt) || !g.NotBefore.Equal(want.NotBefore) {
		t.Errorf("times = %v %v %v %v, want %v %v %v %v", g.IssuedAt, g.AuthTime, g.expiresAt, g.NotBefore,
			want.IssuedAt, want.AuthTime, want.expiresAt, want.NotBefore)
	}
	g.IssuedAt, g.AuthTime, g.expiresAt, g.NotBefore = want.IssuedAt, want.AuthTime, want.expiresAt, want.NotBefore
	if !equalClaims(g, want) {
		t.Errorf("claims = %+v\nwant     %+v", g, want)
	}
}

func equalClaims(a, b Claims) bool {
	return a.Sub == b.Sub && a.Username == b.Username && a.Email == b.Email && a.EmailVerified == b.EmailVerified &&
		a.Name == b.Name && a.ClientID == b.ClientID && a.TokenUse == b.TokenUse && a.Issuer == b.Issuer && a.JTI == b.JTI
}

// TestClaimsLogValue: slog shows the token use and client, never personal claims.
func TestClaimsLogValue(t *testing.T) {
	clk := newFakeClock()
	srv := localCognito(t, clk)
	z := newAuthorizer(t, srv, clk, JWTAuthorizerConfig{TokenUse: TokenUseID})
	c, err := z.Verify(t.Context(), mintID(t, srv, cognitotest.TokenOptions{Client: readerClient}))
	if err != nil {
		t.Fatal(err)
	}
	logs := &logBuffer{}
	textLogger(logs).Info("verified", "claims", c)
	out := logs.String()
	if !strings.Contains(out, "client_id="+readerClient) {
		t.Errorf("log %q lacks the client", out)
	}
	assertNoTokenMaterial(t, out, "")
}

const b64Chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

// FuzzVerify: whatever the input, Verify returns claims or an *AuthorizationError whose
// text holds no part of the token, and never panics. Two authorizers judge every input:
// one with a key of its own, and one with the adversarial corpus's keys, configuration
// and clock (testdata/corpus, whose every token is a seed). The corpus authorizer accepts
// any client and token use, so that mutations get as far as they can; it may accept only
// tokens signed by the corpus's keys, which the fuzzer cannot forge: an accepted token
// must be one of the corpus's, byte for byte (base64url is decoded strictly, so a token
// has one spelling).
func FuzzVerify(f *testing.F) {
	jwks := jwksJSON(f, rsaJWK("k1", &spareKey().PublicKey, nil))
	z, err := NewJWTAuthorizer(JWTAuthorizerConfig{UserPoolID: poolID, AllowAnyClient: true, TokenUse: TokenUseAny},
		WithEndpoint("http://127.0.0.1:9"), WithJWKS(jwks))
	if err != nil {
		f.Fatal(err)
	}
	now := time.Now().Unix()
	valid := signRS256(f, map[string]any{"alg": "RS256", "kid": "k1"}, map[string]any{
		"iss": "http://127.0.0.1:9/" + poolID, "sub": "s", "token_use": "access", "exp": now + 3600, "client_id": "c"}, spareKey())
	for _, seed := range []string{valid, "", ".", "..", "...", "a.b.c", valid + "x", valid[:len(valid)-3],
		b64s(`{"alg":"RS256","kid":"k1"}`) + "." + b64s(`{"iss":"http://127.0.0.1:9/`+poolID+`","exp":"1"}`) + ".AAAA",
		b64s(`{"alg":"RS256","kid":"k1"}`) + "." + b64s(`{"iss":"http://127.0.0.1:9/`+poolID+`"}`) + "."} {
		f.Add(seed)
	}

	cf, cjwks, err := adversarial.Load("")
	if err != nil {
		f.Fatal(err)
	}
	corpusNow := cf.NowTime()
	zc, err := NewJWTAuthorizer(JWTAuthorizerConfig{UserPoolID: cf.UserPoolID, AllowAnyClient: true, TokenUse: TokenUseAny},
		WithJWKS(cjwks), WithClock(func() time.Time { return corpusNow }))
	if err != nil {
		f.Fatal(err)
	}
	known := map[string]bool{}
	for _, c := range cf.Cases {
		known[c.Token] = true
		f.Add(c.Token)
	}

	check := func(t *testing.T, z *JWTAuthorizer, token string) bool {
		c, err := z.Verify(t.Context(), token)
		if err == nil {
			if c == nil || c.Sub == "" {
				t.Fatalf("accepted %q with claims %v", token, c)
			}
			return true
		}
		var ae *AuthorizationError
		if c != nil || !errors.As(err, &ae) || ReasonCode(err) == "" {
			t.Fatalf("Verify(%q) = %v, %v", token, c, err)
		}
		// Long base64url runs only: error texts are words, and a short or spaced "part"
		// could be one of them.
		for part := range strings.SplitSeq(token, ".") {
			if len(part) > 16 && strings.Trim(part, b64Chars) == "" && strings.Contains(err.Error(), part) {
				t.Fatalf("error %q holds a part of the token", err)
			}
		}
		return false
	}
	f.Fuzz(func(t *testing.T, token string) {
		check(t, z, token)
		if check(t, zc, token) && !known[token] {
			t.Fatalf("accepted a token that is not one of the corpus's: %q", token)
		}
	})
}

// TestClaimTableCoversClaims: every typed field of Claims is filled by some row of
// claimTable, on the fast path and the general path alike (so a field added to Claims
// without a row fails here), and every row is read by the fast path (so a claim's kind
// never sends Cognito's tokens to the general path).
func TestClaimTableCoversClaims(t *testing.T) {
	if len(claimTable) > 32 || len(claimTable) >= len(claimSlots) {
		t.Fatalf("%d rows: too many for claimDecoder.seen or claimSlots", len(claimTable))
	}
	samples := map[claimKind][]string{
		claimString: {`"v"`}, claimStrings: {`["v","w"]`}, claimAudience: {`"v"`, `["v","w"]`},
		claimBool: {`true`, `"true"`}, claimDate: {`1700000000.5`},
	}
	filled := map[string]bool{}
	for i, def := range claimTable {
		if got := claimIndex(def.name); got != i {
			t.Errorf("claimIndex(%q) = %d, want %d", def.name, got, i)
		}
		if (def.set == nil) == (def.keep == 0) {
			t.Errorf("%s: a row either sets a field or is kept for finish", def.name)
		}
		if len(samples[def.kind]) == 0 {
			t.Errorf("%s: no sample of kind %d", def.name, def.kind)
		}
		for _, sample := range samples[def.kind] {
			// The ID-token variant, for the claims finish reads only from ID tokens.
			for _, use := range []string{``, `"token_use":"id",`} {
				base, _, ok := scanClaims([]byte(`{` + strings.TrimSuffix(use, ",") + `}`))
				if !ok {
					t.Fatal("base payload not scanned")
				}
				payload := `{` + use + `"` + def.name + `":` + sample + `}`
				c, hasIss, ok := scanClaims([]byte(payload))
				if !ok {
					t.Errorf("%s: not scanned", payload)
					continue
				}
				checkScanMatches(t, []byte(payload))
				if hasIss != (def.name == "iss") {
					t.Errorf("%s: hasIss = %v", payload, hasIss)
				}
				got, was := reflect.ValueOf(*c), reflect.ValueOf(*base)
				for f := range got.NumField() {
					if !got.Field(f).IsZero() && was.Field(f).IsZero() {
						filled[got.Type().Field(f).Name] = true
					}
				}
			}
		}
	}
	// UserPoolID is set by Verify from the pool the token matched, not from a claim; so are
	// the hashes of the IDs a revocation list looks up.
	derived := []string{"raw", "lazy", "UserPoolID", "idHashes", "hashed"}
	for _, f := range reflect.VisibleFields(reflect.TypeFor[Claims]()) {
		if !slices.Contains(derived, f.Name) && !filled[f.Name] {
			t.Errorf("Claims.%s is filled by no row of claimTable", f.Name)
		}
	}
	for _, name := range []string{"", "x", "version", "custom:tenant", "Sub", "sub ", "cognito:group"} {
		if i := claimIndex(name); i != -1 {
			t.Errorf("claimIndex(%q) = %d, want -1", name, i)
		}
	}
}
