package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/cognitokit/cognitokit/pkg/cognito"
)

// A --pools file configures an authorizer of several user pools, one entry per pool with
// the settings the single-pool flags give:
//
//	pools:
//	  - user_pool_id: us-east-1_AbC123xyz
//	    client_ids: [1example23456789]
//	    scopes: [orders/read]
//	  - user_pool_id: eu-west-1_Partner99
//	    any_client: true
//	    token_use: id
//	    jwks_file: partner-jwks.json   # relative to this file
//
// It is decoded strictly: an unknown key or a value of the wrong type is an error at its
// file:line:col, and every error is reported, not only the first.

// poolsFileKeys are the keys of one pool entry, in the order of the error message.
var poolsFileKeys = []string{"user_pool_id", "region", "client_ids", "any_client", "token_use",
	"scopes", "groups", "leeway", "issuers", "jwks_file"}

// poolsFile is a decoded --pools file: the configs and their static keys, by pool ID.
type poolsFile struct {
	pools []cognito.JWTAuthorizerConfig
	jwks  map[string][]byte
}

// loadPoolsFile reads and decodes a --pools file.
func loadPoolsFile(path string) (*poolsFile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the pools file: %w", err)
	}
	d := &poolsDecoder{file: path, dir: filepath.Dir(path)}
	out := d.decode(data)
	if len(d.errs) > 0 {
		return nil, fmt.Errorf("%s", strings.Join(d.errs, "\n"))
	}
	return out, nil
}

type poolsDecoder struct {
	file, dir string
	errs      []string
}

func (d *poolsDecoder) errorf(n *yaml.Node, format string, args ...any) {
	d.errs = append(d.errs, fmt.Sprintf("%s:%d:%d: ", d.file, n.Line, n.Column)+fmt.Sprintf(format, args...))
}

func (d *poolsDecoder) decode(data []byte) *poolsFile {
	out := &poolsFile{jwks: map[string][]byte{}}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		d.errs = append(d.errs, d.file+": invalid YAML: "+strings.TrimPrefix(err.Error(), "yaml: "))
		return nil
	}
	if len(doc.Content) == 0 {
		d.errs = append(d.errs, d.file+":1:1: empty pools file: a pools list is required")
		return nil
	}
	root := doc.Content[0]
	var list *yaml.Node
	d.mapping(root, "the pools file", func(key string, k, v *yaml.Node) {
		if key != "pools" {
			d.errorf(k, "unknown key %q (expected pools)", key)
			return
		}
		list = v
	})
	switch {
	case root.Kind != yaml.MappingNode:
	case list == nil:
		d.errorf(root, "missing pools")
	case list.Kind != yaml.SequenceNode || len(list.Content) == 0:
		d.errorf(list, "pools must be a non-empty list")
	default:
		for _, item := range list.Content {
			if cfg, jwks, ok := d.pool(item); ok {
				out.pools = append(out.pools, cfg)
				if jwks != nil {
					out.jwks[cfg.UserPoolID] = jwks
				}
			}
		}
	}
	return out
}

func (d *poolsDecoder) pool(n *yaml.Node) (cfg cognito.JWTAuthorizerConfig, jwks []byte, ok bool) {
	before := len(d.errs)
	d.mapping(n, "a pool", func(key string, k, v *yaml.Node) {
		switch key {
		case "user_pool_id":
			cfg.UserPoolID = d.str(v, key)
		case "region":
			cfg.Region = d.str(v, key)
		case "client_ids":
			cfg.ClientIDs = d.strs(v, key)
		case "any_client":
			if v.Kind != yaml.ScalarNode || v.ShortTag() != "!!bool" {
				d.errorf(v, "any_client must be true or false")
				return
			}
			cfg.AllowAnyClient = v.Value == "true"
		case "token_use":
			cfg.TokenUse = cognito.TokenUse(d.str(v, key))
			if !slices.Contains([]string{"access", "id", "any"}, string(cfg.TokenUse)) {
				d.errorf(v, "token_use must be access, id or any")
			}
		case "scopes":
			cfg.RequiredScopes = d.strs(v, key)
		case "groups":
			cfg.RequiredGroups = d.strs(v, key)
		case "leeway":
			s := d.str(v, key)
			l, err := time.ParseDuration(s)
			if err != nil || l < 0 {
				d.errorf(v, "leeway must be a duration such as 60s")
				return
			}
			cfg.Leeway = l
			if l == 0 {
				cfg.Leeway = -1 // an explicit 0 means none, as --leeway 0
			}
		case "issuers":
			cfg.Issuers = d.strs(v, key)
		case "jwks_file":
			path := d.str(v, key)
			if path == "" {
				return
			}
			if !filepath.IsAbs(path) {
				path = filepath.Join(d.dir, path)
			}
			b, err := os.ReadFile(path)
			if err != nil {
				d.errorf(v, "jwks_file: %v", err)
				return
			}
			jwks = b
		default:
			d.errorf(k, "unknown key %q in a pool (expected %s)", key, strings.Join(poolsFileKeys, ", "))
		}
	})
	if n.Kind == yaml.MappingNode && cfg.UserPoolID == "" && len(d.errs) == before {
		d.errorf(n, "a pool needs user_pool_id")
	}
	return cfg, jwks, len(d.errs) == before
}

func (d *poolsDecoder) mapping(n *yaml.Node, what string, each func(key string, k, v *yaml.Node)) {
	if n.Kind != yaml.MappingNode {
		d.errorf(n, "%s must be a mapping", what)
		return
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if seen[k.Value] {
			d.errorf(k, "duplicate key %q", k.Value)
			continue
		}
		seen[k.Value] = true
		each(k.Value, k, v)
	}
}

func (d *poolsDecoder) str(n *yaml.Node, what string) string {
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str" {
		d.errorf(n, "%s must be a string", what)
		return ""
	}
	return n.Value
}

func (d *poolsDecoder) strs(n *yaml.Node, what string) []string {
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, "%s must be a list of strings", what)
		return nil
	}
	out := make([]string, 0, len(n.Content))
	for _, item := range n.Content {
		out = append(out, d.str(item, what+" entries"))
	}
	return out
}

// perPoolFlags are the flags whose setting goes in a --pools file instead.
var perPoolFlags = []string{"user-pool-id", "region", "client-id", "any-client", "token-use", "scope", "group", "leeway", "jwks-file"}

// poolsAuthorizer builds the authorizer of a --pools file; fs is the parsed flag set, to
// refuse the per-pool flags beside it.
func (f *authorizerFlags) poolsAuthorizer(fs *flag.FlagSet, extra ...cognito.AuthorizerOption) (*cognito.JWTAuthorizer, error) {
	var clash []string
	fs.Visit(func(fl *flag.Flag) {
		if slices.Contains(perPoolFlags, fl.Name) {
			clash = append(clash, "--"+fl.Name)
		}
	})
	if len(clash) > 0 {
		return nil, usagef("%s: give per-pool settings in the --pools file", strings.Join(clash, ", "))
	}
	pf, err := loadPoolsFile(f.poolsFile)
	if err != nil {
		return nil, usageError{err}
	}
	var opts []cognito.AuthorizerOption
	if f.endpoint != "" {
		opts = append(opts, cognito.WithEndpoint(f.endpoint))
	}
	for id, b := range pf.jwks {
		opts = append(opts, cognito.WithPoolJWKS(id, b))
	}
	z, err := cognito.NewMultiPoolAuthorizer(pf.pools, append(opts, extra...)...)
	if err != nil {
		return nil, usageError{err}
	}
	return z, nil
}
