package controller

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestDrainClosesConnectionsAndHoldsTheHook(t *testing.T) {
	d := &drainer{delay: 50 * time.Millisecond}
	backend := httptest.NewServer(d.wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})))
	defer backend.Close()

	resp, err := http.Get(backend.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Close {
		t.Fatal("connections closed before draining")
	}

	start := time.Now()
	rec := httptest.NewRecorder()
	d.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/drain", nil).WithContext(context.Background()))
	if took := time.Since(start); took < d.delay {
		t.Errorf("the drain request returned after %v, before the drain delay", took)
	}
	if rec.Code != http.StatusOK {
		t.Errorf("drain answered %d", rec.Code)
	}

	resp, err = http.Get(backend.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if !resp.Close {
		t.Error("a draining replica kept the connection alive")
	}
}

// Anyone who could reach the drain endpoint could make a replica close every connection: it
// must listen where only the controller's own container can reach it.
func TestDrainEndpointListensOnLoopbackOnly(t *testing.T) {
	host, _, err := net.SplitHostPort(DrainAddr)
	if err != nil {
		t.Fatal(err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		t.Fatalf("DrainAddr %s is not a loopback address", DrainAddr)
	}
	ctx, cancel := context.WithCancel(context.Background())
	d := &drainer{delay: time.Millisecond}
	errc := make(chan error, 1)
	go func() { errc <- d.run(ctx, "127.0.0.1:0") }()
	cancel()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}
