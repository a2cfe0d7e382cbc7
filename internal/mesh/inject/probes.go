package inject

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/outrider-sec/outrider/internal/mesh/appprobe"
)

// rewriteProbes points every HTTP and TCP probe of the application's containers at the proxy's
// probe port and returns the originals. gRPC and exec probes are left as they are (an exec
// probe runs inside the container; a gRPC probe to a captured port fails: exclude that port).
func rewriteProbes(spec *corev1.PodSpec, port int32) appprobe.Set {
	out := appprobe.Set{}
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
func original(c *corev1.Container, h *corev1.ProbeHandler) (appprobe.Probe, bool) {
	switch {
	case h.HTTPGet != nil:
		port, ok := resolvePort(c, h.HTTPGet.Port)
		if !ok || (h.HTTPGet.Host != "" && h.HTTPGet.Host != "127.0.0.1" && h.HTTPGet.Host != "localhost") {
			return appprobe.Probe{}, false
		}
		p := &appprobe.HTTP{Port: port, Path: h.HTTPGet.Path, Scheme: string(h.HTTPGet.Scheme)}
		for _, hd := range h.HTTPGet.HTTPHeaders {
			if p.Headers == nil {
				p.Headers = map[string]string{}
			}
			p.Headers[hd.Name] = hd.Value
		}
		return appprobe.Probe{HTTPGet: p}, true
	case h.TCPSocket != nil:
		port, ok := resolvePort(c, h.TCPSocket.Port)
		if !ok || (h.TCPSocket.Host != "" && h.TCPSocket.Host != "127.0.0.1" && h.TCPSocket.Host != "localhost") {
			return appprobe.Probe{}, false
		}
		return appprobe.Probe{TCPSocket: &appprobe.TCP{Port: port}}, true
	}
	return appprobe.Probe{}, false
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
