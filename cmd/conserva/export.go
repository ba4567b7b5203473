package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v3"
)

func exportCommand() *cli.Command {
	return &cli.Command{
		Name:      "export",
		Usage:     "write the evidence pack of one message's dossier (zip) for court",
		ArgsUsage: "ID-OR-MESSAGE-ID (an id, the short id search and ingest print, or any Message-ID)",
		Description: "The zip holds the dossier's messages byte for byte, the packages that seal them (index, signature,\n" +
			"timestamp, chains, and the metadata of these messages only), report.html, report.json, SHA256SUMS and\n" +
			"VERIFY.txt (sha256sum and openssl commands, runnable as they are: sh VERIFY.txt).",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "out", Usage: "zip file to write", Required: true},
			&cli.BoolFlag{Name: "force", Usage: "replace the --out file when it exists"},
			&cli.StringFlag{Name: "trust", Usage: "trust anchors for the providers' signatures (default: conserva.toml)", Sources: cli.EnvVars("CONSERVA_TRUST")},
			jsonFlag(),
		},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			if cmd.Args().Len() != 1 {
				return usageErrorf("export: give one ID or Message-ID")
			}
			a, err := openArchive(cmd)
			if err != nil {
				return err
			}
			defer a.Close()
			trust, err := a.Trust(cmd.String("trust"))
			if err != nil {
				return usageErrorf("%v", err)
			}
			out := cmd.String("out")
			if _, err := os.Lstat(out); err == nil && !cmd.Bool("force") {
				return usageErrorf("export: %s exists (--force replaces it)", out)
			}
			tmp, err := os.CreateTemp(filepath.Dir(out), ".export-*.zip")
			if err != nil {
				return usageErrorf("export: %v", err)
			}
			defer os.Remove(tmp.Name())
			rep, err := a.Export(ctx, cmd.Args().First(), tmp, trust)
			if cerr := tmp.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return dossierError(err)
			}
			if err := os.Rename(tmp.Name(), out); err != nil {
				return err
			}
			if cmd.Bool("json") {
				return json.NewEncoder(cmd.Root().Writer).Encode(map[string]any{"file": out, "messages": len(rep.Messages), "packages": len(rep.Packages), "all_ok": rep.AllOK})
			}
			fmt.Fprintf(cmd.Root().Writer, "evidence pack %s: %s, %s; verification at export: %s\n",
				out, plural(len(rep.Messages), "message"), plural(len(rep.Packages), "package"), map[bool]string{true: "all OK", false: "PROBLEMS (see report.html)"}[rep.AllOK])
			if !rep.AllOK {
				return findings()
			}
			return nil
		},
	}
}

// plural says "1 package", "2 packages".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
