package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"

	"github.com/conserva/conserva/archive"
	"github.com/conserva/conserva/ingest"
	"github.com/urfave/cli/v3"
)

func ingestCommand() *cli.Command {
	return &cli.Command{
		Name:      "ingest",
		Usage:     "archive messages from files, directories, mbox files, Maildirs and IMAP mailboxes",
		ArgsUsage: "SOURCE... (a path, or imap[s]://USER@HOST[:PORT]/MAILBOX)",
		Description: "Stores every message byte for byte (its SHA-256 is its id), verifies it and catalogues it.\n" +
			"Messages that are not valid are archived and flagged with the reason, never dropped.\n" +
			"Exit status: 0 when the run completed, 1 when a message could not be read or stored, 2 on usage errors.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "trust", Usage: "trust anchors (PEM bundle or IGPEC LDIF); default: the archive's conserva.toml", Sources: cli.EnvVars("CONSERVA_TRUST")},
			jsonFlag(),
		},
		Action: runIngest,
	}
}

func runIngest(ctx context.Context, cmd *cli.Command) error {
	specs := cmd.Args().Slice()
	if len(specs) == 0 {
		return usageErrorf("ingest: no SOURCE given (see conserva ingest --help)")
	}
	a, err := openArchive(cmd)
	if err != nil {
		return err
	}
	defer a.Close()
	var sources []ingest.Source
	// A path that is missing or unreadable is a source that could not be
	// read (exit 1, named), not a usage error: the other sources are still
	// ingested, as a nightly job needs.
	var missing []archive.Failure
	for _, s := range specs {
		src, err := openSource(a, s)
		if err != nil && (errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission)) {
			missing = append(missing, archive.Failure{Source: s, Error: err.Error()})
			continue
		}
		if err != nil {
			return usageErrorf("ingest: %v", err)
		}
		sources = append(sources, src)
	}
	trust, err := a.Trust(cmd.String("trust"))
	if err != nil {
		return usageErrorf("%v", err)
	}
	opts := archive.IngestOptions{Trust: trust}
	bar := progress(cmd, -1, "ingesting")
	if bar != nil {
		opts.Progress = func(done int) { _ = bar.Set(done) }
	}
	sum, err := a.Ingest(ctx, sources, opts)
	if bar != nil {
		_ = bar.Finish() // clears the line before the summary
	}
	sum.Errors += len(missing)
	sum.Failures = append(missing, sum.Failures...)
	out := cmd.Root().Writer
	if cmd.Bool("json") {
		enc := json.NewEncoder(out)
		enc.SetEscapeHTML(false)
		if jerr := enc.Encode(sum); jerr != nil {
			return jerr
		}
	} else {
		printIngest(cmd, a, sum, trust == nil)
	}
	if err != nil {
		return &exitError{code: exitFindings, msg: err.Error()}
	}
	if sum.Errors > 0 {
		return &exitError{code: exitFindings, msg: fmt.Sprintf("%d source(s) or message(s) could not be read or stored", sum.Errors)}
	}
	return nil
}

func printIngest(cmd *cli.Command, a *archive.Archive, s archive.IngestSummary, noTrust bool) {
	w := cmd.Root().Writer
	fmt.Fprintf(w, "archive %s\n", a.Dir)
	fmt.Fprintf(w, "%d seen, %d archived, %d duplicates, %d flagged, %d errors\n", s.Seen, s.Archived, s.Duplicates, s.Flagged, s.Errors)
	if noTrust && s.Archived > 0 {
		fmt.Fprintln(w, "note: no trust anchors configured (--trust or trust in conserva.toml): no signature can be valid")
	}
	for _, f := range s.FlaggedIDs {
		fmt.Fprintf(w, "flagged %s %s (%s): %s\n", archive.ShortID(f.ID), f.Source, f.Kind, f.Reason)
	}
	for _, f := range s.Failures {
		fmt.Fprintf(w, "error %s: %s\n", f.Source, f.Error)
	}
}
