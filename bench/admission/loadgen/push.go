package main

import (
	"context"
	"fmt"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	sigsig "github.com/sigstore/sigstore/pkg/signature"

	"github.com/outrider-sec/outrider/internal/imagetrust/signature"
)

// pushImages copies base to repo:tag for every tag, each with a config of its own (an
// environment variable naming it) so every digest differs, and signs each with signer as
// cosign does (nil: unsigned). workers push at once. It returns the digest of each tag.
func pushImages(ctx context.Context, base, repo string, tags []string, signer sigsig.Signer, workers int) (map[string]name.Digest, error) {
	ref, err := name.ParseReference(base)
	if err != nil {
		return nil, fmt.Errorf("base image %q: %w", base, err)
	}
	img, err := remote.Image(ref, remote.WithContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", base, err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("reading the config of %s: %w", base, err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	out := make(map[string]name.Digest, len(tags))
	var (
		mu       sync.Mutex
		firstErr error
		wg       sync.WaitGroup
	)
	next := make(chan string)
	for range max(1, workers) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for tag := range next {
				d, err := pushOne(ctx, img, cfg.DeepCopy(), repo, tag, signer)
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
					cancel()
				}
				if err == nil {
					out[tag] = d
				}
				mu.Unlock()
			}
		}()
	}
	for _, t := range tags {
		if ctx.Err() != nil {
			break
		}
		next <- t
	}
	close(next)
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// pushOne pushes one copy of base with cfg plus a variable naming repo:tag, and signs it.
func pushOne(ctx context.Context, base v1.Image, cfg *v1.ConfigFile, repo, tag string, signer sigsig.Signer) (name.Digest, error) {
	t, err := name.NewTag(repo + ":" + tag)
	if err != nil {
		return name.Digest{}, err
	}
	cfg.Config.Env = append(cfg.Config.Env, "OUTRIDER_BENCH_IMAGE="+t.String())
	img, err := mutate.ConfigFile(base, cfg)
	if err != nil {
		return name.Digest{}, err
	}
	if err := remote.Write(t, img, remote.WithContext(ctx)); err != nil {
		return name.Digest{}, fmt.Errorf("pushing %s: %w", t, err)
	}
	h, err := img.Digest()
	if err != nil {
		return name.Digest{}, err
	}
	d := t.Context().Digest(h.String())
	if signer != nil {
		if err := signature.Sign(ctx, d, signer, remote.WithContext(ctx)); err != nil {
			return name.Digest{}, fmt.Errorf("signing %s: %w", d, err)
		}
	}
	return d, nil
}
