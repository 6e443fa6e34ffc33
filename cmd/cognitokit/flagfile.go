package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"
)

// flagFileError lists every problem of a flag file, each as file:line:col.
type flagFileError struct{ msgs []string }

func (e *flagFileError) Error() string { return strings.Join(e.msgs, "\n") }

// pathFlags are the flags whose values are file paths, resolved relative to the flag
// file's directory.
var pathFlags = map[string]bool{"policy": true, "jwks-file": true}

// applyConfigFile sets the flags of fs from the YAML mapping in path, whose keys are the
// flags' names: a scalar sets the flag, a list sets a repeatable flag once per item.
// Flags set on the command line are left as they are (the command line wins), and so is
// "config" itself. Unknown keys, values of the wrong shape and values a flag refuses are
// all reported, each at its file:line:col.
func applyConfigFile(fs *flag.FlagSet, path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return fmt.Errorf("%s: %s", path, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	ff := &flagFileError{}
	errorf := func(n *yaml.Node, format string, args ...any) {
		ff.msgs = append(ff.msgs, fmt.Sprintf("%s:%d:%d: %s", path, n.Line, n.Column, fmt.Sprintf(format, args...)))
	}
	if len(doc.Content) == 0 {
		return nil // an empty file sets nothing
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		errorf(root, "want a mapping of flag names to values")
		return ff
	}
	onCommandLine := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { onCommandLine[f.Name] = true })
	seen := map[string]bool{}
	dir := filepath.Dir(path)
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		name := k.Value
		fl := fs.Lookup(name)
		switch {
		case k.Kind != yaml.ScalarNode || fl == nil || name == "config":
			errorf(k, "unknown key %q: the keys are the flags of the command", name)
			continue
		case seen[name]:
			errorf(k, "%q given twice", name)
			continue
		}
		seen[name] = true
		var values []*yaml.Node
		switch v.Kind {
		case yaml.ScalarNode:
			values = []*yaml.Node{v}
		case yaml.SequenceNode:
			if _, repeatable := fl.Value.(*stringList); !repeatable {
				errorf(v, "%q takes one value, not a list", name)
				continue
			}
			values = v.Content
		default:
			errorf(v, "%q: want a value or a list", name)
			continue
		}
		if onCommandLine[name] {
			continue
		}
		for _, item := range values {
			if item.Kind != yaml.ScalarNode {
				errorf(item, "%q: want a value", name)
				continue
			}
			val := item.Value
			if pathFlags[name] && val != "" && !filepath.IsAbs(val) {
				val = filepath.Join(dir, val)
			}
			if err := fs.Set(name, val); err != nil {
				errorf(item, "%q: invalid value %q: %v", name, item.Value, err)
			}
		}
	}
	if len(ff.msgs) > 0 {
		return ff
	}
	return nil
}
