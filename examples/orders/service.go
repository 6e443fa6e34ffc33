package orders

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/cognitokit/cognitokit/pkg/policy"
)

// maxBody caps request bodies the service reads.
const maxBody = 64 << 10

// Service is the orders API. Its handlers assume the policy middleware ran: they read
// the caller from policy.ClaimsFromContext.
type Service struct {
	// Outbound calls other services (here: the service's own internal price route) with
	// the service's own access token; build it from the authenticator's Transport.
	Outbound *http.Client
	// SelfURL is the base URL the service can reach itself at, for the internal call.
	SelfURL string

	mu     sync.Mutex
	orders map[string]order
	nextID int
}

type order struct {
	ID     string `json:"id"`
	Tenant string `json:"tenant"`
	Item   string `json:"item"`
	Cents  int    `json:"cents"`
}

// New returns the service with a few orders to look at.
func New(outbound *http.Client, selfURL string) *Service {
	return &Service{
		Outbound: outbound,
		SelfURL:  strings.TrimSuffix(selfURL, "/"),
		orders: map[string]order{
			"1": {ID: "1", Tenant: "acme", Item: "anvil", Cents: 4999},
			"2": {ID: "2", Tenant: "acme", Item: "rocket skates", Cents: 12900},
			"3": {ID: "3", Tenant: "globex", Item: "hammock", Cents: 7450},
		},
		nextID: 4,
	}
}

// Routes registers the handlers on mux. The patterns are the keys of routes.yaml.
func (s *Service) Routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /me", s.me)
	mux.HandleFunc("GET /orders/{id}", s.getOrder)
	mux.HandleFunc("POST /orders", s.createOrder)
	mux.HandleFunc("DELETE /orders/{id}", s.deleteOrder)
	mux.HandleFunc("GET /internal/prices/{id}", s.price)
	mux.HandleFunc("GET /orders/{id}/invoice", s.invoice)
	mux.HandleFunc("GET /reports/", s.report)
	mux.HandleFunc("GET /tenants/{tenant}/orders", s.tenantOrders)
	mux.HandleFunc("GET /admin/", s.admin)
}

// Handler returns the service's routes behind the policy middleware.
func (s *Service) Handler(p *policy.Policy, v policy.Verifier, opts ...policy.MiddlewareOption) http.Handler {
	mux := http.NewServeMux()
	s.Routes(mux)
	return policy.Middleware(p, v, opts...)(mux)
}

func (s *Service) me(w http.ResponseWriter, r *http.Request) {
	c, _ := policy.ClaimsFromContext(r.Context())
	writeJSON(w, http.StatusOK, map[string]any{
		"sub": c.Sub, "client_id": c.ClientID, "token_use": c.TokenUse, "scopes": c.Scopes, "username": c.Username,
	})
}

func (s *Service) lookup(id string) (order, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.orders[id]
	return o, ok
}

func (s *Service) getOrder(w http.ResponseWriter, r *http.Request) {
	o, ok := s.lookup(r.PathValue("id"))
	if !ok {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no such order"})
		return
	}
	writeJSON(w, http.StatusOK, o)
}

func (s *Service) createOrder(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Item   string `json:"item"`
		Tenant string `json:"tenant"`
		Cents  int    `json:"cents"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, maxBody)).Decode(&in); err != nil || in.Item == "" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "want a JSON body with an item"})
		return
	}
	s.mu.Lock()
	o := order{ID: fmt.Sprint(s.nextID), Tenant: in.Tenant, Item: in.Item, Cents: in.Cents}
	s.orders[o.ID] = o
	s.nextID++
	s.mu.Unlock()
	writeJSON(w, http.StatusCreated, o)
}

func (s *Service) deleteOrder(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	delete(s.orders, r.PathValue("id"))
	s.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (s *Service) price(w http.ResponseWriter, r *http.Request) {
	o, ok := s.lookup(r.PathValue("id"))
	if !ok {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no such order"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]int{"cents": o.Cents, "tax_cents": o.Cents / 5})
}

// invoice prices the order by calling the service's internal price route as a client:
// the Outbound client's transport adds the service's own access token, which that route
// requires (routes.yaml lets only the service's client in).
func (s *Service) invoice(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	o, ok := s.lookup(id)
	if !ok {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no such order"})
		return
	}
	req, err := http.NewRequestWithContext(r.Context(), http.MethodGet, s.SelfURL+"/internal/prices/"+id, nil)
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "bad price URL"})
		return
	}
	resp, err := s.Outbound.Do(req)
	if err != nil {
		// The error may name the token endpoint, never a token or a secret.
		writeJSON(w, http.StatusBadGateway, map[string]string{"error": "pricing unavailable"})
		return
	}
	defer resp.Body.Close()
	var price struct {
		Cents    int `json:"cents"`
		TaxCents int `json:"tax_cents"`
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(io.LimitReader(resp.Body, maxBody)).Decode(&price) != nil {
		writeJSON(w, http.StatusBadGateway, map[string]any{"error": "pricing refused", "status": resp.StatusCode})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"order": o, "total_cents": price.Cents + price.TaxCents})
}

func (s *Service) report(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	n, total := len(s.orders), 0
	for _, o := range s.orders {
		total += o.Cents
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]int{"orders": n, "total_cents": total})
}

func (s *Service) tenantOrders(w http.ResponseWriter, r *http.Request) {
	tenant := r.PathValue("tenant")
	s.mu.Lock()
	out := []order{}
	for _, o := range s.orders {
		if o.Tenant == tenant {
			out = append(out, o)
		}
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

func (s *Service) admin(w http.ResponseWriter, r *http.Request) {
	c, _ := policy.ClaimsFromContext(r.Context())
	writeJSON(w, http.StatusOK, map[string]any{"welcome": c.Username, "groups": c.Groups})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
