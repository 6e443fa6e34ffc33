package policy

import (
	"fmt"
	"net/http"
	"net/url"
	"path"
	"strings"
)

// wildcard is a path wildcard of a route pattern: its name and the index of the path
// segment it matches ("/tenants/{tenant}/items" → tenant, 1). rest is set for {name...}.
type wildcard struct {
	name  string
	index int
	rest  bool
}

// patternWildcards lists the path wildcards of a ServeMux pattern, which is
// "[METHOD ][HOST]/PATH".
func patternWildcards(pattern string) []wildcard {
	p := pattern
	if i := strings.IndexAny(p, " \t"); i >= 0 {
		p = strings.TrimLeft(p[i:], " \t")
	}
	if i := strings.IndexByte(p, '/'); i >= 0 {
		p = p[i:]
	}
	var out []wildcard
	for i, seg := range strings.Split(strings.TrimPrefix(p, "/"), "/") {
		if !strings.HasPrefix(seg, "{") || !strings.HasSuffix(seg, "}") || seg == "{$}" {
			continue
		}
		name := seg[1 : len(seg)-1]
		rest := strings.HasSuffix(name, "...")
		out = append(out, wildcard{name: strings.TrimSuffix(name, "..."), index: i, rest: rest})
	}
	return out
}

// value extracts the wildcard from a cleaned, escaped request path, unescaped as the
// ServeMux unescapes it for PathValue. It does not allocate unless the segment is escaped.
func (w wildcard) value(escapedPath string) (string, bool) {
	p := strings.TrimPrefix(escapedPath, "/")
	for range w.index {
		i := strings.IndexByte(p, '/')
		if i < 0 {
			return "", false
		}
		p = p[i+1:]
	}
	if !w.rest {
		if i := strings.IndexByte(p, '/'); i >= 0 {
			p = p[:i]
		}
	}
	if !strings.ContainsRune(p, '%') {
		return p, true
	}
	if w.rest {
		// {name...} values are unescaped segment by segment, keeping the slashes.
		segs := strings.Split(p, "/")
		for i, s := range segs {
			u, err := url.PathUnescape(s)
			if err != nil {
				return "", false
			}
			segs[i] = u
		}
		return strings.Join(segs, "/"), true
	}
	u, err := url.PathUnescape(p)
	return u, err == nil
}

// cleanPath is the path a ServeMux matches: path.Clean, keeping a trailing slash. A
// request whose path is not clean is redirected by the ServeMux to this one, so the
// policy decides on the route the redirect leads to.
func cleanPath(p string) string {
	if p == "" {
		return "/"
	}
	if p[0] != '/' {
		p = "/" + p
	}
	np := path.Clean(p)
	if p[len(p)-1] == '/' && np != "/" {
		if len(p) == len(np)+1 && strings.HasPrefix(p, np) {
			return p
		}
		np += "/"
	}
	return np
}

// routeHandler is what the policy registers on its ServeMux: matching a request yields
// the route itself.
type routeHandler struct{ r *route }

func (routeHandler) ServeHTTP(http.ResponseWriter, *http.Request) {}

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
