// Package controller assembles `outrider controller`: the admission webhooks, the policy cache
// that compiles ClusterSecurityPolicy and SecurityPolicy objects into the engine, the serving
// certificate, health and metrics endpoints, and the background audit that writes
// PolicyReports for workloads already running. Every replica serves webhooks; only the leader
// writes policy status and reports.
package controller
