package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"runtime/debug"

	"github.com/conserva/conserva/archive"
	"github.com/conserva/conserva/ingest"
	"github.com/conserva/conserva/internal/redact"
	"github.com/urfave/cli/v3"
)

func ingestCommand() *cli.Command {
	return &cli.Command{
		Name:      "ingest",
		Usage:     "archive messages from files, directories, mbox files, Maildirs and IMAP mailboxes",
		ArgsUsage: "SOURCE... (a path, or imap[s]://USER@HOST[:PORT]/MAILBOX)",
		Description: "Stores every message byte for byte (its SHA-256 is its id), verifies it and catalogues it.\n" +
			"Messages that are not valid are archived and flagged with the reason, never dropped.\n" +
			"In a directory only files that look like messages are taken (a mail header block at the start, mbox,\n" +
			"Maildir); the others are listed as skipped with the reason (--all-files takes them). Symlinks are followed.\n" +
			"Exit status: 0 when the run completed, 1 when a source or a message could not be read or stored (the other\n" +
			"sources are still read), 2 on usage errors.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "trust", Usage: "trust anchors (PEM bundle or IGPEC LDIF); default: the archive's conserva.toml", Sources: cli.EnvVars("CONSERVA_TRUST")},
			&cli.BoolFlag{Name: "all-files", Usage: "in directories, take every file, not only those that look like messages"},
			&cli.BoolFlag{Name: "dry-run", Usage: "list what would be read and what skipped, and why; write nothing"},
			&cli.IntFlag{Name: "workers", Usage: "messages read, verified and stored at once (default: [ingest] workers of conserva.toml, else 4 x cores, 32 on S3)"},
			jsonFlag(),
		},
		Action: runIngest,
	}
}

func runIngest(ctx context.Context, cmd *cli.Command) (err error) {
	specs := cmd.Args().Slice()
	if len(specs) == 0 {
		return usageErrorf("ingest: no SOURCE given (see conserva ingest --help)")
	}
	skips := &skipList{}
	walkOpts := ingest.Options{AllFiles: cmd.Bool("all-files"), Skipped: skips.add}
	if cmd.Bool("dry-run") {
		return dryRun(ctx, cmd, specs, walkOpts, skips)
	}
	a, err := openArchive(cmd)
	if err != nil {
		return err
	}
	defer a.Close()
	run := startRun("ingest")
	defer func() { recordRun(a, run, err) }()
	var sources []ingest.Source
	// A path that is missing or unreadable is a source that could not be
	// read (exit 1, named), not a usage error: the other sources are still
	// ingested, as a nightly job needs.
	var missing []archive.Failure
	for _, s := range specs {
		src, err := openSource(a, s, walkOpts)
		if err != nil && (errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission)) {
			missing = append(missing, archive.Failure{Source: s, Error: err.Error()})
			continue
		}
		if err != nil {
			return usageErrorf("ingest: %v", err)
		}
		sources = append(sources, src)
	}
	trust, tfiles, err := a.ProviderTrust(ctx, cmd.String("trust"))
	if err != nil {
		return usageErrorf("%v", err)
	}
	if cmd.Int("workers") < 0 {
		return usageErrorf("ingest: --workers must not be negative")
	}
	opts := archive.IngestOptions{Trust: trust, TrustFiles: archive.TrustHashes(tfiles), Workers: int(cmd.Int("workers"))}
	bar := progress(cmd, -1, "ingesting")
	if bar != nil {
		opts.Progress = func(done int) { _ = bar.Set(done) }
	}
	tuneIngestGC()
	sum, err := a.Ingest(ctx, sources, opts)
	if bar != nil {
		_ = bar.Finish() // clears the line before the summary
	}
	sum.Errors += len(missing)
	sum.Failures = append(missing, sum.Failures...)
	for i := range sum.Failures { // a source named with its password is printed without it
		sum.Failures[i].Source, sum.Failures[i].Error = redact.Text(sum.Failures[i].Source), redact.Text(sum.Failures[i].Error)
		run.Error(sum.Failures[i].Source + ": " + sum.Failures[i].Error)
	}
	ingestCounts(run, sum)
	out := cmd.Root().Writer
	if cmd.Bool("json") {
		enc := json.NewEncoder(out)
		enc.SetEscapeHTML(false)
		res := struct {
			archive.IngestSummary
			Skipped []skipped `json:"skipped,omitempty"`
		}{sum, skips.all()}
		if jerr := enc.Encode(res); jerr != nil {
			return jerr
		}
	} else {
		printIngest(cmd, a, sum, trust == nil)
		printSkipped(out, skips.all())
	}
	if err != nil {
		return &exitError{code: exitFindings, msg: err.Error()}
	}
	if sum.Errors > 0 {
		return &exitError{code: exitFindings, msg: fmt.Sprintf("%d source(s) or message(s) could not be read or stored", sum.Errors)}
	}
	return nil
}

