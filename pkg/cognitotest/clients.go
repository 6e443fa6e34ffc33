package cognitotest

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base32"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/cognitokit/cognitokit/gen"
)

// Config describes the user pools a local Cognito serves.
type Config struct {
	// Pools are the user pools. At least one is required.
	Pools []PoolConfig `yaml:"pools"`
	// Clock returns the current time for issuing tokens and checking them at userInfo.
	// Nil means time.Now.
	Clock func() time.Time `yaml:"-"`
}

// PoolConfig describes one user pool.
type PoolConfig struct {
	// ID is the user pool ID, "<region>_<id>", such as "us-east-1_LocalPool1".
	ID string `yaml:"id"`
	// ResourceServers define the custom scopes app clients may be allowed.
	ResourceServers []ResourceServer `yaml:"resource_servers"`
	// Clients are the pool's app clients.
	Clients []AppClient `yaml:"clients"`
	// Users are the pool's users, for ID tokens and the userInfo endpoint.
	Users []User `yaml:"users"`
	// AccessTokenTTL is the lifetime of access tokens unless a client sets its own.
	// Zero means one hour, Cognito's default.
	AccessTokenTTL time.Duration `yaml:"access_token_ttl"`
	// IDTokenTTL is the lifetime of ID tokens. Zero means one hour.
	IDTokenTTL time.Duration `yaml:"id_token_ttl"`
}

// ResourceServer is a Cognito resource server: an identifier (often a URL) and the scope
// names it defines. Its scopes are "<Identifier>/<name>".
type ResourceServer struct {
	Identifier string   `yaml:"identifier"`
	Scopes     []string `yaml:"scopes"`
}

// AppClient is a Cognito app client.
type AppClient struct {
	// ID is the client ID. Empty means a random 26-character ID, like Cognito's.
	ID string `yaml:"id"`
	// Secret is the client secret. Empty means a random secret is generated; set
	// NoSecret for a public client.
	Secret string `yaml:"secret"`
	// NoSecret makes a public client (no secret), which cannot use client_credentials.
	NoSecret bool `yaml:"no_secret"`
	// Name is a label for people (the demo, `cognitokit local`).
	Name string `yaml:"name"`
	// Scopes are the custom scopes the client is allowed, each "<resource server>/<name>".
	// A client_credentials request without a scope gets all of them.
	Scopes []string `yaml:"scopes"`
	// AccessTokenTTL overrides the pool's access-token lifetime for this client.
	AccessTokenTTL time.Duration `yaml:"access_token_ttl"`
}

// User is a user of a pool. Empty Sub means a random UUID-shaped one.
type User struct {
	Username      string            `yaml:"username"`
	Sub           string            `yaml:"sub"`
	Email         string            `yaml:"email"`
	EmailVerified bool              `yaml:"email_verified"`
	Name          string            `yaml:"name"`
	Groups        []string          `yaml:"groups"`
	Attributes    map[string]string `yaml:"attributes"` // custom attributes, keys without "custom:"
}

// DefaultConfig is one pool, "us-east-1_LocalPool1", with an "orders" resource server
// (scopes orders/read, orders/write, orders/admin), three confidential clients with
// different scopes (orders-reader, orders-writer, orders-admin) and two users. Secrets are
// generated at random by [New].
func DefaultConfig() Config {
	return Config{Pools: []PoolConfig{{
		ID: "us-east-1_LocalPool1",
		ResourceServers: []ResourceServer{
			{Identifier: "orders", Scopes: []string{"read", "write", "admin"}},
		},
		Clients: []AppClient{
			{ID: "1reader0orders0client00001", Name: "orders-reader", Scopes: []string{"orders/read"}},
			{ID: "2writer0orders0client00002", Name: "orders-writer", Scopes: []string{"orders/read", "orders/write"}},
			{ID: "3admin00orders0client00003", Name: "orders-admin", Scopes: []string{"orders/read", "orders/write", "orders/admin"}},
		},
		Users: []User{
			{Username: "alice", Sub: "a11ce000-0000-4000-8000-000000000001", Email: "alice@example.com", EmailVerified: true,
				Name: "Alice Admin", Groups: []string{"admin", "ops"}, Attributes: map[string]string{"tenant": "acme", "tier": "gold"}},
			{Username: "bob", Sub: "b0b00000-0000-4000-8000-000000000002", Email: "bob@example.org", EmailVerified: false,
				Name: "Bob Builder", Groups: []string{"staff"}, Attributes: map[string]string{"tenant": "globex", "tier": "silver"}},
		},
	}}}
}

