// Package cli wires the `outrider` command line with cobra. Each command validates its options
// in PreRunE and calls a run function with injected streams, so commands are tested without a
// process; only main exits. What every command shares with the binaries that run them is in
// internal/cli/command; the mesh sidecar's command is internal/cli/proxycmd, which
// cmd/outrider-proxy links alone.
package cli
