package scan

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/outrider-sec/outrider/internal/report"
)

// StdinName is the file name findings from standard input carry.
const StdinName = "-"

// source is one input to decode: a file read when its turn comes (path), or bytes already in
// hand (standard input, a kustomization's rendered output).
type source struct {
	name string
	path string
	data []byte
}

// read returns the source's bytes.
func (s source) read() ([]byte, error) {
	if s.path == "" {
		return s.data, nil
	}
	data, err := os.ReadFile(s.path)
	if err != nil {
		return nil, fmt.Errorf("reading: %w", unwrapPathError(err))
	}
	return data, nil
}

// manifestExts are the file endings a directory walk picks up.
var manifestExts = map[string]bool{".yaml": true, ".yml": true, ".json": true}

// notManifests are files a directory walk skips: they configure tools, they are not objects
// (scan a kustomization with --kustomize).
var notManifests = map[string]bool{"kustomization.yaml": true, "kustomization.yml": true, "Kustomization": true}

// collect finds every input named by paths ("-" is stdin, read now) and renders the kustomize
// directories. A path that does not exist becomes an input error; the others are returned.
func collect(paths, kustomizations []string, stdin io.Reader) ([]source, []report.InputError) {
	var srcs []source
	var errs []report.InputError
	fail := func(name string, err error) {
		errs = append(errs, report.InputError{File: name, Message: err.Error()})
	}
	readStdin := false
	for _, p := range paths {
		if p == StdinName {
			if readStdin {
				continue
			}
			readStdin = true
			data, err := io.ReadAll(stdin)
			if err != nil {
				fail(StdinName, fmt.Errorf("reading standard input: %w", err))
				continue
			}
			srcs = append(srcs, source{name: StdinName, data: data})
			continue
		}
		files, err := expand(p)
		if err != nil {
			fail(p, err)
			continue
		}
		for _, f := range files {
			srcs = append(srcs, source{name: f, path: f})
		}
	}
	for _, dir := range kustomizations {
		data, err := kustomize(dir)
		if err != nil {
			fail(dir, err)
			continue
		}
		srcs = append(srcs, source{name: dir, data: data})
	}
	return srcs, errs
}

// expand returns p itself for a file, or every manifest below p for a directory, sorted.
// Hidden directories (.git and the like) are skipped.
func expand(p string) ([]string, error) {
	info, err := os.Stat(p)
	if err != nil {
		return nil, unwrapPathError(err)
	}
	if !info.IsDir() {
		return []string{p}, nil
	}
	var files []string
	err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != p && strings.HasPrefix(d.Name(), ".") {
				return filepath.SkipDir
			}
			return nil
		}
		if manifestExts[strings.ToLower(filepath.Ext(path))] && !notManifests[d.Name()] {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("walking directory: %w", err)
	}
	sort.Strings(files)
	return files, nil
}

// kustomize renders a kustomization directory, as `kubectl kustomize DIR` does.
func kustomize(dir string) ([]byte, error) {
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	resources, err := k.Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		return nil, fmt.Errorf("kustomize: %w", err)
	}
	out, err := resources.AsYaml()
	if err != nil {
		return nil, fmt.Errorf("kustomize: rendering: %w", err)
	}
	return out, nil
}

// unwrapPathError drops the path from an *fs.PathError, since callers name the file already.
func unwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
