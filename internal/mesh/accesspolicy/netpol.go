package accesspolicy

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/outrider-sec/outrider/api/v1alpha1"
)

// What a rendered NetworkPolicy carries to tie it to its AccessPolicy.
const (
	// NetPolPrefix starts the name of every rendered NetworkPolicy.
	NetPolPrefix = "outrider-"
	// ManagedByLabel and ManagedByValue mark rendered NetworkPolicies.
	ManagedByLabel = "app.kubernetes.io/managed-by"
	ManagedByValue = "outrider"
	// SourceAnnotation names the AccessPolicy a NetworkPolicy was rendered from.
	SourceAnnotation = "security.outrider.dev/access-policy"
	// namespaceNameLabel is set by Kubernetes on every namespace (1.21+) to its name.
	namespaceNameLabel = corev1.LabelMetadataName
)

// RenderedNetPol is a NetworkPolicy rendered from an AccessPolicy, with notes on what the
// NetworkPolicy cannot say and how it was widened instead.
type RenderedNetPol struct {
	Source PolicyKey
	Policy *networkingv1.NetworkPolicy
	Notes  []string
}

// RenderNetworkPolicy renders an AccessPolicy as a plain networking.k8s.io/v1 NetworkPolicy:
// L3/L4 defence in depth under the proxy, never a replacement for it.
//
// The NetworkPolicy selects the same pods and allows ingress from the same pods and namespaces
// on the same ports. What L3/L4 cannot see is widened to the narrowest thing it can say that
// still admits every allowed peer: ServiceAccounts become every pod of their namespaces,
// provenance and HTTP conditions are dropped, and a rule without from admits every pod
// (Strict) or every source (Permissive). A widened NetworkPolicy never refuses what the
// AccessPolicy allows, so it cannot break the mesh, and each widening is in Notes.
//
// Ports are the application's. The capture rules REDIRECT inbound TCP to the proxy inside the
// pod's network namespace, after the network plugin has applied NetworkPolicy on the way in, so
// the NetworkPolicy sees the port the client dialled, the one the AccessPolicy names; the
// proxy's own inbound port never needs to be opened. Likewise the client's proxy dials the
// original destination, so the packets come from the client pod's address.
func RenderNetworkPolicy(ap *v1alpha1.AccessPolicy) (*RenderedNetPol, error) {
	if errs := append(validateMeta(ap), Validate(ap)...); len(errs) > 0 {
		return nil, fmt.Errorf("AccessPolicy %s/%s is invalid: %w", ap.Namespace, ap.Name, errs.ToAggregate())
	}
	r := &RenderedNetPol{Source: PolicyKey{Namespace: ap.Namespace, Name: ap.Name}}
	np := &networkingv1.NetworkPolicy{
		TypeMeta: metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy"},
		ObjectMeta: metav1.ObjectMeta{
			Name:        netPolName(ap.Name),
			Namespace:   ap.Namespace,
			Labels:      map[string]string{ManagedByLabel: ManagedByValue},
			Annotations: map[string]string{SourceAnnotation: ap.Name},
		},
		Spec: networkingv1.NetworkPolicySpec{
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress},
			Ingress:     []networkingv1.NetworkPolicyIngressRule{},
		},
	}
	if ap.UID != "" {
		np.OwnerReferences = []metav1.OwnerReference{{APIVersion: v1alpha1.GroupVersion.String(), Kind: "AccessPolicy",
			Name: ap.Name, UID: ap.UID, Controller: ptr(true)}}
	}
	if ap.Spec.Selector != nil {
		np.Spec.PodSelector = *ap.Spec.Selector.DeepCopy()
	}
	permissive := ap.Spec.MTLS == v1alpha1.MTLSPermissive
	for i := range ap.Spec.Ingress {
		if rule, ok := r.renderIngress(ap, i, permissive); ok {
			np.Spec.Ingress = append(np.Spec.Ingress, rule)
		}
	}
	if len(ap.Spec.Ingress) == 0 {
		r.note("spec.ingress is empty: the selected pods accept no ingress at all")
	}
	r.Policy = np
	return r, nil
}

// RenderNetworkPolicies renders every valid policy, sorted by namespace and name. Invalid
// policies are left out and named in the joined error, so a caller can render the rest.
func RenderNetworkPolicies(policies []v1alpha1.AccessPolicy) ([]*RenderedNetPol, error) {
	sorted := make([]*v1alpha1.AccessPolicy, len(policies))
	for i := range policies {
		sorted[i] = &policies[i]
	}
	slices.SortStableFunc(sorted, func(a, b *v1alpha1.AccessPolicy) int {
		return strings.Compare(a.Namespace+"/"+a.Name, b.Namespace+"/"+b.Name)
	})
	var out []*RenderedNetPol
	var errs []error
	for _, ap := range sorted {
		r, err := RenderNetworkPolicy(ap)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, r)
	}
	return out, errors.Join(errs...)
}

func (r *RenderedNetPol) note(format string, args ...any) {
	r.Notes = append(r.Notes, fmt.Sprintf(format, args...))
}

