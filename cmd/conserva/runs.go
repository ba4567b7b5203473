package main

import (
	"errors"
	"os"

	"github.com/conserva/conserva/accesslog"
	"github.com/conserva/conserva/archive"
	"github.com/conserva/conserva/runs"
)

// startRun begins the summary of a run (ingest, seal, audit, renew, run)
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
