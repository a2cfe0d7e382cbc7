package accesspolicy

import (
	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// World is what the compiler knows about the cluster: the trust domain that names identities,
// the namespaces with their labels, and the meshed workloads.
type World struct {
	// TrustDomain names every identity; required.
	TrustDomain spiffeid.TrustDomain
	// Namespaces maps every namespace's name to its labels. A namespace that is absent cannot
	// be matched by a namespaceSelector and is not default-deny.
	Namespaces map[string]map[string]string
	// Workloads are the meshed pods. Only they have identities, so only they can be peers
	// named by labels, and only they receive a compiled policy.
	Workloads []Workload
}

// Workload is one meshed pod.
type Workload struct {
	Namespace string
	// Name is the pod's name; with Namespace it keys the compiled policies. Keys should be
	// unique; when one repeats, the last workload with it wins.
	Name string
	// ServiceAccount is the pod's ServiceAccount, which names its identity.
	ServiceAccount string
	// Labels are the pod's labels.
	Labels map[string]string
}

// Key returns the workload's key.
func (w *Workload) Key() WorkloadKey { return WorkloadKey{Namespace: w.Namespace, Name: w.Name} }

// WorkloadKey names a workload: its namespace and pod name.
type WorkloadKey struct {
	Namespace, Name string
}

func (k WorkloadKey) String() string { return k.Namespace + "/" + k.Name }

// PolicyKey names an AccessPolicy.
type PolicyKey struct {
	Namespace, Name string
}

func (k PolicyKey) String() string { return k.Namespace + "/" + k.Name }
