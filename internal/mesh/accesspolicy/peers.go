package accesspolicy

import (
	"fmt"
	"slices"
	"strings"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/outrider-sec/outrider/api/v1alpha1"
	"github.com/outrider-sec/outrider/internal/identity/ca"
)

// maxWideningWarnings bounds the ServiceAccounts one podSelector's warnings name one by one.
const maxWideningWarnings = 5

// index is the World prepared for resolving peers.
type index struct {
	td       spiffeid.TrustDomain
	nsLabels map[string]map[string]string
	nsNames  []string             // sorted names of the known namespaces
	byNS     map[string][]peerPod // meshed pods with a valid identity, by namespace, by name
	perID    map[string]int       // meshed pods per identity
}

// peerPod is a meshed pod as a peer.
type peerPod struct {
	name, sa string
	labels   labels.Set
	id       string
}

func newIndex(w World) *index {
	ix := &index{td: w.TrustDomain, nsLabels: w.Namespaces, byNS: map[string][]peerPod{}, perID: map[string]int{}}
	for ns := range w.Namespaces {
		ix.nsNames = append(ix.nsNames, ns)
	}
	slices.Sort(ix.nsNames)
	for i := range w.Workloads {
		wl := &w.Workloads[i]
		id, err := ca.WorkloadID(w.TrustDomain, wl.Namespace, wl.ServiceAccount)
		if err != nil {
			continue // a pod without a valid identity can never be a peer
		}
		p := peerPod{name: wl.Name, sa: wl.ServiceAccount, labels: labels.Set(wl.Labels), id: id.String()}
		ix.byNS[wl.Namespace] = append(ix.byNS[wl.Namespace], p)
		ix.perID[p.id]++
	}
	for _, pods := range ix.byNS {
		slices.SortFunc(pods, func(a, b peerPod) int { return strings.Compare(a.name, b.name) })
	}
	return ix
}

// peerSet is what one from entry resolves to: any authenticated peer, or a set of principals
// (exact SPIFFE IDs and namespace patterns). An empty set allows no one.
type peerSet struct {
	any        bool
	principals []string
}

// resolve turns a validated from entry of a policy in namespace ns into principals, with
// warnings about what it admits beyond what it says.
func (ix *index) resolve(ns string, e *v1alpha1.AccessPolicyPeer, p *field.Path) (peerSet, []string) {
	nsSel := selectorOf(e.NamespaceSelector)
	scoped := e.Namespaces != nil || nsSel != nil
	inScope := func(n string) bool {
		if e.Namespaces != nil && !slices.Contains(e.Namespaces, n) {
			return false
		}
		if nsSel != nil {
			l, known := ix.nsLabels[n]
			return known && nsSel.Matches(labels.Set(l))
		}
		return true
	}
	switch {
	case e.PodSelector != nil:
		return ix.resolvePods(ns, e, scoped, inScope, p)
	case e.ServiceAccounts != nil:
		var out []string
		for _, ref := range e.ServiceAccounts {
			sns, sa := splitServiceAccount(ns, ref)
			if scoped && !inScope(sns) {
				continue
			}
			if id, err := ca.WorkloadID(ix.td, sns, sa); err == nil {
				out = append(out, id.String())
			}
		}
		return peerSet{principals: out}, nil
	case scoped:
		var out []string
		for _, n := range ix.scopeNamespaces(e.Namespaces, inScope) {
			if id, err := spiffeid.FromSegments(ix.td, "ns", n); err == nil {
				out = append(out, id.String()+"/*")
			}
		}
		if len(out) == 0 {
			return peerSet{}, []string{fmt.Sprintf("%s: matches no namespace now, so it allows no one until one does", p)}
		}
		return peerSet{principals: out}, nil
	default: // provenance alone
		return peerSet{any: true}, nil
	}
}

// resolvePods resolves a podSelector to the identities of the matching meshed pods, warning
// about every other pod those identities also admit.
func (ix *index) resolvePods(ns string, e *v1alpha1.AccessPolicyPeer, scoped bool, inScope func(string) bool, p *field.Path) (peerSet, []string) {
	podSel := selectorOf(e.PodSelector)
	var wantIDs map[string]bool
	if e.ServiceAccounts != nil {
		wantIDs = map[string]bool{}
		for _, ref := range e.ServiceAccounts {
			sns, sa := splitServiceAccount(ns, ref)
			if id, err := ca.WorkloadID(ix.td, sns, sa); err == nil {
				wantIDs[id.String()] = true
			}
		}
	}
	namespaces := []string{ns}
	if scoped {
		namespaces = ix.scopeNamespaces(e.Namespaces, inScope)
	}
	type match struct {
		ns, sa string
		pods   int
	}
	matched := map[string]*match{}
	var out []string
	for _, n := range namespaces {
		for _, pod := range ix.byNS[n] {
			if !podSel.Matches(pod.labels) || (wantIDs != nil && !wantIDs[pod.id]) {
				continue
			}
			m := matched[pod.id]
			if m == nil {
				m = &match{ns: n, sa: pod.sa}
				matched[pod.id] = m
				out = append(out, pod.id)
			}
			m.pods++
		}
	}
	if len(out) == 0 {
		return peerSet{}, []string{fmt.Sprintf("%s: matches no meshed pod now, so it allows no one until one does", p.Child("podSelector"))}
	}
	slices.Sort(out)
	var warnings []string
	shared := 0
	for _, id := range out {
		m := matched[id]
		others := ix.perID[id] - m.pods
		switch {
		case others == 0:
		case len(warnings) < maxWideningWarnings:
			warnings = append(warnings, fmt.Sprintf("%s: also admits %d other pod(s) of ServiceAccount %s/%s that it does not match (such as %s): "+
				"identities are per ServiceAccount; give the peers a ServiceAccount of their own",
				p.Child("podSelector"), others, m.ns, m.sa, ix.unmatchedPod(m.ns, id, podSel)))
		default:
			shared++
		}
	}
	if shared > 0 {
		warnings = append(warnings, fmt.Sprintf("%s: and %d more ServiceAccounts it resolves to are shared with pods it does not match",
			p.Child("podSelector"), shared))
	}
	return peerSet{principals: out}, warnings
}

// unmatchedPod names a pod of identity id that podSel does not match.
func (ix *index) unmatchedPod(ns, id string, podSel labels.Selector) string {
	for _, pod := range ix.byNS[ns] {
		if pod.id == id && !podSel.Matches(pod.labels) {
			return ns + "/" + pod.name
		}
	}
	return ""
}

// scopeNamespaces lists the namespaces in scope: the named ones (known or not) when names are
// given, else every known namespace the selector matches.
func (ix *index) scopeNamespaces(names []string, inScope func(string) bool) []string {
	var out []string
	if names != nil {
		for _, n := range names {
			if inScope(n) {
				out = append(out, n)
			}
		}
		slices.Sort(out)
		return slices.Compact(out)
	}
	for _, n := range ix.nsNames {
		if inScope(n) {
			out = append(out, n)
		}
	}
	return out
}

// splitServiceAccount reads "name" (in namespace ns) or "namespace/name".
func splitServiceAccount(ns, ref string) (string, string) {
	if n, sa, ok := strings.Cut(ref, "/"); ok {
		return n, sa
	}
	return ns, ref
}

// selectorOf converts a validated selector; nil stays nil. A selector that fails to convert
// (it cannot, once validated) matches nothing.
func selectorOf(ls *metav1.LabelSelector) labels.Selector {
	if ls == nil {
		return nil
	}
	s, err := metav1.LabelSelectorAsSelector(ls)
	if err != nil {
		return labels.Nothing()
	}
	return s
}
