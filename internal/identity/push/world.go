package push

import (
	"cmp"
	"net/netip"
	"slices"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	corev1 "k8s.io/api/core/v1"

	"github.com/outrider-sec/outrider/internal/identity/ca"
	"github.com/outrider-sec/outrider/internal/mesh/accesspolicy"
	"github.com/outrider-sec/outrider/internal/mesh/inject"
	"github.com/outrider-sec/outrider/internal/policy"
)

// Endpoint is a meshed pod address and the identity its proxy must present.
type Endpoint struct {
	IP netip.Addr
	ID spiffeid.ID
}

// Meshed reports whether a pod is in the mesh, by the injector's rule (inject.Wanted): its
// namespace is labelled security.outrider.dev/mesh=enabled, or =optional and the pod annotated
// security.outrider.dev/mesh=enabled, and the pod does not opt out. nsLabels are its
// namespace's labels. The authenticator uses the same rule.
func Meshed(pod *corev1.Pod, nsLabels map[string]string) bool {
	return inject.Wanted(pod.Annotations, nsLabels)
}

// hasProxy reports whether the pod runs the mesh's proxy. Only such pods are endpoints: a
// meshed pod created while injection was off (or before its webhook ran) has none, and peers
// must not expect mutual TLS from it.
func hasProxy(pod *corev1.Pod) bool {
	for _, lists := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for _, c := range lists {
			if c.Name == policy.ProxyContainer {
				return true
			}
		}
	}
	return false
}

// live reports whether a pod can still hold or present an identity: not finished and not on
// the host's network (whose address is the node's, shared with every other such pod).
func live(pod *corev1.Pod) bool {
	return pod.Status.Phase != corev1.PodSucceeded && pod.Status.Phase != corev1.PodFailed && !pod.Spec.HostNetwork
}

func serviceAccountOf(pod *corev1.Pod) string {
	if pod.Spec.ServiceAccountName != "" {
		return pod.Spec.ServiceAccountName
	}
	return "default"
}

// buildWorld gathers the compiler's input and the endpoints from the cluster's namespaces and
// pods. extra holds pods known from subscriptions that the pod cache may not have yet; a
// cached pod with the same key wins.
func buildWorld(td spiffeid.TrustDomain, namespaces []*corev1.Namespace, pods []*corev1.Pod, extra []*corev1.Pod) (accesspolicy.World, []Endpoint) {
	w := accesspolicy.World{TrustDomain: td, Namespaces: make(map[string]map[string]string, len(namespaces))}
	for _, ns := range namespaces {
		w.Namespaces[ns.Name] = ns.Labels
	}
	seen := make(map[accesspolicy.WorkloadKey]bool, len(pods))
	var eps []Endpoint
	add := func(p *corev1.Pod) {
		k := accesspolicy.WorkloadKey{Namespace: p.Namespace, Name: p.Name}
		if seen[k] || !live(p) || !Meshed(p, w.Namespaces[p.Namespace]) {
			return
		}
		seen[k] = true
		sa := serviceAccountOf(p)
		w.Workloads = append(w.Workloads, accesspolicy.Workload{Namespace: p.Namespace, Name: p.Name, ServiceAccount: sa, Labels: p.Labels})
		id, err := ca.WorkloadID(td, p.Namespace, sa)
		if err != nil || !hasProxy(p) {
			return
		}
		for _, ip := range p.Status.PodIPs {
			if a, err := netip.ParseAddr(ip.IP); err == nil {
				eps = append(eps, Endpoint{IP: a.Unmap(), ID: id})
			}
		}
	}
	for _, p := range pods {
		add(p)
	}
	for _, p := range extra {
		add(p)
	}
	slices.SortFunc(eps, func(a, b Endpoint) int { return cmp.Or(a.IP.Compare(b.IP), cmp.Compare(a.ID.String(), b.ID.String())) })
	return w, dedupeIPs(eps)
}

// dedupeIPs keeps one identity per address. Two live pods claiming one address (an IP reused
// while the old pod object lingers) are ambiguous: the address is dropped, so a proxy treats
// it as outside the mesh rather than expecting the wrong identity.
func dedupeIPs(eps []Endpoint) []Endpoint {
	out := eps[:0]
	for i := 0; i < len(eps); {
		j := i + 1
		for j < len(eps) && eps[j].IP == eps[i].IP {
			j++
		}
		if j == i+1 || allSameID(eps[i:j]) {
			out = append(out, eps[i])
		}
		i = j
	}
	return out
}

func allSameID(eps []Endpoint) bool {
	for _, e := range eps[1:] {
		if e.ID != eps[0].ID {
			return false
		}
	}
	return true
}

// meshedNamespaces returns the namespaces that need the bootstrap bundle: those labelled into
// the mesh (enabled or optional, so the ConfigMap is there before the first pod) and those with
// a meshed pod, sorted.
func meshedNamespaces(w accesspolicy.World) []string {
	set := map[string]bool{}
	for name, l := range w.Namespaces {
		if v := l[policy.MeshLabel]; v == policy.MeshEnabled || v == inject.MeshOptional {
			set[name] = true
		}
	}
	for _, wl := range w.Workloads {
		if _, ok := w.Namespaces[wl.Namespace]; ok {
			set[wl.Namespace] = true
		}
	}
	out := make([]string, 0, len(set))
	for n := range set {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}
