// Package push computes what each proxy needs besides its certificate — the trust bundle, its
// workload's compiled inbound policy and the meshed endpoints — from the cluster's pods,
// namespaces and AccessPolicies, and delivers it: to the proxies subscribed over the identity
// service's Watch stream (Hub), and as the bootstrap trust bundle ConfigMap in every meshed
// namespace (Publisher).
//
// Changes are coalesced (a few tens of milliseconds), the whole mesh is recompiled with
// accesspolicy.Compile, and a subscriber gets only the parts of its state that changed. A slow
// subscriber never holds the others up: its pending update is overwritten by newer state.
package push
