package policy

import (
	"context"
	"fmt"
	"net/url"
	"path/filepath"
	"slices"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
)

// importOpenAPI turns the operations of an OpenAPI 3 document into routes, reading each
// operation's security requirements for the named scheme:
//
//   - security: [] (explicitly none)                → public
//   - one requirement {scheme: [a, b]}              → scopes all [a, b] ({scheme: []}: any valid token)
//   - several requirements {scheme: [x]}, {scheme: [y]} → scopes any [x, y]
//
// A path ending in "/" becomes a pattern ending in "/{$}", so that every route matches
// exactly the paths the document lists. Anything else (another scheme, alternatives with
// several scopes each, optional {} alternatives) cannot be expressed and is an error naming the operation. Operations with
// no security at all, neither their own nor the document's, get no route and fall to the
// policy's default.
func importOpenAPI(file, scheme string, read func(string) ([]byte, error)) ([]routeSpec, error) {
	data, err := read(file)
	if err != nil {
		return nil, fmt.Errorf("openapi: %v", err)
	}
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromDataWithPath(data, &url.URL{Path: filepath.ToSlash(file)})
	if err != nil {
		return nil, fmt.Errorf("openapi: load %s: %v", file, err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("openapi: %s is not a valid OpenAPI document: %v", file, err)
	}
	if doc.Components == nil || doc.Components.SecuritySchemes[scheme] == nil {
		return nil, fmt.Errorf("openapi: %s has no security scheme %q", file, scheme)
	}
	var routes []routeSpec
	paths := doc.Paths.InMatchingOrder()
	slices.Sort(paths)
	for _, path := range paths {
		item := doc.Paths.Value(path)
		methods := make([]string, 0, len(item.Operations()))
		for m := range item.Operations() {
			methods = append(methods, m)
		}
		slices.Sort(methods)
		for _, method := range methods {
			op := item.Operations()[method]
			name := method + " " + path
			if op.OperationID != "" {
				name += " (" + op.OperationID + ")"
			}
			where := file + " " + name
			if strings.Contains(path, "{") && !wholeSegmentParams(path) {
				return nil, fmt.Errorf("openapi: operation %s: path parameters must be whole segments to become a route pattern", name)
			}
			security := op.Security
			if security == nil {
				security = &doc.Security
				if doc.Security == nil {
					continue
				}
			}
			r := routeSpec{pattern: method + " " + exactPattern(path), imported: where}
			if err := fromSecurity(&r, *security, scheme); err != nil {
				return nil, fmt.Errorf("openapi: operation %s: %v", name, err)
			}
			routes = append(routes, r)
		}
	}
	return routes, nil
}

// exactPattern is the ServeMux pattern path for an OpenAPI path. OpenAPI paths are exact,
// but a ServeMux pattern ending in "/" matches every path below it: "/docs/" imported as
// is would make an operation's security cover every undocumented path under /docs/, and
// a public "/" every path of the service. "{$}" anchors such a pattern to its own path.
func exactPattern(path string) string {
	if strings.HasSuffix(path, "/") {
		return path + "{$}"
	}
	return path
}

func wholeSegmentParams(path string) bool {
	for _, seg := range strings.Split(path, "/") {
		if strings.ContainsAny(seg, "{}") && !(strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}") &&
			strings.Count(seg, "{") == 1) {
			return false
		}
	}
	return true
}

func fromSecurity(r *routeSpec, reqs openapi3.SecurityRequirements, scheme string) error {
	if len(reqs) == 0 {
		r.public = true
		return nil
	}
	var alternatives [][]string
	for _, req := range reqs {
		if len(req) == 0 {
			return fmt.Errorf("an optional ({}) security alternative cannot be expressed; write the route in the policy file")
		}
		for name := range req {
			if name != scheme {
				return fmt.Errorf("security scheme %q is not %q; write the route in the policy file", name, scheme)
			}
		}
		alternatives = append(alternatives, req[scheme])
	}
	if len(alternatives) == 1 {
		if len(alternatives[0]) > 0 {
			r.scopes = &setSpec{all: slices.Clone(alternatives[0])}
		}
		return nil
	}
	var anyOf []string
	for _, alt := range alternatives {
		if len(alt) != 1 {
			return fmt.Errorf("alternatives of several scopes each cannot be expressed; write the route in the policy file")
		}
		anyOf = append(anyOf, alt[0])
	}
	r.scopes = &setSpec{any: anyOf}
	return nil
}
