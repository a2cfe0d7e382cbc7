package main

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// listFlag collects a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// entry is one file, directory or symlink of the image's single layer.
type entry struct {
	typ    byte   // tar.TypeReg, tar.TypeDir or tar.TypeSymlink
	src    string // local file, for TypeReg
	target string // for TypeSymlink
	mode   int64
}

func runBuild(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("build", flag.ContinueOnError)
	baseEmpty := fs.Bool("base-empty", false, "start from an empty image (the only base supported)")
	var files, dirs, links, entrypoint, cmd, env listFlag
	fs.Var(&files, "file", "SRC:DST[:MODE] add a local file (MODE octal, default 0755); repeatable")
	fs.Var(&dirs, "dir", "DST[:MODE] add a directory (default 0755); repeatable")
	fs.Var(&links, "symlink", "LINK:TARGET add a symbolic link; repeatable")
	fs.Var(&entrypoint, "entrypoint", "one element of the entrypoint; repeat for more")
	fs.Var(&cmd, "cmd", "one element of the default arguments; repeat for more")
	fs.Var(&env, "env", "KEY=VALUE; repeatable")
	user := fs.String("user", "", "user (uid[:gid]) the image runs as")
	workdir := fs.String("workdir", "", "working directory")
	platform := fs.String("platform", "linux/amd64", "OS/ARCH of the image")
	push := fs.String("push", "", "reference to push to, e.g. 127.0.0.1:5000/NAME:TAG (required)")
	insecure := fs.Bool("insecure", true, "talk plain http to the registry (it is on loopback)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if !*baseEmpty {
		return errors.New("only --base-empty is supported")
	}
	if *push == "" {
		return errors.New("--push is required")
	}
	osArch := strings.SplitN(*platform, "/", 2)
	if len(osArch) != 2 {
		return fmt.Errorf("--platform %q: want OS/ARCH", *platform)
	}

	entries, err := collectEntries(files, dirs, links)
	if err != nil {
		return err
	}
	layerTar, err := writeTar(entries)
	if err != nil {
		return err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar)), nil
	})
	if err != nil {
		return fmt.Errorf("making layer: %w", err)
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		return fmt.Errorf("appending layer: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = osArch[0], osArch[1]
	cf.Config.Entrypoint = entrypoint
	cf.Config.Cmd = cmd
	cf.Config.Env = append([]string{"PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"}, env...)
	cf.Config.User = *user
	cf.Config.WorkingDir = *workdir
	// A zero creation time keeps the digest a function of the content only:
	// rebuilding the same files pushes the same image.
	cf.Created = v1.Time{Time: time.Unix(0, 0).UTC()}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return err
	}

	var opts []name.Option
	if *insecure {
		opts = append(opts, name.Insecure)
	}
	ref, err := name.ParseReference(*push, opts...)
	if err != nil {
		return fmt.Errorf("parsing %q: %w", *push, err)
	}
	if err := remote.Write(ref, img, remote.WithContext(ctx)); err != nil {
		return fmt.Errorf("pushing %s: %w", ref, err)
	}
	digest, err := img.Digest()
	if err != nil {
		return err
	}
	fmt.Printf("%s@%s\n", ref.Context().Name(), digest)
	return nil
}

func parseMode(s string, def int64) (int64, error) {
	if s == "" {
		return def, nil
	}
	m, err := strconv.ParseInt(s, 8, 32)
	if err != nil {
		return 0, fmt.Errorf("mode %q: %w", s, err)
	}
	return m, nil
}

func cleanDst(p string) (string, error) {
	if !strings.HasPrefix(p, "/") {
		return "", fmt.Errorf("destination %q must be absolute", p)
	}
	return strings.TrimPrefix(path.Clean(p), "/"), nil
}

// collectEntries turns the flags into layer entries keyed by path (without
// the leading slash), adding every missing parent directory.
func collectEntries(files, dirs, links []string) (map[string]entry, error) {
	out := map[string]entry{}
	for _, f := range files {
		parts := strings.Split(f, ":")
		if len(parts) < 2 || len(parts) > 3 {
			return nil, fmt.Errorf("--file %q: want SRC:DST[:MODE]", f)
		}
		mode, err := parseMode(append(parts, "")[2], 0o755)
		if err != nil {
			return nil, err
		}
		dst, err := cleanDst(parts[1])
		if err != nil {
			return nil, err
		}
		if _, err := os.Stat(parts[0]); err != nil {
			return nil, err
		}
		out[dst] = entry{typ: tar.TypeReg, src: parts[0], mode: mode}
	}
	for _, d := range dirs {
		parts := strings.Split(d, ":")
		mode, err := parseMode(append(parts, "")[1], 0o755)
		if err != nil {
			return nil, err
		}
		dst, err := cleanDst(parts[0])
		if err != nil {
			return nil, err
		}
		out[dst] = entry{typ: tar.TypeDir, mode: mode}
	}
	for _, l := range links {
		link, target, ok := strings.Cut(l, ":")
		if !ok {
			return nil, fmt.Errorf("--symlink %q: want LINK:TARGET", l)
		}
		dst, err := cleanDst(link)
		if err != nil {
			return nil, err
		}
		out[dst] = entry{typ: tar.TypeSymlink, target: target, mode: 0o777}
	}
	for p := range out {
		for d := path.Dir(p); d != "." && d != "/"; d = path.Dir(d) {
			if _, ok := out[d]; !ok {
				out[d] = entry{typ: tar.TypeDir, mode: 0o755}
			}
		}
	}
	return out, nil
}

// writeTar writes the entries sorted by path (parents first), owned by root,
// with a fixed modification time so the layer digest is reproducible.
func writeTar(entries map[string]entry) ([]byte, error) {
	paths := make([]string, 0, len(entries))
	for p := range entries {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	epoch := time.Unix(0, 0)
	for _, p := range paths {
		e := entries[p]
		hdr := &tar.Header{Typeflag: e.typ, Name: p, Mode: e.mode, ModTime: epoch, Format: tar.FormatPAX}
		var data []byte
		switch e.typ {
		case tar.TypeDir:
			hdr.Name += "/"
		case tar.TypeSymlink:
			hdr.Linkname = e.target
		case tar.TypeReg:
			var err error
			if data, err = os.ReadFile(e.src); err != nil {
				return nil, err
			}
			hdr.Size = int64(len(data))
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, err
		}
		if _, err := tw.Write(data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
