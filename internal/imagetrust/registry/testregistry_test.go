package registry

import (
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// testRegistry is go-containerregistry's in-process registry on 127.0.0.1, behind a handler
// that counts requests and can demand basic auth, stall manifest requests, hold them until
// released, or drop Docker-Content-Digest from HEAD answers.
type testRegistry struct {
	srv  *httptest.Server
	host string
	next http.Handler

	user, pass   string        // when set, basic auth is required
	stall        atomic.Bool   // manifest requests wait until the client gives up
	gate         chan struct{} // when non-nil, manifest reads wait until it is closed
	noHeadDigest atomic.Bool   // HEAD answers lack Docker-Content-Digest

	requests      atomic.Int64 // every request
	manifestReads atomic.Int64 // GET and HEAD of manifests
	manifestGets  atomic.Int64
}

func newTestRegistry(t *testing.T) *testRegistry {
	t.Helper()
	r := &testRegistry{next: ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0)), ggcrregistry.WithReferrersSupport(true))}
	r.srv = httptest.NewServer(r)
	t.Cleanup(r.srv.Close)
	r.host = strings.TrimPrefix(r.srv.URL, "http://")
	return r
}

func (r *testRegistry) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.requests.Add(1)
	isManifest := strings.Contains(req.URL.Path, "/manifests/")
	read := isManifest && (req.Method == http.MethodGet || req.Method == http.MethodHead)
	if read {
		r.manifestReads.Add(1)
		if req.Method == http.MethodGet {
			r.manifestGets.Add(1)
		}
	}
	if r.user != "" {
		if u, p, ok := req.BasicAuth(); !ok || u != r.user || p != r.pass {
			w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`)
			return
		}
	}
	if isManifest && r.stall.Load() {
		select {
		case <-req.Context().Done():
		case <-time.After(time.Minute):
		}
		return
	}
	if read && r.gate != nil {
		select {
		case <-r.gate:
		case <-req.Context().Done():
			return
		}
	}
	if req.Method == http.MethodHead && isManifest && r.noHeadDigest.Load() {
		w = stripDigest{w}
	}
	r.next.ServeHTTP(w, req)
}

// stripDigest drops Docker-Content-Digest from the answer, like registries that omit it.
type stripDigest struct{ http.ResponseWriter }

func (s stripDigest) WriteHeader(code int) {
	s.Header().Del("Docker-Content-Digest")
	s.ResponseWriter.WriteHeader(code)
}

// ref parses host/path under this registry.
func (r *testRegistry) ref(t *testing.T, repoAndTag string) name.Reference {
	t.Helper()
	return mustRef(t, r.host+"/"+repoAndTag)
}

// push writes a random image under ref and returns its digest.
func (r *testRegistry) push(t *testing.T, ref name.Reference) v1.Hash {
	t.Helper()
	img, err := random.Image(128, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img, r.pushAuth()); err != nil {
		t.Fatalf("pushing %s: %v", ref, err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func (r *testRegistry) pushAuth() remote.Option {
	if r.user == "" {
		return remote.WithAuth(authn.Anonymous)
	}
	return remote.WithAuth(&authn.Basic{Username: r.user, Password: r.pass})
}

// resetCounts forgets the requests made so far (pushes).
func (r *testRegistry) resetCounts() {
	r.requests.Store(0)
	r.manifestReads.Store(0)
	r.manifestGets.Store(0)
}

func mustRef(t *testing.T, s string) name.Reference {
	t.Helper()
	ref, err := name.ParseReference(s)
	if err != nil {
		t.Fatal(err)
	}
	return ref
}

// closedAddr is a 127.0.0.1 address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// fakeClock is a settable clock for caches.
type fakeClock struct{ now atomic.Int64 }

func newFakeClock() *fakeClock {
	c := &fakeClock{}
	c.now.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	return c
}

func (c *fakeClock) Now() time.Time          { return time.Unix(0, c.now.Load()) }
func (c *fakeClock) Advance(d time.Duration) { c.now.Add(int64(d)) }
