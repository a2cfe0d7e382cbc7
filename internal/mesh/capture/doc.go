// Package capture programs a meshed pod's iptables so that its TCP goes through the sidecar
// proxy and nothing in the pod but the proxy reaches the proxy's own ports. `outrider capture`,
// the pod's first init container, runs it; the node agent reuses Verify to check at run time
// that the rules are still the ones installed.
//
// The rules (see Rules and docs/mesh-capture.md): inbound TCP is redirected to the proxy's
// inbound port, the application's outbound TCP to its outbound port; the proxy is exempt only
// when its packets match its UID, its GID and its packet mark together; the proxy's ports are
// rejected for every other process, on 127.0.0.1, ::1 and the pod's addresses alike. They are
// written as whole nat and filter tables with iptables-restore (Apply), for IPv4 and, whenever
// the kernel has IPv6, for IPv6; then read back with iptables-save and compared (Verify). A
// failure restores what was there before and is returned, so the init container fails and the
// application never starts half-captured.
//
// Both iptables backends work: Apply uses the one that already holds rules in the namespace,
// or nf_tables when neither does (DetectBackend). The package needs the iptables-{nft,legacy}-
// {save,restore} commands (and the ip6tables ones), root, CAP_NET_ADMIN and, for the legacy
// backend, CAP_NET_RAW.
package capture
