package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"text/tabwriter"

	"github.com/conserva/conserva/archive"
	"github.com/urfave/cli/v3"
)

func reportsCommand() *cli.Command {
	return &cli.Command{
		Name:  "reports",
		Usage: "rapporti di versamento: the signed acceptance report of each ingest run",
		Commands: []*cli.Command{
			{
				Name:  "list",
				Usage: "list the reports, each with its run id",
				Flags: []cli.Flag{jsonFlag()},
				Action: func(ctx context.Context, cmd *cli.Command) error {
					if cmd.Args().Len() > 0 {
						return usageErrorf("reports list: unexpected argument %q", cmd.Args().First())
					}
					a, err := openArchive(cmd)
					if err != nil {
						return err
					}
					defer a.Close()
					reps, err := a.Reports(ctx)
					if err != nil {
						return err
					}
					out := cmd.Root().Writer
					if cmd.Bool("json") {
						if reps == nil {
							reps = []archive.ReportRecord{}
						}
						return json.NewEncoder(out).Encode(map[string]any{"reports": reps})
					}
					tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
					fmt.Fprintln(tw, "RUN\tCREATED\tARCHIVED\tFLAGGED\tREFUSED\tSIGNED")
					bad := 0
					for _, r := range reps {
						signed := "yes"
						switch {
						case r.Pending:
							signed = "pending (signed by the next seal)"
						case r.Signed == nil || r.Problem != "":
							signed, bad = "NO: "+r.Problem, bad+1
						}
						fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%s\n", r.Run, r.Created.Format("2006-01-02 15:04:05Z"), r.Archived, r.Flagged, r.Refused, signed)
					}
					tw.Flush()
					fmt.Fprintln(out, plural(len(reps), "report"))
					if bad > 0 {
						return findings()
					}
					return nil
				},
			},
			{
				Name:      "show",
				Usage:     "show one report and whether its signature and timestamp verify",
				ArgsUsage: "RUN (or an unambiguous prefix)",
				Flags:     []cli.Flag{jsonFlag()},
				Action: func(ctx context.Context, cmd *cli.Command) error {
					if cmd.Args().Len() != 1 {
						return usageErrorf("reports show: give one run id")
					}
					a, err := openArchive(cmd)
					if err != nil {
						return err
					}
					defer a.Close()
					d, err := a.Report(ctx, cmd.Args().First())
					if err != nil {
						return reportError(err)
					}
					out := cmd.Root().Writer
					if cmd.Bool("json") {
						enc := json.NewEncoder(out)
						enc.SetEscapeHTML(false)
						if err := enc.Encode(d); err != nil {
							return err
						}
					} else {
						r := d.Report
						fmt.Fprintf(out, "rapporto di versamento %s, %s\n", r.Run, r.Created.Format("2006-01-02 15:04:05Z"))
						for _, s := range r.Sources {
							fmt.Fprintf(out, "source: %s\n", s)
						}
						fmt.Fprintf(out, "%d seen, %d archived, %d flagged, %d duplicates, %d refused\n", r.Seen, len(r.Entries), r.Flagged(), r.Duplicates, len(r.Refused))
						tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
						for _, e := range r.Entries {
							st := "accepted"
							if e.Flagged {
								st = "flagged: " + e.Reason
							}
							fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", archive.ShortID(e.ID), e.Kind, e.Verdict, st)
						}
						tw.Flush()
						for _, f := range r.Refused {
							fmt.Fprintf(out, "refused %s: %s\n", f.Source, f.Reason)
						}
						if d.Pending {
							fmt.Fprintf(out, "%s\n", d.Problem)
						} else if d.Verified {
							fmt.Fprintf(out, "signed by %s, timestamped %s by %s: verifies against the kept roots\n", d.Signed.Signer, d.Signed.Timestamp.Format("2006-01-02 15:04:05Z"), d.Signed.TSA)
						} else {
							fmt.Fprintf(out, "DOES NOT VERIFY: %s\n", d.Problem)
						}
					}
					if !d.Verified {
						return findings()
					}
					return nil
				},
			},
			{
				Name:      "export",
				Usage:     "write a report, its CAdES signature, timestamp, roots and VERIFY.txt for an auditor",
				ArgsUsage: "RUN",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "out", Usage: "directory to write (new or empty)", Required: true},
					jsonFlag(),
				},
				Action: func(ctx context.Context, cmd *cli.Command) error {
					if cmd.Args().Len() != 1 {
						return usageErrorf("reports export: give one run id")
					}
					a, err := openArchive(cmd)
					if err != nil {
						return err
					}
					defer a.Close()
					d, err := a.ExportReport(ctx, cmd.Args().First(), cmd.String("out"))
					if err != nil {
						return reportError(err)
					}
					if cmd.Bool("json") {
						return json.NewEncoder(cmd.Root().Writer).Encode(map[string]any{"run": d.Run, "out": cmd.String("out"), "verified": d.Verified})
					}
					fmt.Fprintf(cmd.Root().Writer, "rapporto %s written to %s (see VERIFY.txt); its roots, to publish for the auditor:\n", d.Run, cmd.String("out"))
					return printRoots(cmd.Root().Writer, cmd.String("out"))
				},
			},
		},
	}
}

func reportError(err error) error {
	if errors.Is(err, archive.ErrNoReport) {
		return &exitError{code: exitFindings, msg: err.Error()}
	}
	return &exitError{code: exitFindings, msg: err.Error()}
}
