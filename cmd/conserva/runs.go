package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/conserva/conserva/accesslog"
	"github.com/conserva/conserva/archive"
	"github.com/conserva/conserva/runs"
	"github.com/urfave/cli/v3"
)

// startRun begins the summary of a run (ingest, seal, audit, renew, run,
// export, reverify, each step of a scarto)
// that recordRun keeps in the catalog's run history when it ends.
func startRun(command string) *runs.Run {
	r := runs.New(command, os.Args[1:])
	return &r
}

// recordRun ends the summary with the command's error and keeps it. A
// history that cannot be written is a warning: the run itself is done.
func recordRun(a *archive.Archive, r *runs.Run, err error) {
	outcome := runs.OK
	var ee *exitError
	switch {
	case errors.As(err, &ee) && ee.code == exitFindings:
		outcome = runs.Findings
		if ee.msg == "" {
			err = nil // the findings are counted in the summary
		}
	case err != nil:
		outcome = runs.Failed
	}
	if ee != nil && ee.msg != "" {
		err = errors.New(ee.msg)
	}
	r.Finish(outcome, err)
	if rerr := a.Catalog.RecordRun(*r); rerr != nil {
		a.Log.Warn("the run history could not be written", "err", rerr)
	}
}

func ingestCounts(r *runs.Run, s archive.IngestSummary) {
	r.Count("seen", int64(s.Seen))
	r.Count("archived", int64(s.Archived))
	r.Count("duplicates", int64(s.Duplicates))
	r.Count("flagged", int64(s.Flagged))
	r.Count("errors", int64(s.Errors))
}

func sealCounts(r *runs.Run, pkgs []archive.PackageRecord) {
	var msgs, bytes, logs int64
	for _, p := range pkgs {
		msgs, bytes = msgs+int64(p.Messages), bytes+p.Bytes
		if seg, err := accesslog.ParseSegmentName(p.AccessLog); err == nil {
			logs += seg.Last - seg.First + 1
		}
	}
	r.Count("packages", int64(len(pkgs)))
	r.Count("messages sealed", msgs)
	r.Count("bytes sealed", bytes)
	r.Count("access log records sealed", logs)
}

func renewCounts(r *runs.Run, s archive.RenewSummary) {
	r.Count("packages renewed", int64(len(s.Packages)))
	r.Count("records renewed", int64(s.Records))
	for _, sk := range s.Skipped {
		r.Error("not renewed: " + sk)
	}
}

// runsCommand lists the run history, newest first.
func runsCommand() *cli.Command {
	return &cli.Command{
		Name:  "runs",
		Usage: "the last runs of ingest, seal, audit, renew, run, export, reverify and scarto, with their summaries (newest first)",
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "limit", Value: 20, Usage: "how many runs (the catalog keeps the last 1000)"},
			jsonFlag(),
		},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			if cmd.Int("limit") <= 0 {
				return usageErrorf("runs: --limit must be positive")
			}
			a, err := openArchive(cmd)
			if err != nil {
				return err
			}
			defer a.Close()
			list, err := a.Catalog.Runs(int(cmd.Int("limit")))
			if err != nil {
				return usageErrorf("runs: %v", err)
			}
			out := cmd.Root().Writer
			enc := json.NewEncoder(out)
			for _, r := range list {
				if cmd.Bool("json") {
					if err := enc.Encode(r); err != nil {
						return err
					}
					continue
				}
				var counts []string
				for _, c := range r.CountList() {
					counts = append(counts, fmt.Sprintf("%s %d", c.Name, c.N))
				}
				fmt.Fprintf(out, "%s %-6s %-8s %8s %s: %s\n", r.Started.Format("2006-01-02T15:04:05Z"), r.Command, r.Outcome, r.Duration().Round(time.Millisecond), r.User, strings.Join(counts, ", "))
				for _, e := range r.Errors {
					fmt.Fprintf(out, "    %s\n", e)
				}
			}
			if len(list) == 0 && !cmd.Bool("json") {
				fmt.Fprintln(out, "no run recorded yet")
			}
			return nil
		},
	}
}

// accessLogRange says which access log records a package seals ("" when
// none), after prefix.
func accessLogRange(p archive.PackageRecord, prefix string) string {
	seg, err := accesslog.ParseSegmentName(p.AccessLog)
	if err != nil {
		return ""
	}
	return fmt.Sprintf("%s%d to %d", prefix, seg.First, seg.Last)
}
