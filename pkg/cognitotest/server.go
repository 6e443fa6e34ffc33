package cognitotest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/cognitokit/cognitokit/gen"
)

// maxRequestBody caps what the server reads of a request body; Cognito's own forms are tiny.
const maxRequestBody = 64 << 10

// Server is a local Amazon Cognito. It is an [http.Handler]; [Start] serves it on
// 127.0.0.1 for a test. All methods are safe for concurrent use.
type Server struct {
	baseURL string
	clock   func() time.Time
	pools   []*pool
	byID    map[string]*pool
	// byClient finds the pool of an app client: client IDs are unique across pools, so one
	// token endpoint can serve every pool.
	byClient map[string]*pool
	mux      http.Handler
	router   routers.Router
	faults   *faults

	mu      sync.Mutex
	revoked map[string]bool // jti of revoked access tokens
	// sessions are the refresh tokens SignIn issued; revokedSessions the origin_jti of
	// those revoked, whose access tokens userInfo refuses.
	sessions        map[string]*session
	revokedSessions map[string]bool
}

type pool struct {
	cfg PoolConfig

	mu   sync.RWMutex
	keys poolKeys
}

func (p *pool) currentKeys() poolKeys {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.keys
}

func (p *pool) client(nameOrID string) (AppClient, error) {
	c, ok := p.cfg.Client(nameOrID)
	if !ok {
		return AppClient{}, fmt.Errorf("cognitotest: pool %s has no app client %q", p.cfg.ID, nameOrID)
	}
	return c, nil
}

func (p *pool) accessTTL(c AppClient) time.Duration {
	if c.AccessTokenTTL > 0 {
		return c.AccessTokenTTL
	}
	return p.cfg.AccessTokenTTL
}

// New returns a local Cognito for cfg whose URLs (and so token issuers) start with
// baseURL, such as "http://127.0.0.1:9229". Each pool gets two fresh RSA-2048 keys. The
// Server is not started: serve it at baseURL with any [net/http] server, or call [Start]
// instead in a test.
func New(baseURL string, cfg Config) (*Server, error) {
	cfg, err := cfg.normalize()
	if err != nil {
		return nil, err
	}
	s := &Server{
		baseURL:  strings.TrimSuffix(baseURL, "/"),
		clock:    cfg.Clock,
		byID:     map[string]*pool{},
		byClient: map[string]*pool{},
		faults:   newFaults(),
		revoked:  map[string]bool{},

		sessions:        map[string]*session{},
		revokedSessions: map[string]bool{},
	}
	for _, pc := range cfg.Pools {
		if _, dup := s.byID[pc.ID]; dup {
			return nil, fmt.Errorf("cognitotest: user pool %s configured twice", pc.ID)
		}
		keys, err := newPoolKeys()
		if err != nil {
			return nil, err
		}
		p := &pool{cfg: pc, keys: keys}
		s.pools = append(s.pools, p)
		s.byID[pc.ID] = p
		for _, c := range pc.Clients {
			s.byClient[c.ID] = p
		}
	}
	spec, err := gen.GetSpec()
	if err != nil {
		return nil, fmt.Errorf("cognitotest: load embedded OpenAPI document: %w", err)
	}
	// The document's servers are Cognito's hosts; match requests on their path alone.
	spec.Servers = nil
	if s.router, err = legacy.NewRouter(spec); err != nil {
		return nil, fmt.Errorf("cognitotest: route OpenAPI document: %w", err)
	}
	strict := gen.NewStrictHandlerWithOptions(s, []gen.StrictMiddlewareFunc{withRequest},
		gen.StrictHTTPServerOptions{
			RequestErrorHandlerFunc: func(w http.ResponseWriter, r *http.Request, err error) {
				writeJSON(w, http.StatusBadRequest, gen.OAuthError{Error: gen.InvalidRequest, ErrorDescription: "malformed request"})
			},
			ResponseErrorHandlerFunc: func(w http.ResponseWriter, r *http.Request, err error) {
				http.Error(w, "internal error", http.StatusInternalServerError)
			},
		})
	s.mux = gen.HandlerWithOptions(strict, gen.StdHTTPServerOptions{
		ErrorHandlerFunc: func(w http.ResponseWriter, r *http.Request, err error) {
			writeJSON(w, http.StatusBadRequest, gen.ServiceError{Message: "malformed request"})
		},
	})
	return s, nil
}

// ServeHTTP answers a request as Cognito would: injected faults first, then validation
// against api/openapi.yaml, then the endpoint itself.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxRequestBody)
	if ep, ok := endpointOf(r.URL.Path); ok {
		pool := ""
		if ep == EndpointJWKS || ep == EndpointDiscovery {
			pool = poolOf(r.URL.Path)
		}
		if fault, ok := s.faults.next(ep, pool); ok && fault.serve(w, r) {
			return
		}
	}
	route, params, err := s.router.FindRoute(r)
	if err != nil {
		// Not an operation of the document: the mux answers 404 or 405.
		s.mux.ServeHTTP(w, r)
		return
	}
	err = openapi3filter.ValidateRequest(r.Context(), &openapi3filter.RequestValidationInput{
		Request:    r,
		PathParams: params,
		Route:      route,
		Options: &openapi3filter.Options{
			// Credentials are checked by the endpoints themselves, as Cognito answers
			// bad ones with OAuth errors rather than a bare 401.
			AuthenticationFunc: openapi3filter.NoopAuthenticationFunc,
		},
	})
	if err != nil {
		s.rejectInvalid(w, route, err)
		return
	}
	s.mux.ServeHTTP(w, r)
}

