package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/conserva/conserva/archive"
	"github.com/conserva/conserva/pec"
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
			signerRootsFlag(), tsaRootsFlag(),
			&cli.StringFlag{Name: "out", Usage: "zip file to write", Required: true},
			&cli.StringFlag{Name: "signer", Usage: "PKCS#12 of the conservator that signs the pack's manifest, password in CONSERVA_SIGNER_PASSWORD (default: [seal] signer, else the development key)"},
			&cli.BoolFlag{Name: "force", Usage: "replace the --out file when it exists"},
			&cli.StringFlag{Name: "trust", Usage: "trust anchors for the providers' signatures (default: conserva.toml)", Sources: cli.EnvVars("CONSERVA_TRUST")},
			jsonFlag(),
		},
		Action: func(ctx context.Context, cmd *cli.Command) (err error) {
			if cmd.Args().Len() != 1 {
				return usageErrorf("export: give one ID or Message-ID")
			}
			a, err := openArchive(cmd)
			if err != nil {
				return err
			}
			defer a.Close()
			// Who took the evidence out, and when, is kept as the web's
			// downloads are in the access log.
			run := startRun("export")
			defer func() { recordRun(a, run, err) }()
			trust, tfiles, err := a.ProviderTrust(ctx, cmd.String("trust"))
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
			rep, err := a.Export(ctx, cmd.Args().First(), tmp, archive.ExportOptions{Trust: trust, TrustFiles: tfiles, Signer: cmd.String("signer")})
			if cerr := tmp.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return dossierError(err)
			}
			if err := os.Rename(tmp.Name(), out); err != nil {
				return err
			}
			run.Count("messages", int64(len(rep.Messages)))
			run.Count("packages", int64(len(rep.Packages)))
			if !rep.PackIntact {
				run.Error("the pack is not intact: see its report.html")
			}
			if cmd.Bool("json") {
				err := json.NewEncoder(cmd.Root().Writer).Encode(map[string]any{"file": out, "messages": len(rep.Messages), "packages": len(rep.Packages),
					"pack_intact": rep.PackIntact, "provider_verdicts": rep.Verdicts, "all_ok": rep.AllOK, "roots": rep.Roots})
				if err == nil && !rep.PackIntact {
					return findings()
				}
				return err
			}
			w := cmd.Root().Writer
			intact := "intact (every hash, package signature and timestamp holds against the pinned roots)"
			if !rep.PackIntact {
				intact = "NOT INTACT: see report.html"
			}
			fmt.Fprintf(w, "evidence pack %s: %s, %s\n  the pack: %s\n  providers' signatures:", out, plural(len(rep.Messages), "message"), plural(len(rep.Packages), "package"), intact)
			for _, v := range []pec.Verdict{pec.Valid, pec.Untrusted, pec.Invalid, pec.Absent} {
				if n := rep.Verdicts[v]; n > 0 {
					fmt.Fprintf(w, " %d %s", n, v)
				}
			}
			fmt.Fprintln(w)
			for _, r := range rep.Roots {
				fmt.Fprintf(w, "  %s root %s SHA-256 %s\n", r.Role, r.Subject, r.SHA256)
			}
			if !rep.PackIntact {
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
