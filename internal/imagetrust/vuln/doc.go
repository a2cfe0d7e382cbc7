// Package vuln reads container image vulnerability reports (Trivy JSON, Grype JSON, SARIF and
// cosign vulnerability attestations) into one normalised Report, applies OpenVEX statements to
// it, and matches reports to image references. It parses bytes and never does I/O.
package vuln