// tuneIngestGC: an ingest's heap is messages in flight, short-lived: fewer
// collections save a sixth of its CPU, and the limit bounds the heap of a
// long run (GOGC and GOMEMLIMIT, when set, win).
func tuneIngestGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(300)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(96 << 20)
	}
}

func printIngest(cmd *cli.Command, a *archive.Archive, s archive.IngestSummary, noTrust bool) {
	w := cmd.Root().Writer
	fmt.Fprintf(w, "archive %s\n", a.Dir)
	fmt.Fprintf(w, "%d seen, %d archived, %d duplicates, %d flagged, %d errors\n", s.Seen, s.Archived, s.Duplicates, s.Flagged, s.Errors)
	if s.Report != "" {
		fmt.Fprintf(w, "rapporto di versamento: %s (conserva reports show %s)\n", s.Report, s.Report)
	}
	if noTrust && s.Archived > 0 {
		fmt.Fprintln(w, "note: no trust anchors configured (--trust or trust in conserva.toml): no signature can be valid")
	}
	for _, f := range s.FlaggedIDs {
		fmt.Fprintf(w, "flagged %s %s (%s): %s\n", archive.ShortID(f.ID), f.Source, f.Kind, f.Reason)
	}
	if s.FlaggedOmitted > 0 {
		fmt.Fprintf(w, "… and %d more flagged (conserva search --flagged lists them all)\n", s.FlaggedOmitted)
	}
	for _, f := range s.Failures {
		fmt.Fprintf(w, "error %s: %s\n", f.Source, f.Error)
	}
	if s.FailuresOmitted > 0 && s.Report != "" {
		fmt.Fprintf(w, "… and %d more errors (the rapporto di versamento lists them all)\n", s.FailuresOmitted)
	} else if s.FailuresOmitted > 0 {
		fmt.Fprintf(w, "… and %d more errors, not listed\n", s.FailuresOmitted)
	}
}

func printSkipped(w io.Writer, list []skipped) {
	for _, s := range list {
		fmt.Fprintf(w, "skipped %s: %s\n", s.Source, s.Reason)
	}
	if len(list) > 0 {
		fmt.Fprintf(w, "%s skipped (not archived)\n", plural(len(list), "file"))
	}
}

// dryRun walks the sources as ingest would and lists what it would read
// and what it would skip, without opening (or creating) the archive.
func dryRun(ctx context.Context, cmd *cli.Command, specs []string, opts ingest.Options, skips *skipList) error {
	type found struct {
		Source string `json:"source"`
		Size   int64  `json:"size"`
		Error  string `json:"error,omitempty"`
	}
	var items []found
	errs := 0
	for _, spec := range specs {
		if isIMAP(spec) {
			return usageErrorf("ingest --dry-run: %s: only local paths can be listed (IMAP is read-only anyway)", redact.URL(spec))
		}
		src, err := ingest.OpenWith(spec, opts)
		if err != nil {
			items = append(items, found{Source: spec, Size: -1, Error: err.Error()})
			errs++
			continue
		}
		err = src.Walk(ctx, func(it ingest.Item) error {
			f := found{Source: it.Source, Size: it.Size}
			if it.Err != nil {
				f.Error = it.Err.Error()
				errs++
			}
			items = append(items, f)
			return nil
		})
		if err != nil {
			return &exitError{code: exitFindings, msg: fmt.Sprintf("%s: %v", spec, err)}
		}
	}
	out := cmd.Root().Writer
	if cmd.Bool("json") {
		enc := json.NewEncoder(out)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(map[string]any{"dry_run": true, "messages": items, "skipped": skips.all(), "errors": errs}); err != nil {
			return err
		}
	} else {
		fmt.Fprintln(out, "dry run: nothing is read into the archive")
		for _, f := range items {
			if f.Error != "" {
				fmt.Fprintf(out, "error %s: %s\n", f.Source, f.Error)
			} else {
				fmt.Fprintf(out, "would read %s (%d bytes)\n", f.Source, f.Size)
			}
		}
		printSkipped(out, skips.all())
		fmt.Fprintf(out, "%s would be read (duplicates of archived ones are not stored twice)\n", plural(len(items)-errs, "message"))
	}
	if errs > 0 {
		return &exitError{code: exitFindings, msg: fmt.Sprintf("%d source(s) or message(s) could not be read", errs)}
	}
	return nil
}
