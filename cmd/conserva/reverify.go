package main

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/conserva/conserva/archive"
	"github.com/urfave/cli/v3"
)

func reverifyCommand() *cli.Command {
	return &cli.Command{
		Name:  "reverify",
		Usage: "judge the providers' signatures of every catalogued message again (e.g. after adding a provider CA)",
		Description: "The trust anchors are every file kept in the archive (given at ingest or here) plus --trust,\n" +
			"which is kept too. A changed verdict is recorded beside the earlier ones, with its time: history is\n" +
			"never overwritten; search --flagged shows the current verdict. Exit 1 when a message cannot be read back.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "trust", Usage: "more trust anchors (PEM bundle or IGPEC LDIF), kept in the archive", Sources: cli.EnvVars("CONSERVA_TRUST")},
			jsonFlag(),
		},
		Action: func(ctx context.Context, cmd *cli.Command) (err error) {
			if cmd.Args().Len() > 0 {
				return usageErrorf("reverify: unexpected argument %q", cmd.Args().First())
			}
			a, err := openArchive(cmd)
			if err != nil {
				return err
			}
			defer a.Close()
			run := startRun("reverify")
			defer func() { recordRun(a, run, err) }()
			trust, files, err := a.ProviderTrust(ctx, cmd.String("trust"))
			if err != nil {
				return usageErrorf("%v", err)
			}
			n, _ := a.Catalog.Count()
			prog, finish := progressFunc(cmd, n, "re-verifying")
			sum, err := a.Reverify(ctx, trust, files, nil, prog)
			finish()
			if err != nil {
				return &exitError{code: exitFindings, msg: err.Error()}
			}
			run.Count("checked", int64(sum.Checked))
			run.Count("verdicts changed", int64(sum.ChangedCount()))
			run.Count("flagged", int64(sum.Flagged))
			for _, p := range sum.Problems {
				run.Error(p.Key + ": " + p.Problem)
			}
			out := cmd.Root().Writer
			if cmd.Bool("json") {
				if err := json.NewEncoder(out).Encode(sum); err != nil {
					return err
				}
			} else {
				fmt.Fprintf(out, "re-verified %d messages against %d trust files: %d verdicts changed, %d flagged\n",
					sum.Checked, len(sum.Trust), sum.ChangedCount(), sum.Flagged)
				for _, c := range sum.Changed {
					fmt.Fprintf(out, "  %s  %s -> %s  %s\n", archive.ShortID(c.ID), c.From, c.To, c.Reason)
				}
				if sum.ChangedOmitted > 0 {
					fmt.Fprintf(out, "  … and %d more changed verdicts, not listed (each is in its message's history: conserva show)\n", sum.ChangedOmitted)
				}
				for _, p := range sum.Problems {
					fmt.Fprintf(out, "PROBLEM %s: %s\n", p.Key, p.Problem)
				}
				if sum.ProblemsOmitted > 0 {
					fmt.Fprintf(out, "… and %d more messages that could not be read back, not listed\n", sum.ProblemsOmitted)
				}
			}
			if len(sum.Problems) > 0 {
				return findings()
			}
			return nil
		},
	}
}
