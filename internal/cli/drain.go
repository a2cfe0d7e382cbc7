package cli

import (
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"github.com/outrider-sec/outrider/internal/cli/command"
	"github.com/outrider-sec/outrider/internal/controller"
)

func newDrainCommand(s command.Streams) *cobra.Command {
	addr := controller.DrainAddr
	return &cobra.Command{
		Use:   "drain",
		Short: "Ask the controller in this container to drain (its preStop hook)",
		Long: `Ask the admission controller running in the same container to drain before it stops:
for a few seconds it answers every webhook request with "Connection: close", so the API server
holds no connection to it when it shuts down and no request is refused during a rollout. The
Helm chart runs this as the controller's preStop hook; the endpoint listens on loopback only.`,
		Args:   cobra.NoArgs,
		Hidden: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			client := &http.Client{Timeout: 30 * time.Second}
			resp, err := client.Get("http://" + addr + "/drain")
			if err != nil {
				return &command.ExitError{Code: 1, Err: fmt.Errorf("draining: %w", err)}
			}
			defer resp.Body.Close()
			_, _ = io.Copy(s.Out, resp.Body)
			if resp.StatusCode != http.StatusOK {
				return &command.ExitError{Code: 1, Err: fmt.Errorf("draining: %s", resp.Status)}
			}
			return nil
		},
	}
}
