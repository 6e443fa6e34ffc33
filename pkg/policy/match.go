package policy

import (
	"fmt"
	"net/http"
	"strings"
)

// patternWildcards lists the names of the path wildcards of a ServeMux pattern, which is
// "[METHOD ][HOST]/PATH": "/tenants/{tenant}/{rest...}" → tenant, rest.
func patternWildcards(pattern string) []string {
	p := pattern
	if i := strings.IndexAny(p, " \t"); i >= 0 {
		p = strings.TrimLeft(p[i:], " \t")
	}
	if i := strings.IndexByte(p, '/'); i >= 0 {
		p = p[i:]
	}
	var out []string
	for _, seg := range strings.Split(strings.TrimPrefix(p, "/"), "/") {
		if !strings.HasPrefix(seg, "{") || !strings.HasSuffix(seg, "}") || seg == "{$}" {
			continue
		}
		out = append(out, strings.TrimSuffix(seg[1:len(seg)-1], "..."))
	}
	return out
}

// patternHost returns the host of a ServeMux pattern "[METHOD ][HOST]/PATH", or "".
func patternHost(pattern string) string {
	p := pattern
	if i := strings.IndexAny(p, " \t"); i >= 0 {
		p = strings.TrimLeft(p[i:], " \t")
	}
	host, _, _ := strings.Cut(p, "/")
	return host
}

// routeHandler is what the policy registers on its ServeMux: matching a request yields
// the route itself, and serving one through the ServeMux records the route's wildcard
// values as the ServeMux hands them to a handler.
type routeHandler struct{ r *route }

func (h routeHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c, ok := w.(*pathCapture)
	if !ok {
		return
	}
	// A ServeMux can hand a handler a request whose PathValue panics: Go 1.26 matches
	// "CONNECT /tenants//" to "/tenants/{tenant}/" without recording the empty segment.
	// Such a request reaches no handler's wildcards, so it matches no route here.
	defer func() {
		if recover() != nil {
			c.route, c.values = nil, c.values[:0]
		}
	}()
	c.values = c.values[:0]
	for _, name := range h.r.params {
		c.values = append(c.values, r.PathValue(name))
	}
	c.route = h.r
}

// pathCapture is the ResponseWriter the policy serves a request to its own ServeMux with,
// to read the wildcard values the service's handler will read with r.PathValue.
type pathCapture struct {
	route  *route
	values []string
	header http.Header
}

func (c *pathCapture) Header() http.Header {
	if c.header == nil {
		c.header = http.Header{}
	}
	return c.header
}

func (c *pathCapture) Write(b []byte) (int, error) { return len(b), nil }
func (c *pathCapture) WriteHeader(int)             {}

// pathProbe is what pathValues serves to the policy's ServeMux: a copy of the request
// (the ServeMux writes the pattern and the wildcards into the request it serves) and the
// writer the route's handler records into. Probes are pooled per policy.
type pathProbe struct {
	req http.Request
	pathCapture
}

// pathValues returns the values of rt's wildcards for r, taken from the ServeMux itself
// rather than recomputed: the ServeMux matches CONNECT requests on their raw path and
// every other method on the cleaned one, and whatever it does next release, the values
// a condition compares are the ones the handler reads. A request the ServeMux redirects
// is judged by the request the redirect leads to, as the client will send it. ok is false
// when the ServeMux would not hand r (or its redirect) to rt's handler: the caller
// refuses the request. The values belong to probe: valid until releaseProbe(probe).
func (p *Policy) pathValues(r *http.Request, rt *route) (values []string, ok bool, probe *pathProbe) {
	probe, _ = p.probes.Get().(*pathProbe)
	if probe == nil {
		probe = &pathProbe{}
	}
	for range 2 { // the request, then at most one redirect
		probe.req = *r
		probe.route = nil
		p.mux.ServeHTTP(&probe.pathCapture, &probe.req)
		if probe.route != nil {
			return probe.values, probe.route == rt, probe
		}
		loc := probe.Header().Get("Location")
		if loc == "" {
			return nil, false, probe
		}
		u, err := r.URL.Parse(loc)
		if err != nil {
			return nil, false, probe
		}
		redirected := new(http.Request)
		*redirected = *r
		redirected.URL = u
		redirected.RequestURI = u.RequestURI()
		r = redirected
		clear(probe.header)
	}
	return nil, false, probe
}

// releaseProbe returns a probe to the pool, keeping nothing of the request it served.
func (p *Policy) releaseProbe(probe *pathProbe) {
	probe.req = http.Request{}
	probe.route, probe.values = nil, probe.values[:0]
	clear(probe.header)
	p.probes.Put(probe)
}

// register adds a pattern to mux, turning the ServeMux's panics on invalid or
// conflicting patterns into errors.
func register(mux *http.ServeMux, pattern string, h http.Handler) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("%v", v)
		}
	}()
	mux.Handle(pattern, h)
	return nil
}

// conflicts reports whether two patterns conflict for a ServeMux.
func conflicts(a, b string) bool {
	mux := http.NewServeMux()
	if register(mux, a, http.NotFoundHandler()) != nil {
		return false
	}
	return register(mux, b, http.NotFoundHandler()) != nil
}

// invalidPatternReason trims the ServeMux's panic text to the part about the pattern.
func invalidPatternReason(err error) string {
	msg := err.Error()
	if i := strings.Index(msg, ": "); i >= 0 && strings.HasPrefix(msg, "parsing ") {
		msg = msg[i+2:]
	}
	// The ServeMux names the Go file that registered the pattern; that is us, not the user.
	if i := strings.Index(msg, " (registered at "); i >= 0 {
		if j := strings.Index(msg[i:], ")"); j >= 0 {
			msg = msg[:i] + msg[i+j+1:]
		}
	}
	return msg
}
