// Package appprobe moves a meshed application's HTTP and TCP probes to the proxy: the kubelet's
// plain-text probes would otherwise be captured and sent to the proxy's mTLS listener. The
// injector rewrites each probe to ask the proxy's probe port for /app-health/<container>/<kind>
// and hands the originals to the proxy (Env), which performs them against the application on
// loopback and answers with their outcome.
package appprobe

import (
	"encoding/json"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
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

type HTTP struct {
	Port    int32             `json:"port"`
	Path    string            `json:"path,omitempty"`
	Scheme  string            `json:"scheme,omitempty"`
	Headers map[string]string `json:"headers,omitempty"`
}

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

// Rewrite points every HTTP and TCP probe of the application's containers at the proxy's
// probe port and returns the originals. gRPC and exec probes are left as they are (an exec
// probe runs inside the container; a gRPC probe to a captured port fails: exclude that port).
func Rewrite(spec *corev1.PodSpec, port int32) Set {
	out := Set{}
	for i := range spec.Containers {
		c := &spec.Containers[i]
		for _, p := range []struct {
			kind  string
			probe *corev1.Probe
		}{{"livez", c.LivenessProbe}, {"readyz", c.ReadinessProbe}, {"startupz", c.StartupProbe}} {
			if p.probe == nil {
				continue
			}
			orig, ok := original(c, &p.probe.ProbeHandler)
			if !ok {
				continue
			}
			path := "/app-health/" + c.Name + "/" + p.kind
			out[path] = orig
			p.probe.ProbeHandler = corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
				Path: path, Port: intstr.FromInt32(port), Scheme: corev1.URISchemeHTTP,
			}}
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// original reads an HTTP or TCP probe handler, resolving a named port from the container's
// ports. ok is false for handlers the proxy does not take over.
func original(c *corev1.Container, h *corev1.ProbeHandler) (Probe, bool) {
	switch {
	case h.HTTPGet != nil:
		port, ok := resolvePort(c, h.HTTPGet.Port)
		if !ok || (h.HTTPGet.Host != "" && h.HTTPGet.Host != "127.0.0.1" && h.HTTPGet.Host != "localhost") {
			return Probe{}, false
		}
		p := &HTTP{Port: port, Path: h.HTTPGet.Path, Scheme: string(h.HTTPGet.Scheme)}
		for _, hd := range h.HTTPGet.HTTPHeaders {
			if p.Headers == nil {
				p.Headers = map[string]string{}
			}
			p.Headers[hd.Name] = hd.Value
		}
		return Probe{HTTPGet: p}, true
	case h.TCPSocket != nil:
		port, ok := resolvePort(c, h.TCPSocket.Port)
		if !ok || (h.TCPSocket.Host != "" && h.TCPSocket.Host != "127.0.0.1" && h.TCPSocket.Host != "localhost") {
			return Probe{}, false
		}
		return Probe{TCPSocket: &TCP{Port: port}}, true
	}
	return Probe{}, false
}

func resolvePort(c *corev1.Container, p intstr.IntOrString) (int32, bool) {
	if p.Type == intstr.Int {
		return p.IntVal, p.IntVal > 0 && p.IntVal <= 65535
	}
	for _, cp := range c.Ports {
		if cp.Name == p.StrVal {
			return cp.ContainerPort, true
		}
	}
	return 0, false
}