func (r *RenderedNetPol) renderIngress(ap *v1alpha1.AccessPolicy, i int, permissive bool) (networkingv1.NetworkPolicyIngressRule, bool) {
	in := &ap.Spec.Ingress[i]
	path := fmt.Sprintf("spec.ingress[%d]", i)
	out := networkingv1.NetworkPolicyIngressRule{Ports: renderPorts(in.Ports)}
	if in.HTTP != nil {
		r.note("%s.http: HTTP methods and paths are enforced by the proxy only; this rule allows the whole port", path)
	}
	if len(in.From) == 0 {
		if permissive {
			r.note("%s: no from and mtls Permissive, so plain-text clients from anywhere are allowed, as by the proxy", path)
			return out, true
		}
		// Strict: only meshed peers, and meshed peers are pods (never the host network).
		out.From = []networkingv1.NetworkPolicyPeer{{NamespaceSelector: &metav1.LabelSelector{}}}
		return out, true
	}
	for j := range in.From {
		if peer, ok := r.renderPeer(ap, &in.From[j], fmt.Sprintf("%s.from[%d]", path, j)); ok {
			out.From = append(out.From, peer)
		}
	}
	if len(out.From) == 0 {
		// An empty from would allow every source: drop the rule instead.
		r.note("%s: no peer it names can be expressed as pods, so it is left out (it allows no one)", path)
		return out, false
	}
	return out, true
}

// renderPeer renders one from entry; false when it can match no pod at all.
func (r *RenderedNetPol) renderPeer(ap *v1alpha1.AccessPolicy, e *v1alpha1.AccessPolicyPeer, path string) (networkingv1.NetworkPolicyPeer, bool) {
	if e.Provenance != nil {
		r.note("%s.provenance: image provenance is enforced by the proxy only; the NetworkPolicy allows these peers whatever their images", path)
	}
	// The namespaces the peer may be in, by name: the listed ones, and (AND) those of the
	// ServiceAccounts. nil means no constraint by name.
	var names []string
	if e.Namespaces != nil {
		names = sortedUnique(e.Namespaces)
	}
	if e.ServiceAccounts != nil {
		var saNS []string
		for _, ref := range e.ServiceAccounts {
			ns, _ := splitServiceAccount(ap.Namespace, ref)
			saNS = append(saNS, ns)
		}
		saNS = sortedUnique(saNS)
		if names != nil {
			saNS = slices.DeleteFunc(saNS, func(n string) bool { return !slices.Contains(names, n) })
		}
		names = saNS
		switch {
		case len(names) == 0:
			r.note("%s: its namespaces hold none of its ServiceAccounts, so it allows no one and is left out", path)
			return networkingv1.NetworkPolicyPeer{}, false
		case e.PodSelector != nil:
			r.note("%s.serviceAccounts: a NetworkPolicy cannot name ServiceAccounts, so the pods its podSelector matches in %s are allowed whatever their ServiceAccount",
				path, strings.Join(names, ", "))
		default:
			r.note("%s.serviceAccounts: a NetworkPolicy cannot name ServiceAccounts, so every pod in %s is allowed",
				path, strings.Join(names, ", "))
		}
	}
	var peer networkingv1.NetworkPolicyPeer
	if e.PodSelector != nil {
		peer.PodSelector = e.PodSelector.DeepCopy()
	}
	switch {
	case e.NamespaceSelector == nil && names == nil && e.PodSelector == nil:
		// Provenance alone: any meshed peer, so any pod.
		peer.NamespaceSelector = &metav1.LabelSelector{}
	case e.NamespaceSelector == nil && names == nil:
		// A podSelector alone: pods in the policy's namespace, as in the AccessPolicy.
	case e.NamespaceSelector == nil && len(names) == 1 && names[0] == ap.Namespace:
		if peer.PodSelector == nil {
			peer.PodSelector = &metav1.LabelSelector{}
		}
	default:
		sel := &metav1.LabelSelector{}
		if e.NamespaceSelector != nil {
			sel = e.NamespaceSelector.DeepCopy()
		}
		if names != nil {
			sel.MatchExpressions = append(sel.MatchExpressions, metav1.LabelSelectorRequirement{
				Key: namespaceNameLabel, Operator: metav1.LabelSelectorOpIn, Values: names})
		}
		peer.NamespaceSelector = sel
	}
	return peer, true
}

func renderPorts(ports []v1alpha1.AccessPolicyPort) []networkingv1.NetworkPolicyPort {
	var out []networkingv1.NetworkPolicyPort
	for _, p := range ports {
		np := networkingv1.NetworkPolicyPort{Protocol: ptr(corev1.ProtocolTCP), Port: ptr(intstr.FromInt32(p.Port))}
		if p.EndPort != nil && *p.EndPort != p.Port {
			np.EndPort = ptr(*p.EndPort)
		}
		out = append(out, np)
	}
	return out
}

// netPolName is "outrider-<name>", shortened with a hash of the name when too long.
func netPolName(name string) string {
	full := NetPolPrefix + name
	if len(full) <= validation.DNS1123SubdomainMaxLength {
		return full
	}
	sum := sha256.Sum256([]byte(name))
	suffix := "-" + hex.EncodeToString(sum[:])[:10]
	return strings.TrimRight(full[:validation.DNS1123SubdomainMaxLength-len(suffix)], ".-") + suffix
}

func ptr[T any](v T) *T { return &v }
