package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// cliPeer is one command-line verifier timed on the same images, process start included.
type cliPeer struct {
	tool, version, command string
	// verify and start are wall times in seconds: one verification per image, and the
	// tool's version command (process start, no registry).
	verify, start []float64
	failures      int
	failure       string
}

// peerResult is what the CLIs measured, side by side.
type peerResult struct {
	images []string
	peers  []*cliPeer
}

// timePeers verifies each image with each CLI in turn — image 1 with cosign, then Outrider,
// then image 2 … — so both see the same machine load, after one untimed run of each to fill
// the page cache. Each run also times the tool's version command: the cost of starting the
// process, which a pipeline step or a webhook that shells out pays too.
//
// The CLIs run with a private HOME and TUF_ROOT, and with HTTP(S)_PROXY pointing at a closed
// loopback port: the registry on 127.0.0.1 is never proxied, and any attempt to reach
// anything else (a public Sigstore service) fails at once instead of leaving the machine.
func timePeers(ctx context.Context, cfg sigConfig, pubPEM []byte, images []string) (*peerResult, error) {
	res := &peerResult{images: images}
	if len(images) == 0 || (cfg.cosign == "" && cfg.outrider == "") {
		return res, nil
	}
	dir, err := os.MkdirTemp("", "bench-admission-peers-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	key := filepath.Join(dir, "cosign.pub")
	if err := os.WriteFile(key, pubPEM, 0o644); err != nil {
		return nil, err
	}
	env := []string{
		"HOME=" + dir, "PATH=" + os.Getenv("PATH"), "TUF_ROOT=" + filepath.Join(dir, ".sigstore"),
		"COSIGN_PASSWORD=", "HTTPS_PROXY=http://127.0.0.1:9", "HTTP_PROXY=http://127.0.0.1:9", "NO_PROXY=",
	}
	type tool struct {
		peer            *cliPeer
		bin             string
		verify, version []string
	}
	var tools []tool
	if cfg.cosign != "" {
		args := []string{"verify", "--key", key, "--insecure-ignore-tlog", "--allow-http-registry"}
		tools = append(tools, tool{&cliPeer{tool: "cosign", command: "cosign " + strings.Join(args, " ") + " IMAGE@sha256:…"}, cfg.cosign, args, []string{"version", "--json"}})
	}
	if cfg.outrider != "" {
		args := []string{"image", "verify", "--key", key}
		tools = append(tools, tool{&cliPeer{tool: "outrider", command: "outrider " + strings.Join(args, " ") + " IMAGE@sha256:…"}, cfg.outrider, args, []string{"version"}})
	}
	for _, t := range tools {
		out, _, err := runCLI(ctx, dir, env, t.bin, t.version...)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %v\n%s", t.bin, strings.Join(t.version, " "), err, out)
		}
		t.peer.version = versionOf(out)
		if out, _, err := runCLI(ctx, dir, env, t.bin, append(t.verify, images[0])...); err != nil {
			return nil, fmt.Errorf("%s does not verify %s: %v\n%s", t.bin, images[0], err, out)
		}
		res.peers = append(res.peers, t.peer)
	}
	logf("signatures: timing %d verifications by each of %d CLIs, one after another", len(images), len(tools))
	for _, img := range images {
		for _, t := range tools {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			out, took, err := runCLI(ctx, dir, env, t.bin, append(t.verify, img)...)
			if err != nil {
				t.peer.failures++
				if t.peer.failure == "" {
					t.peer.failure = fmt.Sprintf("%s: %v: %s", img, err, strings.TrimSpace(out))
				}
				continue
			}
			t.peer.verify = append(t.peer.verify, took.Seconds())
			if _, took, err := runCLI(ctx, dir, env, t.bin, t.version...); err == nil {
				t.peer.start = append(t.peer.start, took.Seconds())
			}
		}
	}
	return res, nil
}

// runCLI runs bin with args and returns its combined output and wall time.
func runCLI(ctx context.Context, dir string, env []string, bin string, args ...string) (string, time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir, cmd.Env = dir, env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	t0 := time.Now()
	err := cmd.Run()
	return out.String(), time.Since(t0), err
}

// versionOf picks a version out of a version command's output: cosign's JSON gitVersion, or
// the first line.
func versionOf(out string) string {
	if i := strings.Index(out, `"gitVersion"`); i >= 0 {
		rest := out[i+len(`"gitVersion"`):]
		if f := strings.Split(rest, `"`); len(f) >= 3 {
			return f[1]
		}
	}
	line, _, _ := strings.Cut(strings.TrimSpace(out), "\n")
	return strings.TrimSpace(line)
}
