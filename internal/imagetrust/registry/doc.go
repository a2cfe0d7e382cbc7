// Package registry is image trust's client of OCI registries: it resolves tags to the digests
// the runtime will pin, authenticates with a pod's pull secrets and the controller's own
// credentials, routes registries to mirrors, bounds every request by a timeout, counts requests
// in Prometheus metrics, and caches verification results with one fill per key.
//
// Every registry call of image trust goes through one Client, also those made by other
// packages with go-containerregistry's remote functions: Client.RemoteOptions carries the
// transport, so mirrors, timeouts and metrics apply to them too.
package registry
