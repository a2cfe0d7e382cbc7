// Package proxy is the mesh's data plane, run beside each meshed workload as `outrider-proxy`
// (the `outrider proxy` command in a binary of its own).
//
// The pod's capture rules redirect inbound TCP to the inbound listener and the application's
// outbound TCP to the outbound listener. Inbound, the proxy recovers the original port,
// sniffs the first bytes, terminates mutual TLS for mesh peers (TLS 1.3, ALPN "outrider/1",
// X509-SVIDs verified against the trust bundle), authorizes the peer with the workload's
// authz.Policy and forwards to the application on 127.0.0.1:<port>. Outbound, it originates
// mutual TLS to meshed endpoints and checks that the server is the identity expected there;
// other destinations pass through or are refused by the egress setting.
//
// The proxy knows nothing of Kubernetes. Its identity, trust bundle, policy and endpoints
// arrive through setters (SetCertificate, SetTrustBundle, SetPolicy, SetEndpoints), safe to
// call at any time under load: the identity service's client calls them, and so does the file
// loader that `outrider-proxy --cert ... --policy-file ...` uses.
package proxy
