package accesspolicy

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/outrider-sec/outrider/api/v1alpha1"
)

// netPolHeader opens every rendered stream: what the NetworkPolicies are and are not.
var netPolHeader = []string{
	"NetworkPolicies rendered by `outrider mesh netpol` from AccessPolicies: L3/L4 defence in",
	"depth under the sidecar proxy, which still enforces each AccessPolicy in full (identities,",
	"provenance, HTTP). Where a NetworkPolicy cannot say what the AccessPolicy says, it allows more,",
	"never less; the notes above each object say where.",
	"",
	"- Ports are the application's: the capture rules redirect inbound TCP to the proxy inside the",
	"  pod, after the network plugin has applied these policies, so they see the port the client",
	"  dialled. The proxy's own ports need no rule.",
	"- Selected pods accept only the TCP listed: UDP and SCTP to them are refused too (the mesh",
	"  carries TCP only). Add a NetworkPolicy of your own for those.",
	"- Namespace default-deny (" + v1alpha1.MeshDefaultDenyLabel + ") is not rendered: a NetworkPolicy",
	"  cannot select only the meshed pods of a namespace.",
	"- Traffic from a pod's own node (kubelet probes) is always allowed, whatever these say.",
}

// WriteNetworkPolicies writes rendered NetworkPolicies as a YAML stream, each preceded by
// comments naming its AccessPolicy and its notes, ready for `kubectl apply -f -`.
func WriteNetworkPolicies(w io.Writer, rendered []*RenderedNetPol) error {
	bw := bufio.NewWriter(w)
	writeComment(bw, netPolHeader)
	for _, r := range rendered {
		doc, err := yaml.Marshal(r.Policy)
		if err != nil {
			return fmt.Errorf("writing NetworkPolicy %s/%s: %w", r.Policy.Namespace, r.Policy.Name, err)
		}
		bw.WriteString("---\n")
		lines := []string{"From AccessPolicy " + r.Source.String() + "."}
		for _, n := range r.Notes {
			lines = append(lines, "- "+n)
		}
		writeComment(bw, lines)
		bw.Write(doc)
	}
	return bw.Flush()
}

func writeComment(w *bufio.Writer, lines []string) {
	for _, l := range lines {
		// Names in notes come from validated fields, but never let one end the comment.
		l = strings.NewReplacer("\n", " ", "\r", " ").Replace(l)
		if l == "" {
			w.WriteString("#\n")
			continue
		}
		w.WriteString("# " + l + "\n")
	}
}
