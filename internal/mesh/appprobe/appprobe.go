// Package appprobe is the table of a meshed application's original HTTP and TCP probes, as the
// injector hands it to the proxy: the kubelet's plain-text probes would otherwise be captured and
// sent to the proxy's mTLS listener, so the injector (internal/mesh/inject) rewrites each probe
// to ask the proxy's probe port for /app-health/<container>/<kind> and passes the originals in
// Env; the proxy performs them against the application on loopback and answers with their
// outcome. It holds no Kubernetes types, so the sidecar binary does not link them.
package appprobe

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Env carries the application's original probes to the proxy, as JSON keyed by the
// path the rewritten probe asks the proxy for.
const Env = "OUTRIDER_APP_PROBES"

// Probe is one original probe the proxy performs against the application on loopback.
type Probe struct {
	// HTTPGet: port, path, scheme (HTTP or HTTPS) and headers of the original request.
	HTTPGet *HTTP `json:"httpGet,omitempty"`
	// TCPSocket: the port to connect to.
	TCPSocket *TCP `json:"tcpSocket,omitempty"`
}

// HTTP is an httpGet probe: a GET of Path on 127.0.0.1:Port with Headers, over HTTPS when
// Scheme is "HTTPS".
type HTTP struct {
	Port    int32             `json:"port"`
	Path    string            `json:"path,omitempty"`
	Scheme  string            `json:"scheme,omitempty"`
	Headers map[string]string `json:"headers,omitempty"`
}

// TCP is a tcpSocket probe: a connection to 127.0.0.1:Port.
type TCP struct {
	Port int32 `json:"port"`
}

// Set is the originals the proxy answers for, by request path.
type Set map[string]Probe

// Parse reads Env, refusing anything but loopback-able ports and paths.
func Parse(s string) (Set, error) {
	var out Set
	dec := json.NewDecoder(strings.NewReader(s))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&out); err != nil {
		return nil, fmt.Errorf("%s: %w", Env, err)
	}
	for path, p := range out {
		if !strings.HasPrefix(path, "/app-health/") {
			return nil, fmt.Errorf("%s: probe path %q does not start with /app-health/", Env, path)
		}
		switch {
		case (p.HTTPGet == nil) == (p.TCPSocket == nil):
			return nil, fmt.Errorf("%s: probe %q needs exactly one of httpGet and tcpSocket", Env, path)
		case p.HTTPGet != nil && (p.HTTPGet.Port < 1 || p.HTTPGet.Port > 65535):
			return nil, fmt.Errorf("%s: probe %q: port %d", Env, path, p.HTTPGet.Port)
		case p.HTTPGet != nil && p.HTTPGet.Scheme != "" && p.HTTPGet.Scheme != "HTTP" && p.HTTPGet.Scheme != "HTTPS":
			return nil, fmt.Errorf("%s: probe %q: scheme %q", Env, path, p.HTTPGet.Scheme)
		case p.TCPSocket != nil && (p.TCPSocket.Port < 1 || p.TCPSocket.Port > 65535):
			return nil, fmt.Errorf("%s: probe %q: port %d", Env, path, p.TCPSocket.Port)
		}
	}
	return out, nil
}
