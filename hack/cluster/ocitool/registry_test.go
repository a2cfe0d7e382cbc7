package main

import (
	"context"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// TestJournalReplaysReferrers pushes an image and an artifact whose subject
// is that image, restarts the registry on the same directory, and checks that
// the tag and the referrers API both come back from the journal.
func TestJournalReplaysReferrers(t *testing.T) {
	dir := t.TempDir()
	logger := log.New(io.Discard, "", 0)

	j, err := openRegistry(dir, logger)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(j)
	host := strings.TrimPrefix(srv.URL, "http://")

	img, err := random.Image(256, 1)
	if err != nil {
		t.Fatal(err)
	}
	tag, err := name.NewTag(host + "/app:v1")
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(tag, img); err != nil {
		t.Fatal(err)
	}
	imgDigest, _ := img.Digest()
	subject, err := partial.Descriptor(img)
	if err != nil {
		t.Fatal(err)
	}
	art := mutate.Subject(mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), "application/vnd.example.sig"), *subject).(v1.Image)
	artDigest, _ := art.Digest()
	if err := remote.Write(tag.Context().Digest(artDigest.String()), art); err != nil {
		t.Fatal(err)
	}
	checkReferrers(t, host, imgDigest, artDigest)
	srv.Close()

	j2, err := openRegistry(dir, logger)
	if err != nil {
		t.Fatal(err)
	}
	srv2 := httptest.NewServer(j2)
	defer srv2.Close()
	host2 := strings.TrimPrefix(srv2.URL, "http://")
	desc, err := remote.Head(mustRef(t, host2+"/app:v1"))
	if err != nil {
		t.Fatalf("tag after replay: %v", err)
	}
	if desc.Digest != imgDigest {
		t.Errorf("tag after replay = %s, want %s", desc.Digest, imgDigest)
	}
	checkReferrers(t, host2, imgDigest, artDigest)
}

func checkReferrers(t *testing.T, host string, subject, want v1.Hash) {
	t.Helper()
	// Ask the referrers API itself, not the tag-schema fallback.
	resp, err := http.Get("http://" + host + "/v2/app/referrers/" + subject.String())
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("referrers: %s: %s", resp.Status, body)
	}
	idx, err := v1.ParseIndexManifest(strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range idx.Manifests {
		if m.Digest == want {
			if m.ArtifactType != "application/vnd.example.sig" {
				t.Errorf("referrer artifactType = %q", m.ArtifactType)
			}
			return
		}
	}
	t.Errorf("referrers of %s = %+v, want %s among them", subject, idx.Manifests, want)
}

// TestServeAllAddresses: every listener serves the same registry, the
// read-only one refuses pushes, and a cancelled context stops them all.
func TestServeAllAddresses(t *testing.T) {
	j, err := openRegistry(t.TempDir(), log.New(io.Discard, "", 0))
	if err != nil {
		t.Fatal(err)
	}
	var ls []listener
	for _, h := range []http.Handler{j, readOnly(j)} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, listener{ln: ln, handler: h})
	}
	rw, ro := ls[0].ln.Addr().String(), ls[1].ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, log.New(io.Discard, "", 0), ls) }()

	img, _ := random.Image(64, 1)
	if err := remote.Write(mustRef(t, rw+"/app:v1"), img); err != nil {
		t.Fatal(err)
	}
	want, _ := img.Digest()
	desc, err := remote.Head(mustRef(t, ro+"/app:v1"))
	if err != nil {
		t.Fatalf("read-only listener: %v", err)
	}
	if desc.Digest != want {
		t.Errorf("read-only listener serves %s, want %s", desc.Digest, want)
	}
	if _, err := remote.Image(mustRef(t, ro+"/app:v1")); err != nil {
		t.Errorf("pull from the read-only listener: %v", err)
	}
	other, _ := random.Image(64, 1)
	err = remote.Write(mustRef(t, ro+"/app:v1"), other)
	if err == nil || !strings.Contains(err.Error(), "read-only") {
		t.Errorf("push to the read-only listener: err = %v, want a read-only refusal", err)
	}
	if desc, _ := remote.Head(mustRef(t, rw+"/app:v1")); desc == nil || desc.Digest != want {
		t.Errorf("after the refused push the tag is %v, want %s", desc, want)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("serve after cancel: %v", err)
	}
}

func mustRef(t *testing.T, s string) name.Reference {
	t.Helper()
	ref, err := name.ParseReference(s)
	if err != nil {
		t.Fatal(err)
	}
	return ref
}
