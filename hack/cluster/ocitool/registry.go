package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"
)

// addrList is a repeatable address flag.
type addrList []string

func (a *addrList) String() string     { return strings.Join(*a, ",") }
func (a *addrList) Set(v string) error { *a = append(*a, v); return nil }

func runRegistry(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("registry", flag.ContinueOnError)
	var addrs, roAddrs addrList
	fs.Var(&addrs, "addr", "address to serve the registry on, repeatable (default 127.0.0.1:5000; keep every address on this machine)")
	fs.Var(&roAddrs, "read-only-addr", "address to serve the same registry on for pulls only (GET and HEAD), repeatable")
	dir := fs.String("dir", "", "directory for blobs and the manifest journal (required)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dir == "" {
		return errors.New("--dir is required")
	}
	if len(addrs) == 0 {
		addrs = addrList{"127.0.0.1:5000"}
	}
	logger := log.New(os.Stderr, "registry ", log.LstdFlags)

	j, err := openRegistry(*dir, logger)
	if err != nil {
		return err
	}

	// Listen on every address before serving any, so a bad address fails
	// the start instead of leaving a half-reachable registry.
	var ls []listener
	listen := func(addr string, h http.Handler) error {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return err
		}
		ls = append(ls, listener{ln: ln, handler: h})
		return nil
	}
	for _, a := range addrs {
		if err = listen(a, j); err != nil {
			break
		}
	}
	for _, a := range roAddrs {
		if err != nil {
			break
		}
		err = listen(a, readOnly(j))
	}
	if err != nil {
		for _, l := range ls {
			l.ln.Close()
		}
		return err
	}
	return serve(ctx, logger, ls)
}

// openRegistry builds the registry handler with its manifest journal and
// replays the journal.
func openRegistry(dir string, logger *log.Logger) (*journal, error) {
	if err := os.MkdirAll(filepath.Join(dir, "blobs"), 0o755); err != nil {
		return nil, err
	}
	// go-containerregistry keeps blobs on disk when asked, but manifests only
	// in memory. The journal records every accepted manifest PUT/DELETE and replays
	// them at start, so pushed images survive a restart of the registry.
	// Referrers (OCI 1.1: GET /v2/<repo>/referrers/<digest>) are computed from
	// the manifests' subject fields, so replayed referrers come back too.
	inner := registry.New(
		registry.Logger(logger),
		registry.WithBlobHandler(registry.NewDiskBlobHandler(filepath.Join(dir, "blobs"))),
		registry.WithReferrersSupport(true),
	)
	j := &journal{path: filepath.Join(dir, "manifests.jsonl"), next: inner}
	n, err := j.replay()
	if err != nil {
		return nil, fmt.Errorf("replaying manifests: %w", err)
	}
	logger.Printf("replayed %d manifest(s) from %s", n, j.path)
	return j, nil
}

// listener is one address the registry is served on, with its handler.
type listener struct {
	ln      net.Listener
	handler http.Handler
}

// serve serves every listener until ctx ends or one of them fails; then it
// shuts all of them down.
func serve(ctx context.Context, logger *log.Logger, ls []listener) error {
	errs := make(chan error, len(ls))
	var srvs []*http.Server
	for _, l := range ls {
		srv := &http.Server{Handler: l.handler, ReadHeaderTimeout: 30 * time.Second}
		srvs = append(srvs, srv)
		logger.Printf("serving on %s", l.ln.Addr())
		go func() { errs <- srv.Serve(l.ln) }()
	}
	var err error
	select {
	case <-ctx.Done():
	case err = <-errs:
	}
	shutCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, srv := range srvs {
		_ = srv.Shutdown(shutCtx)
	}
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// readOnly serves only pulls (GET and HEAD) from next: the address pods
// reach must not let a pod push over the cluster's own images.
func readOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusMethodNotAllowed)
			_, _ = io.WriteString(w, `{"errors":[{"code":"DENIED","message":"this address of the registry is read-only"}]}`)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// journalEntry is one manifest PUT or DELETE as it was received.
type journalEntry struct {
	Method      string `json:"method,omitempty"` // PUT when empty
	Path        string `json:"path"`             // /v2/<repo>/manifests/<ref>
	ContentType string `json:"contentType"`
	Body        []byte `json:"body"`
}

// journal is an http.Handler that forwards to the registry and appends each
// successful manifest PUT and DELETE to a JSON-lines file.
type journal struct {
	path string
	next http.Handler
	mu   sync.Mutex
}

func isManifestPath(p string) bool {
	parts := strings.Split(strings.Trim(p, "/"), "/")
	return len(parts) >= 4 && parts[0] == "v2" && parts[len(parts)-2] == "manifests"
}

func (j *journal) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if (r.Method != http.MethodPut && r.Method != http.MethodDelete) || !isManifestPath(r.URL.Path) {
		j.next.ServeHTTP(w, r)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 16<<20))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	rec := httptest.NewRecorder()
	j.next.ServeHTTP(rec, r)
	if rec.Code == http.StatusCreated || rec.Code == http.StatusAccepted {
		e := journalEntry{Method: r.Method, Path: r.URL.Path, ContentType: r.Header.Get("Content-Type"), Body: body}
		if err := j.append(e); err != nil {
			log.Printf("registry: journal: %v", err)
		}
	}
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())
}

func (j *journal) append(e journalEntry) error {
	line, err := json.Marshal(e)
	if err != nil {
		return err
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	f, err := os.OpenFile(j.path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(append(line, '\n')); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// replay re-applies the journal's manifest PUTs and DELETEs, in order. An
// entry whose blobs are gone is skipped (the registry refuses it).
func (j *journal) replay() (int, error) {
	f, err := os.Open(j.path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	n := 0
	for sc.Scan() {
		var e journalEntry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			continue // a torn last line after a crash
		}
		method := e.Method
		if method == "" {
			method = http.MethodPut
		}
		req := httptest.NewRequest(method, e.Path, bytes.NewReader(e.Body))
		req.Header.Set("Content-Type", e.ContentType)
		rec := httptest.NewRecorder()
		j.next.ServeHTTP(rec, req)
		if rec.Code == http.StatusCreated || rec.Code == http.StatusAccepted {
			n++
		}
	}
	return n, sc.Err()
}
