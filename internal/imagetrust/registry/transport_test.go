package registry

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/prometheus/client_golang/prometheus"
)

func TestOperationOf(t *testing.T) {
	tests := []struct{ method, url, want string }{
		{"GET", "http://r/v2/", "ping"},
		{"GET", "http://r/v2", "ping"},
		{"HEAD", "http://r/v2/app/manifests/v1", "manifest_head"},
		{"GET", "http://r/v2/org/app/manifests/sha256:abc", "manifest_get"},
		{"PUT", "http://r/v2/app/manifests/v1", "manifest_put"},
		{"DELETE", "http://r/v2/app/manifests/v1", "manifest_delete"},
		{"GET", "http://r/v2/app/blobs/sha256:abc", "blob_get"},
		{"HEAD", "http://r/v2/app/blobs/sha256:abc", "blob_head"},
		{"POST", "http://r/v2/app/blobs/uploads/", "blob_upload"},
		{"PATCH", "http://r/v2/app/blobs/uploads/uuid-1", "blob_upload"},
		{"GET", "http://r/v2/app/referrers/sha256:abc", "referrers"},
		{"GET", "http://r/v2/app/tags/list?n=10", "tags"},
		{"GET", "http://r/v2/_catalog", "catalog"},
		{"GET", "http://r/v2/manifests/manifests/v1", "manifest_get"}, // a repository named "manifests"
		{"GET", "https://auth.r/token?scope=repository:app:pull&service=r", "token"},
		{"GET", "https://r/elsewhere", "other"},
	}
	for _, tt := range tests {
		req := httptest.NewRequest(tt.method, tt.url, nil)
		if got := operationOf(req); got != tt.want {
			t.Errorf("%s %s = %q, want %q", tt.method, tt.url, got, tt.want)
		}
	}

	// A redirected blob GET (to storage) is still the registry's blob GET.
	first := httptest.NewRequest("GET", "http://r/v2/app/blobs/sha256:abc", nil)
	next := httptest.NewRequest("GET", "https://storage.example/bucket/abc?sig=x", nil)
	next.Response = &http.Response{Request: first}
	if got := operationOf(next); got != "blob_get" {
		t.Errorf("redirected blob GET = %q, want blob_get", got)
	}
	if got := origin(next).URL.Host; got != "r" {
		t.Errorf("redirect origin host = %q, want r", got)
	}
}

// Another package calling go-containerregistry with RemoteOptions gets the mirror and the
// metrics: a referrers lookup through a mirror, counted under the reference's registry.
func TestRemoteOptionsCarryMirrorAndMetrics(t *testing.T) {
	named, mirror := newTestRegistry(t), newTestRegistry(t)
	img, _ := random.Image(64, 1)
	ref := mirror.ref(t, "app:v1")
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	desc, _ := partial.Descriptor(img)
	art := mutate.Subject(mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), "application/vnd.example.sig"), *desc).(v1.Image)
	artDigest, _ := art.Digest()
	if err := remote.Write(ref.Context().Digest(artDigest.String()), art); err != nil {
		t.Fatal(err)
	}
	named.resetCounts()

	reg := prometheus.NewRegistry()
	m1, m2 := NewMetrics(reg), NewMetrics(reg) // two clients may share one registry
	c := New(Options{Mirrors: map[string]string{named.host: mirror.host}, Metrics: m1})
	subject := named.ref(t, "app:v1").Context().Digest(desc.Digest.String())
	idx, err := remote.Referrers(subject, c.RemoteOptions(context.Background(), nil)...)
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(im.Manifests) != 1 || im.Manifests[0].Digest != artDigest {
		t.Errorf("referrers = %+v, want the artifact %s", im.Manifests, artDigest)
	}
	if n := named.requests.Load(); n != 0 {
		t.Errorf("the named registry saw %d requests", n)
	}
	if n := m2.RequestCount(named.host, "referrers", ""); n < 1 {
		t.Errorf("referrers requests counted = %v, want at least 1 (metrics shared through the registerer)", n)
	}
}
