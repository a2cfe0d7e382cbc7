// Package client is the proxy's side of the identity service. It runs inside `outrider-proxy`:
// it generates a P-256 key and CSR, reads the pod's projected ServiceAccount token from its
// file (re-read every time, since the kubelet rotates it), asks IssueCertificate, and installs
// the certificate through the proxy's setters; it renews at half-life with ±10% jitter, keeps
// the old certificate in place until a new one is installed, and retries with backoff. A Watch
// stream on the same connection applies the trust bundle, policy and endpoints as they change,
// and reconnects when it breaks.
//
// The service's certificate is verified as an X509-SVID with the expected SPIFFE ID against
// the bootstrap bundle file (the mounted outrider-trust-bundle ConfigMap) together with the
// latest bundle the service pushed.
package client
