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

func runRegistry(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("registry", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:5000", "address to listen on (keep it on loopback)")
	dir := fs.String("dir", "", "directory for blobs and the manifest journal (required)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dir == "" {
		return errors.New("--dir is required")
	}
	if err := os.MkdirAll(filepath.Join(*dir, "blobs"), 0o755); err != nil {
		return err
	}
	logger := log.New(os.Stderr, "registry ", log.LstdFlags)

	// go-containerregistry keeps blobs on disk when asked, but manifests only
	// in memory. The journal records every accepted manifest PUT/DELETE and replays
	// them at start, so pushed images survive a restart of the registry.
	inner := registry.New(
		registry.Logger(logger),
		registry.WithBlobHandler(registry.NewDiskBlobHandler(filepath.Join(*dir, "blobs"))),
	)
	j := &journal{path: filepath.Join(*dir, "manifests.jsonl"), next: inner}
	n, err := j.replay()
	if err != nil {
		return fmt.Errorf("replaying manifests: %w", err)
	}
	logger.Printf("replayed %d manifest(s) from %s", n, j.path)

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: j, ReadHeaderTimeout: 30 * time.Second}
	go func() {
		<-ctx.Done()
		shutCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutCtx)
	}()
	logger.Printf("serving on %s", ln.Addr())
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
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
