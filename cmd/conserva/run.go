package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/conserva/conserva/archive"
	"github.com/conserva/conserva/ingest"
	"github.com/conserva/conserva/internal/redact"
	"github.com/urfave/cli/v3"
)

func runCommand() *cli.Command {
	return &cli.Command{
		Name:  "run",
		Usage: "the nightly job: ingest every [[source]] of conserva.toml, then seal",
		Description: "Prints a summary fit for a cron mail. Exit status: 0 when every source was read and the seal\n" +
			"succeeded, 1 on any failure (each named), 2 on usage errors.",
		Flags: []cli.Flag{jsonFlag()},
		Action: func(ctx context.Context, cmd *cli.Command) (err error) {
			// A script reading --json gets JSON whatever happens: a run that
			// cannot even start says why in {"error": …}.
			fail := func(err error) error {
				if cmd.Bool("json") {
					msg := err.Error()
					var ee *exitError
					if errors.As(err, &ee) {
						msg = ee.msg
					}
					_ = json.NewEncoder(cmd.Root().Writer).Encode(map[string]any{"error": redact.Text(msg), "sources": []any{}, "packages": []any{}})
				}
				return err
			}
			a, err := openArchive(cmd)
			if err != nil {
				return fail(err)
			}
			defer a.Close()
			run := startRun("run")
			defer func() { recordRun(a, run, err) }()
			a.Version = version()
			if len(a.Config.Sources) == 0 {
				return fail(usageErrorf("run: no [[source]] in %s/conserva.toml", a.Dir))
			}
			trust, tfiles, err := a.ProviderTrust(ctx, "")
			if err != nil {
				return fail(usageErrorf("%v", err))
			}
			start := time.Now()
			type sourceResult struct {
				Source string                 `json:"source"`
				Label  string                 `json:"label,omitempty"`
				Result *archive.IngestSummary `json:"result,omitempty"`
				Error  string                 `json:"error,omitempty"`
			}
			failed := 0
			skips := &skipList{}
			// The sources are read [ingest] sources at once, each its own
			// ingest and rapporto; the results keep their order.
			// On a terminal, one bar counts the messages of every source.
			done, finish := progressFunc(cmd, -1, "ingesting")
			ran := a.IngestEach(ctx, len(a.Config.Sources), func(i int) (ingest.Source, error) {
				return openSource(a, a.Config.Sources[i].URL, ingest.Options{Skipped: skips.add})
			}, archive.IngestOptions{Trust: trust, TrustFiles: archive.TrustHashes(tfiles), Progress: done})
			finish() // clears the line before the seal and the summary
			results := make([]sourceResult, len(ran))
			for i, sr := range ran {
				sc := a.Config.Sources[i]
				r := sourceResult{Source: redact.URL(sc.URL), Label: sc.Label}
				err := sr.Err
				if sr.Opened {
					sum := sr.Summary
					r.Result = &sum
					if err == nil && sum.Errors > 0 {
						err = fmt.Errorf("%d message(s) could not be read or stored", sum.Errors)
					}
				}
				if err != nil {
					r.Error = redact.Text(err.Error())
					failed++
				}
				results[i] = r
			}
			done, finish = progressFunc(cmd, -1, "sealing")
			pkgs, warnings, sealErr := a.Seal(ctx, archive.SealOptions{Progress: done})
			finish()
			// Evidence records due for renewal (renew.go); nothing when none is.
			renewal, renewErr := a.Renew(ctx, archive.RenewOptions{})
			var sum archive.IngestSummary
			for _, r := range results {
				if r.Result != nil {
					sum.Seen, sum.Archived, sum.Duplicates, sum.Flagged, sum.Errors = sum.Seen+r.Result.Seen, sum.Archived+r.Result.Archived,
						sum.Duplicates+r.Result.Duplicates, sum.Flagged+r.Result.Flagged, sum.Errors+r.Result.Errors
				}
				if r.Error != "" {
					run.Error(r.Source + ": " + r.Error)
				}
			}
			ingestCounts(run, sum)
			run.Count("sources failed", int64(failed))
			sealCounts(run, pkgs)
			renewCounts(run, renewal)
			for _, e := range []error{sealErr, renewErr} {
				if e != nil {
					run.Error(e.Error())
				}
			}
			out := cmd.Root().Writer
			if cmd.Bool("json") {
				res := map[string]any{"sources": results, "packages": pkgs, "seconds": time.Since(start).Seconds()}
				if list := skips.all(); len(list) > 0 {
					res["skipped"] = list
				}
				if sealErr != nil {
					res["seal_error"] = redact.Text(sealErr.Error())
				}
				if renewal.Kind != "" {
					res["renewal"] = renewal
				}
				if renewErr != nil {
					res["renewal_error"] = redact.Text(renewErr.Error())
				}
				if err := json.NewEncoder(out).Encode(res); err != nil {
					return err
				}
			} else {
				fmt.Fprintf(out, "conserva run on %s: %s, %s\n", a.Dir, plural(len(results), "source"), time.Since(start).Round(time.Second))
				for _, r := range results {
					name := r.Source
					if r.Label != "" {
						name = r.Label + " (" + r.Source + ")"
					}
					if r.Result != nil {
						s := r.Result
						fmt.Fprintf(out, "  %s: %d seen, %d archived, %d duplicates, %d flagged, %d errors\n", name, s.Seen, s.Archived, s.Duplicates, s.Flagged, s.Errors)
						for _, f := range s.FlaggedIDs {
							fmt.Fprintf(out, "    flagged %s %s: %s\n", archive.ShortID(f.ID), f.Source, f.Reason)
						}
						if s.FlaggedOmitted > 0 {
							fmt.Fprintf(out, "    … and %d more flagged (conserva search --flagged lists them all)\n", s.FlaggedOmitted)
						}
					}
					if r.Error != "" {
						fmt.Fprintf(out, "  FAILED %s: %s\n", name, r.Error)
					}
				}
				if list := skips.all(); len(list) > 0 {
					fmt.Fprintf(out, "  %s skipped in folders (not messages; see conserva ingest --dry-run on the folder)\n", plural(len(list), "file"))
				}
				for _, p := range pkgs {
					fmt.Fprintf(out, "  sealed package %s: %s%s, timestamp %s\n", p.ID, plural(p.Messages, "message"), accessLogRange(p, ", access log records "), p.Timestamp.Format(time.RFC3339))
				}
				if len(pkgs) == 0 && sealErr == nil {
					fmt.Fprintln(out, "  nothing new to seal")
				}
				if len(pkgs) > 0 {
					for _, w := range warnings {
						fmt.Fprintf(out, "  WARNING: %s\n", w)
					}
				}
				if renewal.Kind != "" {
					fmt.Fprintf(out, "  %s\n", renewalLine(renewal))
				}
			}
			if sealErr != nil {
				return &exitError{code: exitFindings, msg: "seal: " + sealErr.Error()}
			}
			if renewErr != nil {
				return &exitError{code: exitFindings, msg: "renew: " + renewErr.Error()}
			}
			if failed > 0 {
				return &exitError{code: exitFindings, msg: fmt.Sprintf("%d source(s) failed", failed)}
			}
			return nil
		},
	}
}
