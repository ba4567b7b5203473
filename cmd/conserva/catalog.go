package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"

	"github.com/conserva/conserva/archive"

	"github.com/urfave/cli/v3"
)

func catalogCommand() *cli.Command {
	return &cli.Command{
		Name:  "catalog",
		Usage: "maintain the catalog (a cache of the store)",
		Commands: []*cli.Command{{
			Name:  "rebuild",
			Usage: "rebuild catalog.db from the store alone: every message re-read, re-parsed and re-verified",
			Description: "Package membership is read from the package indexes. The old catalog, if any, is kept\n" +
				"as catalog.db.old-<time>; where messages came from is carried over from it.",
			Flags: []cli.Flag{
				signerRootsFlag(), tsaRootsFlag(),
				&cli.StringFlag{Name: "trust", Usage: "trust anchors (default: the archive's conserva.toml)", Sources: cli.EnvVars("CONSERVA_TRUST")},
				jsonFlag(),
			},
			Action: runRebuild,
		}, {
			Name:  "check",
			Usage: "reconcile the catalog with the store and the signed package indexes",
			Description: "Lists the store and every package index and names every object not catalogued, every catalogued\n" +
				"message missing from the store, every message in no package or in two, every sealed package the\n" +
				"catalog lacks, and every record whose fields differ from re-parsing and re-verifying its bytes.\n" +
				"Exit status: 0 when they agree, 1 when anything differs (each named), 2 on usage errors.",
			Flags: []cli.Flag{
				&cli.IntFlag{Name: "sample", Usage: "re-verify N records chosen at random instead of all"},
				trustFlag(),
				jsonFlag(),
			},
			Action: runCheck,
		}},
	}
}

func runCheck(ctx context.Context, cmd *cli.Command) error {
	if cmd.Int("sample") < 0 {
		return usageErrorf("catalog check: --sample must be positive")
	}
	a, err := openArchive(cmd)
	if err != nil {
		return err
	}
	defer a.Close()
	trust, _, err := a.ProviderTrust(ctx, cmd.String("trust"))
	if err != nil {
		return usageErrorf("%v", err)
	}
	rep, err := a.CheckCatalog(ctx, archive.CheckOptions{Sample: int(cmd.Int("sample")), Trust: trust})
	if err != nil {
		return &exitError{code: exitFindings, msg: err.Error()}
	}
	out := cmd.Root().Writer
	if cmd.Bool("json") {
		if err := json.NewEncoder(out).Encode(rep); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(out, "catalog check (%s): store %d messages, catalog %d, %d package folders, %d re-verified, %d problems\n",
			rep.Scope, rep.Stored, rep.Catalogued, rep.Packages, rep.Reverified, len(rep.Problems)+rep.Omitted)
		for _, n := range rep.Notes {
			fmt.Fprintf(out, "note: %s\n", n)
		}
		for _, p := range rep.Problems {
			fmt.Fprintf(out, "PROBLEM %s: %s\n", p.Key, p.Problem)
		}
	}
	if len(rep.Problems) > 0 {
		return findings()
	}
	return nil
}

func runRebuild(ctx context.Context, cmd *cli.Command) error {
	// A damaged catalog is what rebuild is for: open the archive without it.
	log := slog.New(slog.NewTextHandler(cmd.Root().ErrWriter, &slog.HandlerOptions{Level: slog.LevelWarn}))
	a, err := archive.OpenForRebuild(archiveDir(cmd), log)
	if err != nil {
		return usageErrorf("%v", err)
	}
	defer a.Close()
	trust, _, err := a.ProviderTrust(ctx, cmd.String("trust"))
	if err != nil {
		return usageErrorf("%v", err)
	}
	prog, finish := progressFunc(cmd, -1, "rebuilding")
	sum, err := a.Rebuild(ctx, trust, prog)
	finish()
	out := cmd.Root().Writer
	if cmd.Bool("json") {
		if jerr := json.NewEncoder(out).Encode(sum); jerr != nil {
			return jerr
		}
	} else {
		fmt.Fprintf(out, "catalog rebuilt from the store: %d messages (%d flagged), %d packages, %d incomplete, %d damaged, %d missing, %d broken packages, %d errors\n",
			sum.Messages, sum.Flagged, sum.Packages, sum.Incomplete, sum.Damaged, sum.Missing, sum.BrokenPackages, sum.Errors)
		if sum.Previous != "" {
			fmt.Fprintf(out, "previous catalog kept as %s\n", sum.Previous)
		}
		for _, w := range sum.Warnings {
			fmt.Fprintf(out, "warning: %s\n", w)
		}
		for _, f := range sum.Failures {
			fmt.Fprintf(out, "error %s: %s\n", f.Source, f.Error)
		}
	}
	if err != nil {
		return &exitError{code: exitFindings, msg: err.Error()}
	}
	if sum.Errors > 0 {
		return &exitError{code: exitFindings, msg: fmt.Sprintf("%d problem(s): damaged or missing objects and broken packages stay in the catalog, marked (see conserva audit)", sum.Errors)}
	}
	return nil
}