// rejectInvalid answers a request the OpenAPI document forbids, in the error shape of the
// endpoint it was sent to.
func (s *Server) rejectInvalid(w http.ResponseWriter, route *routers.Route, err error) {
	if strings.HasPrefix(route.Path, "/oauth2/") {
		code := gen.InvalidRequest
		var se *openapi3.SchemaError
		if errors.As(err, &se) && se.SchemaField == "enum" && strings.Join(se.JSONPointer(), "/") == "grant_type" {
			code = gen.UnsupportedGrantType
		}
		writeJSON(w, http.StatusBadRequest, gen.OAuthError{Error: code, ErrorDescription: describeInvalid(err)})
		return
	}
	writeJSON(w, http.StatusBadRequest, gen.ServiceError{Message: describeInvalid(err)})
}

// describeInvalid names what was wrong without echoing request values (which may be
// secrets) back.
func describeInvalid(err error) string {
	var re *openapi3filter.RequestError
	if !errors.As(err, &re) {
		return "invalid request"
	}
	var se *openapi3.SchemaError
	switch {
	case errors.As(err, &se) && len(se.JSONPointer()) > 0:
		return fmt.Sprintf("invalid parameter %s: %s", strings.Join(se.JSONPointer(), "."), se.Reason)
	case re.Parameter != nil:
		return fmt.Sprintf("invalid parameter %s", re.Parameter.Name)
	case re.RequestBody != nil && re.Reason != "":
		return "invalid request body: " + re.Reason
	case re.RequestBody != nil:
		return "invalid request body"
	}
	return "invalid request"
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

type requestKey struct{}

// withRequest hands the *http.Request to the strict handlers, which need its
// Authorization header.
func withRequest(f gen.StrictHandlerFunc, _ string) gen.StrictHandlerFunc {
	return func(ctx context.Context, w http.ResponseWriter, r *http.Request, req any) (any, error) {
		return f(context.WithValue(ctx, requestKey{}, r), w, r, req)
	}
}

func requestFrom(ctx context.Context) *http.Request {
	r, _ := ctx.Value(requestKey{}).(*http.Request)
	return r
}

func (s *Server) now() time.Time { return s.clock() }

func (s *Server) pool(id string) (*pool, error) {
	if id == "" {
		return s.pools[0], nil
	}
	p, ok := s.byID[id]
	if !ok {
		return nil, fmt.Errorf("cognitotest: no user pool %q", id)
	}
	return p, nil
}

// BaseURL returns the URL the server was created with, without a trailing slash.
func (s *Server) BaseURL() string { return s.baseURL }

// TokenURL returns the URL of the token endpoint, the ClientCredentialsConfig.TokenURL.
func (s *Server) TokenURL() string { return s.baseURL + "/oauth2/token" }

// Issuer returns the iss claim of a pool's tokens: "<base URL>/<pool ID>", as a Cognito
// endpoint override (LocalStack, cognitokit's WithEndpoint) makes it.
func (s *Server) Issuer(poolID string) string { return s.baseURL + "/" + poolID }

// JWKSURL returns the URL of a pool's JSON Web Key Set.
func (s *Server) JWKSURL(poolID string) string {
	return s.Issuer(poolID) + "/.well-known/jwks.json"
}

// Pools returns the configuration of every pool, with generated IDs and secrets filled in.
func (s *Server) Pools() []PoolConfig {
	out := make([]PoolConfig, len(s.pools))
	for i, p := range s.pools {
		out[i] = p.cfg
	}
	return out
}

// Pool returns the configuration of the pool with the given ID; "" means the first pool.
func (s *Server) Pool(id string) (PoolConfig, bool) {
	p, err := s.pool(id)
	if err != nil {
		return PoolConfig{}, false
	}
	return p.cfg, true
}

// Client returns the app client with the given name or ID from any pool.
func (s *Server) Client(nameOrID string) (AppClient, bool) {
	for _, p := range s.pools {
		if c, ok := p.cfg.Client(nameOrID); ok {
			return c, true
		}
	}
	return AppClient{}, false
}

// RotateKeys replaces both signing keys of a pool. Tokens signed before stop verifying
// once a verifier refetches the JWKS, as when Cognito retires a key.
func (s *Server) RotateKeys(poolID string) error {
	p, err := s.pool(poolID)
	if err != nil {
		return err
	}
	keys, err := newPoolKeys()
	if err != nil {
		return err
	}
	p.mu.Lock()
	p.keys = keys
	p.mu.Unlock()
	return nil
}

// JWKS returns the JSON of a pool's current key set, as its JWKS endpoint serves it; use
// it for verifiers configured with static keys.
func (s *Server) JWKS(poolID string) ([]byte, error) {
	p, err := s.pool(poolID)
	if err != nil {
		return nil, err
	}
	return json.Marshal(p.currentKeys().jwks())
}
