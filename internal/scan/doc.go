// Package scan is the offline front end of the engine: it reads manifests from files,
// directories, stdin and kustomizations, evaluates them in parallel with the same policy
// engine the admission controller uses, and returns a report.Result.
package scan
