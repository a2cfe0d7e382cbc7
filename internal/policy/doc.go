// Package policy is Outrider's engine: a pure function from a decoded object and a set of
// compiled policies to findings. It evaluates the upstream Pod Security Standards checks
// (k8s.io/pod-security-admission), Outrider's own checks (one file each, listed in registry.go)
// and custom CEL rules, then applies exceptions and suppression annotations. It does no I/O:
// `outrider scan`, the admission webhook and the background audit all call it unchanged.
package policy
