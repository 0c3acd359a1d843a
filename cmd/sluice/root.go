package main

import "github.com/spf13/cobra"

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:   "sluice",
		Short: "Run calls to rate-limited APIs as fast as they allow, and no faster",
		Long: `sluice keeps programs from drowning the APIs they call: bounded concurrency,
evenly paced starts, token budgets settled against real usage, limits learned
from the API's own rate-limit headers, one shared cool-down per 429, and
retries that cannot become a storm.

Start with:  sluice demo`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       versionString(),
	}
	root.SetVersionTemplate(versionLine() + "\n")
	root.AddCommand(newRun(), newVersion(), newMock(), newDemo(), newProxy(), newMCP())
	return root
}
