package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/conserva/conserva/archive"
	"github.com/urfave/cli/v3"
)

func showCommand() *cli.Command {
	return &cli.Command{
		Name:      "show",
		Usage:     "show the dossier of a message: envelopes, receipts, each recipient's status",
		ArgsUsage: "ID-OR-MESSAGE-ID (an id, the short id search and ingest print, or any Message-ID)",
		Flags:     []cli.Flag{jsonFlag()},
		Action:    runShow,
	}
}

// dossierError turns FindDossier's errors into what the user sees: nothing
// found is a finding (exit 1), an ambiguous short id a usage error listing
// the candidates (exit 2).
func dossierError(err error) error {
	var amb *archive.AmbiguousError
	switch {
	case errors.As(err, &amb):
		return usageErrorf("%v", err)
	case errors.Is(err, archive.ErrNoDossier):
		return &exitError{code: exitFindings, msg: err.Error()}
	}
	return &exitError{code: exitFindings, msg: err.Error()}
}

func runShow(ctx context.Context, cmd *cli.Command) error {
	if cmd.Args().Len() != 1 {
		return usageErrorf("show: give one ID or Message-ID (see conserva show --help)")
	}
	a, err := openArchive(cmd)
	if err != nil {
		return err
	}
	defer a.Close()
	d, err := a.FindDossier(cmd.Args().First())
	if err != nil {
		return dossierError(err)
	}
	out := cmd.Root().Writer
	if cmd.Bool("json") {
		enc := json.NewEncoder(out)
		enc.SetEscapeHTML(false)
		return enc.Encode(d)
	}
	fmt.Fprintf(out, "dossier <%s>\n", d.MessageID)
	if d.LegalHold {
		fmt.Fprintln(out, "LEGAL HOLD set (conserva hold clear to lift it)")
	}
	when := func(t *time.Time) string {
		if t == nil {
			return "-"
		}
		return t.Local().Format("2006-01-02 15:04:05")
	}
	// A tab writer keeps the columns aligned whatever the length of a
	// recipient list or a subject.
	tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
	for _, ev := range d.Timeline() {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s", when(ev.Date), ev.Kind, clip(ev.About, 60), ev.Signature, archive.ShortID(ev.ID))
		if ev.Reason != "" {
			fmt.Fprintf(tw, "\t%s", ev.Reason)
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
	fmt.Fprintln(out, "recipients:")
	for _, r := range d.Recipients {
		fmt.Fprintf(tw, "  %s\t%s\n", r.Address, r.Status)
	}
	tw.Flush()
	for _, w := range d.Warnings {
		fmt.Fprintf(out, "warning: %s\n", w)
	}
	return nil
}
