package proxy_test

import (
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/outrider-sec/outrider/internal/mesh/authz"
)

// readOnlyPublic lets principal GET and HEAD under /public on the web port.
func readOnlyPublic(principal string) *authz.Policy {
	return &authz.Policy{Rules: []authz.Rule{{
		Name: "shop/web-read#0", Ports: []uint16{webPort}, Principals: []string{principal},
		HTTP: &authz.HTTPMatch{Methods: []string{"GET", "HEAD"}, PathPrefixes: []string{"/public"}},
	}}}
}

type exchange struct {
	method, path string
	status       int
}

// do sends each request on the same kept-alive client and reports the statuses.
func do(t *testing.T, c *http.Client, base string, reqs []exchange) []exchange {
	t.Helper()
	var got []exchange
	for _, r := range reqs {
		req, err := http.NewRequest(r.method, base+r.path, strings.NewReader(strings.Repeat("b", 3000)))
		must(t, err)
		resp, err := c.Do(req)
		if err != nil {
			got = append(got, exchange{r.method, r.path, 0})
			continue
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		got = append(got, exchange{r.method, r.path, resp.StatusCode})
	}
	return got
}

// TestHTTPRequestsAreAuthorizedOneByOne: on a port whose rule names methods and paths, each
// request on a kept-alive HTTP/1.1 connection is checked; a refused one gets 403 and never
// reaches the application, including path tricks that climb out of the allowed prefix.
func TestHTTPRequestsAreAuthorizedOneByOne(t *testing.T) {
	m := newMesh(t)
	client := m.addPod("frontend", "shop", podOptions{})
	other := m.addPod("other", "shop", podOptions{})
	server := m.addPod("backend", "shop", podOptions{policy: readOnlyPublic(client.id.String())})
	base := "http://" + server.AddrPort(webPort)

	c := client.httpClient(false)
	want := []exchange{
		{"GET", "/public/a", 200},
		{"GET", "/public/b?x=1", 200},
		{"POST", "/public/a", 403},
		{"GET", "/public/c", 200},
		{"GET", "/admin", 403},
		{"GET", "/public/../admin", 403},
		{"GET", "/public/%2e%2e/admin", 403},
		{"GET", "/publicity", 403},
	}
	got := do(t, c, base, want)
	if !slices.Equal(got, want) {
		t.Errorf("statuses:\n got %v\nwant %v", got, want)
	}
	for _, r := range server.web.requests() {
		if !strings.HasPrefix(r, "GET /public/") {
			t.Errorf("a refused request reached the application: %q", r)
		}
	}
	server.logs.waitFor(t, "request denied", map[string]any{"peer": client.id, "local": server.id, "method": "POST", "path": "/public/a", "port": webPort})

	// Another identity matches no rule at all: refused at the connection.
	got = do(t, other.httpClient(false), base, []exchange{{"GET", "/public/a", 0}})
	if got[0].status != 0 {
		t.Errorf("another identity got status %d", got[0].status)
	}
	server.logs.waitFor(t, "connection denied", map[string]any{"peer": other.id, "port": webPort})
}

// TestHTTPPolicyChangeAppliesToTheNextRequest: a kept-alive connection inspected per request
// meets a new policy at its next request.
func TestHTTPPolicyChangeAppliesToTheNextRequest(t *testing.T) {
	m := newMesh(t)
	client := m.addPod("frontend", "shop", podOptions{})
	server := m.addPod("backend", "shop", podOptions{policy: readOnlyPublic(client.id.String())})
	base := "http://" + server.AddrPort(webPort)
	c := client.httpClient(false)

	if got := do(t, c, base, []exchange{{"GET", "/public/a", 200}}); got[0].status != 200 {
		t.Fatalf("before the change: %v", got)
	}
	narrower := readOnlyPublic(client.id.String())
	narrower.Rules[0].HTTP.PathPrefixes = []string{"/public/only-this"}
	must(t, server.proxy.SetPolicy(narrower))
	if got := do(t, c, base, []exchange{{"GET", "/public/a", 403}}); got[0].status != 403 {
		t.Fatalf("after the change: %v", got)
	}
}

// TestHTTP2RequestsAreAuthorizedOneByOne: the same rule over HTTP/2 (prior knowledge, as
// gRPC and h2c clients speak it inside the mesh). Allowed streams share one connection; a
// refused request never reaches the application and ends the connection, and the client's
// next request opens a new one.
func TestHTTP2RequestsAreAuthorizedOneByOne(t *testing.T) {
	m := newMesh(t)
	client := m.addPod("frontend", "shop", podOptions{})
	server := m.addPod("backend", "shop", podOptions{policy: readOnlyPublic(client.id.String())})
	base := "http://" + server.AddrPort(webPort)
	c := client.httpClient(true)

	got := do(t, c, base, []exchange{
		{"GET", "/public/a", 200},
		{"GET", "/public/b", 200},
		{"DELETE", "/public/a", 0},
		{"GET", "/public/c", 200},
		{"GET", "/admin", 0},
		{"GET", "/public/d", 200},
	})
	want := []exchange{{"GET", "/public/a", 200}, {"GET", "/public/b", 200}, {"DELETE", "/public/a", 0}, {"GET", "/public/c", 200}, {"GET", "/admin", 0}, {"GET", "/public/d", 200}}
	if !slices.Equal(got, want) {
		t.Errorf("statuses:\n got %v\nwant %v", got, want)
	}
	for _, r := range server.web.requests() {
		if !strings.HasPrefix(r, "GET /public/") {
			t.Errorf("a refused request reached the application: %q", r)
		}
		if !strings.HasSuffix(r, "HTTP/2.0") {
			t.Errorf("the application saw %q, want HTTP/2", r)
		}
	}
	server.logs.waitFor(t, "request denied", map[string]any{"peer": client.id, "method": "DELETE", "path": "/public/a"})
}
