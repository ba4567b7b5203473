package main

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/urfave/cli/v3"
)

func auditCommand() *cli.Command {
	return &cli.Command{
		Name:  "audit",
		Usage: "read back every stored object and check hashes, signatures, timestamps and retention",
		Description: "Exit status: 0 when everything is intact, 1 when there is any problem (each named), 2 on usage errors.\n" +
			"Every run is recorded in the catalog.",
		Flags: []cli.Flag{
			signerRootsFlag(), tsaRootsFlag(),
			&cli.IntFlag{Name: "sample", Usage: "read back and re-verify N messages chosen at random instead of all (the store, catalog and indexes are always compared in full)"},
			trustFlag(),
			jsonFlag(),
		},
		Action: func(ctx context.Context, cmd *cli.Command) (err error) {
			if cmd.Int("sample") < 0 {
				return usageErrorf("audit: --sample must be positive")
			}
			a, err := openArchive(cmd)
			if err != nil {
				return err
			}
			defer a.Close()
			run := startRun("audit")
			defer func() { recordRun(a, run, err) }()
			n, _ := a.Catalog.Count()
			prog, finish := progressFunc(cmd, n, "auditing")
			trust, _, err := a.ProviderTrust(ctx, cmd.String("trust"))
			if err != nil {
				return usageErrorf("%v", err)
			}
			rep, err := a.Audit(ctx, int(cmd.Int("sample")), trust, prog)
			finish()
			run.Count("objects", int64(rep.Objects))
			run.Count("ok", int64(rep.OK))
			run.Count("packages", int64(rep.Packages))
			run.Count("unsealed", int64(rep.Unsealed))
			run.Count("problems", int64(len(rep.Problems)+rep.Omitted))
			for _, p := range rep.Problems {
				run.Error(p.Key + ": " + p.Problem)
			}
			if err != nil {
				return &exitError{code: exitFindings, msg: err.Error()}
			}
			out := cmd.Root().Writer
			if cmd.Bool("json") {
				if err := json.NewEncoder(out).Encode(rep); err != nil {
					return err
				}
			} else {
				fmt.Fprintf(out, "audit (%s): %d objects read back, %d ok, %d re-verified, %d packages checked, %d messages not yet sealed; store %d messages, catalog %d; %d problems\n",
					rep.Scope, rep.Objects, rep.OK, rep.Reverified, rep.Packages, rep.Unsealed, rep.Stored, rep.Catalogued, len(rep.Problems)+rep.Omitted)
				if rep.ERS != nil {
					fmt.Fprintf(out, "evidence records: %d checked, %d valid; %d packages due for renewal, %d without records\n", rep.ERS.Checked, rep.ERS.Valid, len(rep.ERS.Due), len(rep.ERS.Without))
				}
				if l := rep.AccessLog; l != nil {
					fmt.Fprintf(out, "access log: %s, %s sealed in %s, %s not sealed yet\n", plural(l.Chain.Records, "record"), plural(int(l.Sealed.Line), "record"), plural(l.Segments, "segment"), plural(int(l.Unsealed), "record"))
				}
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
		},
	}
}

func trustFlag() cli.Flag {
	return &cli.StringFlag{Name: "trust", Usage: "trust anchors to re-verify signatures with (default: the archive's conserva.toml)", Sources: cli.EnvVars("CONSERVA_TRUST")}
}
