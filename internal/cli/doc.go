// Package cli wires the `outrider` command line with cobra. Each command validates its options
// in PreRunE and calls a run function with injected streams, so commands are tested without a
// process; only main exits.
package cli