// MultiPoolConfig is DefaultConfig's pool plus a second one, "eu-west-1_LocalPool2", with
// its own issuer, keys, "inventory" resource server (scopes inventory/read and
// inventory/write), a confidential client "partner-sync" (inventory/read) and a user
// "carol": two tenants for a verifier that accepts several pools. Secrets are generated at
// random by [New].
func MultiPoolConfig() Config {
	cfg := DefaultConfig()
	cfg.Pools = append(cfg.Pools, PoolConfig{
		ID: "eu-west-1_LocalPool2",
		ResourceServers: []ResourceServer{
			{Identifier: "inventory", Scopes: []string{"read", "write"}},
		},
		Clients: []AppClient{
			{ID: "4partner0sync00client00004", Name: "partner-sync", Scopes: []string{"inventory/read"}},
			{ID: "5web00000inventory0client5", Name: "inventory-web", Scopes: []string{"inventory/read", "inventory/write"}},
		},
		Users: []User{
			{Username: "carol", Sub: "ca201000-0000-4000-8000-000000000003", Email: "carol@example.net", EmailVerified: true,
				Name: "Carol Partner", Groups: []string{"partners"}, Attributes: map[string]string{"tenant": "initech"}},
		},
	})
	return cfg
}

var poolIDPattern = regexp.MustCompile(`^[\w-]+_[0-9a-zA-Z]+$`)

// normalize validates the configuration and fills in generated IDs, secrets and defaults.
// It returns a deep copy; the caller's Config is not modified.
func (c Config) normalize() (Config, error) {
	if len(c.Pools) == 0 {
		return Config{}, fmt.Errorf("cognitotest: config has no user pools")
	}
	out := Config{Clock: c.Clock}
	if out.Clock == nil {
		out.Clock = time.Now
	}
	clientIDs := map[string]string{}
	for _, p := range c.Pools {
		if !poolIDPattern.MatchString(p.ID) {
			return Config{}, fmt.Errorf("cognitotest: user pool ID %q is not <region>_<id>", p.ID)
		}
		if p.AccessTokenTTL == 0 {
			p.AccessTokenTTL = time.Hour
		}
		if p.IDTokenTTL == 0 {
			p.IDTokenTTL = time.Hour
		}
		known := map[string]bool{}
		rs := make([]ResourceServer, 0, len(p.ResourceServers))
		for _, r := range p.ResourceServers {
			if r.Identifier == "" {
				return Config{}, fmt.Errorf("cognitotest: pool %s: resource server without identifier", p.ID)
			}
			for _, s := range r.Scopes {
				known[r.Identifier+"/"+s] = true
			}
			rs = append(rs, ResourceServer{Identifier: r.Identifier, Scopes: slices.Clone(r.Scopes)})
		}
		p.ResourceServers = rs
		clients := make([]AppClient, 0, len(p.Clients))
		for _, cl := range p.Clients {
			if cl.ID == "" {
				cl.ID = randomClientID()
			}
			if other, dup := clientIDs[cl.ID]; dup {
				return Config{}, fmt.Errorf("cognitotest: client ID %q used in pools %s and %s", cl.ID, other, p.ID)
			}
			clientIDs[cl.ID] = p.ID
			if cl.NoSecret {
				cl.Secret = ""
			} else if cl.Secret == "" {
				cl.Secret = randomSecret()
			}
			for _, s := range cl.Scopes {
				if !known[s] {
					return Config{}, fmt.Errorf("cognitotest: pool %s: client %s: scope %q is not defined by a resource server", p.ID, cl.ID, s)
				}
			}
			cl.Scopes = slices.Clone(cl.Scopes)
			clients = append(clients, cl)
		}
		p.Clients = clients
		users := make([]User, 0, len(p.Users))
		for _, u := range p.Users {
			if u.Username == "" {
				return Config{}, fmt.Errorf("cognitotest: pool %s: user without username", p.ID)
			}
			if u.Sub == "" {
				u.Sub = randomUUID()
			}
			u.Groups = slices.Clone(u.Groups)
			attrs := make(map[string]string, len(u.Attributes))
			for k, v := range u.Attributes {
				attrs[strings.TrimPrefix(k, "custom:")] = v
			}
			u.Attributes = attrs
			users = append(users, u)
		}
		p.Users = users
		out.Pools = append(out.Pools, p)
	}
	return out, nil
}

