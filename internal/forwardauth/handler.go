package forwardauth

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
)

// The paths of the endpoints Handler serves; Envoy's is Config.EnvoyPrefix + "/".
const (
	NginxPath   = "/auth/nginx"
	ForwardPath = "/auth/forward"
)

// Handler serves the endpoints: NginxPath (NginxAuthRequest), ForwardPath (ForwardAuth)
// and everything under the Envoy prefix (EnvoyHTTP), any method. Other requests go to
// next. It routes on the raw request target itself, not through a ServeMux, which would
// clean or redirect the original path Envoy sends under its prefix.
func (d *Decider) Handler(next http.Handler) http.Handler {
	nginx, forward, envoy := d.Endpoint(NginxAuthRequest), d.Endpoint(ForwardAuth), d.Endpoint(EnvoyHTTP)
	envoyDir := d.envoyPrefix + "/"
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasPrefix(r.RequestURI, envoyDir):
			envoy.ServeHTTP(w, r)
		case r.URL.Path == NginxPath:
			nginx.ServeHTTP(w, r)
		case r.URL.Path == ForwardPath:
			forward.ServeHTTP(w, r)
		default:
			next.ServeHTTP(w, r)
		}
	})
}

// Endpoint returns the handler answering proxies of protocol p: 200 with the identity
// headers when the original request may pass; the middleware's status, headers and
// problem body when it may not; 400 with a problem body when the request does not
// describe an original request.
func (d *Decider) Endpoint(p Protocol) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var o Outcome
		h := w.Header()
		if orig, err := d.Original(p, r); err != nil {
			d.logger.LogAttrs(r.Context(), slog.LevelDebug, "forwardauth: bad request",
				slog.String("endpoint", p.String()), slog.String("error", err.Error()))
			o = BadRequest(err)
			for k, v := range o.Header {
				h[k] = v
			}
		} else {
			o = d.decide(orig, h)
		}
		if o.Allow {
			h.Set("Cache-Control", "no-store")
		}
		w.WriteHeader(o.Status)
		_, _ = w.Write(o.Body)
	})
}

// BadRequest is the answer to a request that describes no original request: 400 with a
// problem body in the middleware's shape, code "bad_request", and err's message as its
// detail.
func BadRequest(err error) Outcome {
	body, _ := json.Marshal(struct {
		Type   string `json:"type"`
		Title  string `json:"title"`
		Status int    `json:"status"`
		Detail string `json:"detail"`
		Code   string `json:"code"`
	}{"about:blank", "Bad Request", http.StatusBadRequest, strings.TrimPrefix(err.Error(), "forwardauth: "), "bad_request"})
	h := http.Header{}
	h.Set("Content-Type", "application/problem+json")
	h.Set("Cache-Control", "no-store")
	return Outcome{Status: http.StatusBadRequest, Header: h, Body: append(body, '\n')}
}
