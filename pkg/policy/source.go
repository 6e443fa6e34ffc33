package policy

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
)

// maxPolicyFile caps the size of a policy file and of a document it imports.
const maxPolicyFile = 8 << 20

// source is where the files of a policy come from: the policy file and the OpenAPI
// document it imports. Each file is read once per load, so that what is compiled is
// exactly what read returned.
type source struct {
	// read reads one file, capped at maxPolicyFile.
	read func(name string) ([]byte, error)
	// resolve names the file an import written in the file from refers to.
	resolve func(from, ref string) (string, error)
}

// diskSource reads from the operating system's files; an import is relative to the
// directory of the file that names it, or absolute.
func diskSource() source {
	return source{
		read: func(name string) ([]byte, error) { return readCapped(name, maxPolicyFile) },
		resolve: func(from, ref string) (string, error) {
			if filepath.IsAbs(ref) {
				return ref, nil
			}
			return filepath.Join(filepath.Dir(from), ref), nil
		},
	}
}

// fsSource reads from fsys; an import is relative to the directory of the file that
// names it and must stay inside fsys.
func fsSource(fsys fs.FS) source {
	return source{
		read: func(name string) ([]byte, error) {
			f, err := fsys.Open(name)
			if err != nil {
				return nil, err
			}
			defer f.Close()
			return readRegular(f, name, maxPolicyFile)
		},
		resolve: func(from, ref string) (string, error) {
			name := path.Join(path.Dir(from), ref)
			if path.IsAbs(ref) || !fs.ValidPath(name) {
				return "", fmt.Errorf("%q is outside the file system the policy is loaded from", ref)
			}
			return name, nil
		},
	}
}

// noFiles is the source of Parse, which is given the policy's bytes and nothing else.
func noFiles() source {
	errNoFiles := errors.New("an OpenAPI import needs the files it names: load the policy with Load or LoadFS")
	return source{
		read:    func(string) ([]byte, error) { return nil, errNoFiles },
		resolve: func(string, string) (string, error) { return "", errNoFiles },
	}
}

// readCapped reads a regular file of at most limit bytes: policies and the documents they
// import are configuration, but a device or a runaway file must not hang or exhaust a load.
func readCapped(name string, limit int64) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readRegular(f, name, limit)
}

func readRegular(f fs.File, name string, limit int64) ([]byte, error) {
	if fi, err := f.Stat(); err != nil {
		return nil, err
	} else if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", name)
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes", name, limit)
	}
	return data, nil
}
