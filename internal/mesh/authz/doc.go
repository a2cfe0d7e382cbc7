// Package authz is the mesh's authorization model: the inbound rules of one workload, compiled
// from AccessPolicies by the identity service and pushed to its proxy, and the decision the
// proxy takes for each connection (peer identity and port) and each HTTP request.
//
// The package is pure: no Kubernetes types, no I/O. A Policy is a plain value with a JSON form
// (the identity service pushes it) that Parse validates strictly.
package authz