// Region returns the AWS Region part of the pool ID.
func (p PoolConfig) Region() string {
	region, _, _ := strings.Cut(p.ID, "_")
	return region
}

// Client returns the pool's app client with the given name or ID.
func (p PoolConfig) Client(nameOrID string) (AppClient, bool) {
	for _, c := range p.Clients {
		if c.Name == nameOrID || c.ID == nameOrID {
			return c, true
		}
	}
	return AppClient{}, false
}

// User returns the pool's user with the given username.
func (p PoolConfig) User(username string) (User, bool) {
	for _, u := range p.Users {
		if u.Username == username {
			return u, true
		}
	}
	return User{}, false
}

func randomClientID() string {
	b := make([]byte, 20)
	_, _ = rand.Read(b)
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))[:26]
}

func randomSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))
}

func randomUUID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// oauthError is a token-endpoint refusal: the OAuth error code and Cognito's description.
type oauthError struct {
	code        gen.OAuthErrorCode
	description string
}

// authenticateClient finds the app client of a token or revoke request from HTTP Basic
// credentials (RFC 6749, section 2.3.1: each part form-urlencoded) or from the body, and
// checks its secret in constant time.
func (s *Server) authenticateClient(r *http.Request, bodyID, bodySecret string) (*pool, AppClient, *oauthError) {
	id, secret := bodyID, bodySecret
	if h := r.Header.Get("Authorization"); h != "" {
		basicID, basicSecret, ok := r.BasicAuth()
		if !ok {
			return nil, AppClient{}, &oauthError{gen.InvalidClient, "Client authentication failed."}
		}
		var err1, err2 error
		basicID, err1 = url.QueryUnescape(basicID)
		basicSecret, err2 = url.QueryUnescape(basicSecret)
		if err1 != nil || err2 != nil {
			return nil, AppClient{}, &oauthError{gen.InvalidClient, "Client authentication failed."}
		}
		// RFC 6749 forbids more than one authentication method in a request.
		if bodySecret != "" || (bodyID != "" && bodyID != basicID) {
			return nil, AppClient{}, &oauthError{gen.InvalidRequest, "More than one client authentication method was used."}
		}
		id, secret = basicID, basicSecret
	}
	if id == "" {
		return nil, AppClient{}, &oauthError{gen.InvalidClient, "Client authentication failed."}
	}
	p, ok := s.byClient[id]
	if !ok {
		return nil, AppClient{}, &oauthError{gen.InvalidClient, "Client authentication failed."}
	}
	c, _ := p.cfg.Client(id)
	if c.Secret == "" && secret == "" {
		return p, c, nil
	}
	if subtle.ConstantTimeCompare([]byte(c.Secret), []byte(secret)) != 1 {
		return nil, AppClient{}, &oauthError{gen.InvalidClient, "Client authentication failed."}
	}
	return p, c, nil
}

// grantScopes decides the scopes of a client_credentials token: the requested ones (one
// space-separated string) when all are allowed, else every allowed scope.
func grantScopes(c AppClient, requested string) ([]string, *oauthError) {
	fields := strings.Fields(requested)
	if len(fields) == 0 {
		return c.Scopes, nil
	}
	var out []string
	for _, f := range fields {
		if !slices.Contains(c.Scopes, f) {
			return nil, &oauthError{gen.InvalidScope, "Invalid scope requested."}
		}
		if !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	return out, nil
}
