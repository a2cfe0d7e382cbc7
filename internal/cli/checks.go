package cli

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/outrider-sec/outrider/internal/cli/command"
	"github.com/outrider-sec/outrider/internal/policy"
)

func newChecksCommand(s command.Streams) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "checks",
		Short: "List every built-in check with its ID, severity and remediation",
		Long: `List the checks policies can run: the upstream Pod Security Standards checks (pss.*),
which follow a policy's podSecurity level, and Outrider's own checks. IDs are stable; use them
in policy settings, exceptions and the security.outrider.dev/ignore annotation.`,
		Args: cobra.NoArgs,
		PreRunE: func(*cobra.Command, []string) error {
			if output != "text" && output != "json" {
				return command.UsageError("unknown output format %q (want text or json)", output)
			}
			return nil
		},
		RunE: func(*cobra.Command, []string) error {
			catalog := policy.Catalog()
			if output == "json" {
				enc := json.NewEncoder(s.Out)
				enc.SetIndent("", "  ")
				return enc.Encode(catalog)
			}
			return writeCatalogText(s, catalog)
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	return cmd
}

func writeCatalogText(s command.Streams, catalog []policy.CatalogEntry) error {
	tw := tabwriter.NewWriter(s.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSEVERITY\tDEFAULT\tTITLE")
	for _, e := range catalog {
		def := "on"
		switch {
		case e.Source == "pss":
			def = e.Level
		case !e.DefaultOn:
			def = "off"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", e.ID, e.Severity, def, e.Title)
		fmt.Fprintf(tw, "\t\t\t  fix: %s\n", e.Remediation)
	}
	return tw.Flush()
}
