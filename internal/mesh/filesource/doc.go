// Package filesource feeds a proxy its identity, trust bundle, policy and endpoints from files,
// and feeds it again when a file changes or on request (SIGHUP). It stands in for the identity
// service's push, so the proxy runs in tests and benchmarks without a control plane,
// and it uses the same setters the identity client will.
package filesource
