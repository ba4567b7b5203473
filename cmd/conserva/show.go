package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/conserva/conserva/archive"
	"github.com/urfave/cli/v3"
)

func showCommand() *cli.Command {
	return &cli.Command{
		Name:      "show",
		Usage:     "show the dossier of a message: envelopes, receipts, each recipient's status",
		ArgsUsage: "ID-OR-MESSAGE-ID",
		Flags:     []cli.Flag{jsonFlag()},
		Action:    runShow,
	}
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
	if errors.Is(err, archive.ErrNoDossier) {
		return &exitError{code: exitFindings, msg: err.Error()}
	}
	if err != nil {
		return err
	}
	out := cmd.Root().Writer
	if cmd.Bool("json") {
		enc := json.NewEncoder(out)
		enc.SetEscapeHTML(false)
		return enc.Encode(d)
	}
	fmt.Fprintf(out, "dossier <%s>\n", d.MessageID)
	when := func(t *time.Time) string {
		if t == nil {
			return "                "
		}
		return t.Local().Format("2006-01-02 15:04:05")
	}
	for _, ev := range d.Timeline() {
		fmt.Fprintf(out, "  %s  %-30s %-40s %-9s %s\n", when(ev.Date), ev.Kind, ev.About, ev.Signature, archive.ShortID(ev.ID))
	}
	fmt.Fprintln(out, "recipients:")
	for _, r := range d.Recipients {
		fmt.Fprintf(out, "  %-40s %s\n", r.Address, r.Status)
	}
	for _, w := range d.Warnings {
		fmt.Fprintf(out, "warning: %s\n", w)
	}
	return nil
}
