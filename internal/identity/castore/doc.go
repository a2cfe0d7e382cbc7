// Package castore keeps the identity service's CA in a Kubernetes Secret and runs its
// lifecycle: it loads the CA on start (or creates it, from an operator's root Secret or a
// generated root), renews the intermediate at half-life, prepares, commits and aborts root
// rotations requested by an annotation, and tells the service whenever the CA or its trust
// bundle changed.
//
// Several replicas share one Secret without a leader: every change is computed from the
// Secret as it is now and written with its resourceVersion (optimistic concurrency), so a
// replica that loses a race re-reads the Secret, finds the work done, and adopts the result.
// Each replica watches the Secret and reloads the CA when another one wrote it.
package castore
