package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"time"

	"github.com/conserva/conserva/archive"
	"github.com/conserva/conserva/internal/devpki"
	"github.com/conserva/conserva/timestamp"
	"github.com/urfave/cli/v3"
)

func sealCommand() *cli.Command {
	return &cli.Command{
		Name:  "seal",
		Usage: "put every message not yet sealed into signed, timestamped packages",
		Description: "Writes packages/<id>/ in the store: index.xml (UNI 11386 SInCRO), meta/<sha256>.xml,\n" +
			"index.xml.p7s (CAdES-BES), index.xml.p7s.tsr (RFC 3161), signer-chain.pem, tsa-chain.pem.\n" +
			"Without a signer or TSA configured, development keys are used: no legal value, and the output says so.",
		Flags: []cli.Flag{
			signerRootsFlag(), tsaRootsFlag(),
			&cli.StringFlag{Name: "tsa-url", Usage: "RFC 3161 TSA (default: [seal] tsa_url, else the development TSA)"},
			&cli.StringFlag{Name: "revocation", Usage: "a CRL or OCSP answer that cannot be fetched: require (refuse, default: [seal] revocation) or best-effort"},
			&cli.StringFlag{Name: "signer", Usage: "PKCS#12 signer, password in CONSERVA_SIGNER_PASSWORD (default: [seal] signer, else a development key)"},
			jsonFlag(),
		},
		Action: runSeal,
	}
}

func runSeal(ctx context.Context, cmd *cli.Command) (err error) {
	if cmd.Args().Len() > 0 {
		return usageErrorf("seal: unexpected argument %q", cmd.Args().First())
	}
	a, err := openArchive(cmd)
	if err != nil {
		return err
	}
	defer a.Close()
	run := startRun("seal")
	defer func() { recordRun(a, run, err) }()
	a.Version = version()
	done, finish := progressFunc(cmd, -1, "sealing")
	pkgs, warnings, err := a.Seal(ctx, archive.SealOptions{TSAURL: cmd.String("tsa-url"), Signer: cmd.String("signer"), Roots: rootsOptions(cmd), Revocation: cmd.String("revocation"), Progress: done})
	finish()
	sealCounts(run, pkgs)
	out := cmd.Root().Writer
	if cmd.Bool("json") {
		enc := json.NewEncoder(out)
		if len(pkgs) == 0 && err == nil {
			return enc.Encode(map[string]int{"messages": 0})
		}
		for _, p := range pkgs {
			row := map[string]any{"package": p.ID, "messages": p.Messages, "bytes": p.Bytes, "timestamp": p.Timestamp.Format(time.RFC3339),
				"signer": p.Signer, "tsa": p.TSA, "signer_root_sha256": p.SignerRoot, "tsa_root_sha256": p.TSARoot}
			if p.Development {
				row["warning"] = devpki.Warning
			}
			if p.AccessLog != "" {
				row["access_log"] = p.AccessLog
			}
			if jerr := enc.Encode(row); jerr != nil {
				return jerr
			}
		}
	} else {
		if len(pkgs) == 0 && err == nil {
			fmt.Fprintln(out, "nothing to seal")
		}
		for _, p := range pkgs {
			fmt.Fprintf(out, "sealed package %s: %s, %d bytes, timestamp %s\n", p.ID, plural(p.Messages, "message"), p.Bytes, p.Timestamp.Format(time.RFC3339))
			fmt.Fprintf(out, "  signed by %q (root SHA-256 %s), timestamped by %q (root SHA-256 %s)\n", p.Signer, p.SignerRoot, p.TSA, p.TSARoot)
			fmt.Fprintf(out, "  %s\n", filepath.Join(a.Dir, "store", "packages", p.ID))
			if p.AccessLog != "" {
				fmt.Fprintf(out, "  %s sealed\n", accessLogRange(p, "access log records "))
			}
		}
		if len(pkgs) > 0 {
			for _, w := range warnings {
				fmt.Fprintf(out, "WARNING: %s\n", w)
			}
		}
	}
	if err != nil {
		return &exitError{code: exitFindings, msg: err.Error()}
	}
	return nil
}

func tsaCommand() *cli.Command {
	return &cli.Command{
		Name:  "tsa",
		Usage: "the development timestamp authority",
		Commands: []*cli.Command{{
			Name:  "serve",
			Usage: "serve the development TSA over HTTP (RFC 3161; no legal value)",
			Flags: []cli.Flag{&cli.StringFlag{Name: "addr", Value: "127.0.0.1:3161", Usage: "listen address"}},
			Action: func(ctx context.Context, cmd *cli.Command) error {
				keys, err := devpki.LoadOrCreate(filepath.Join(archiveDir(cmd), "keys"))
				if err != nil {
					return usageErrorf("%v", err)
				}
				dev := &timestamp.Dev{Cert: keys.TSA.Cert, Key: keys.TSA.Key, Chain: keys.TSA.Chain}
				ln, err := net.Listen("tcp", cmd.String("addr"))
				if err != nil {
					return usageErrorf("tsa serve: %v", err)
				}
				fmt.Fprintf(cmd.Root().Writer, "development TSA (%s) on http://%s/\n", devpki.Warning, ln.Addr())
				// The CA's CRL beside the TSA (the CRL distribution point of
				// the certificates it issued): validation/.
				mux := http.NewServeMux()
				mux.Handle("/", dev.Handler())
				mux.HandleFunc("GET /crl", func(w http.ResponseWriter, _ *http.Request) {
					der, err := keys.CRL(time.Now())
					if err != nil {
						http.Error(w, err.Error(), http.StatusNotFound)
						return
					}
					w.Header().Set("Content-Type", "application/pkix-crl")
					_, _ = w.Write(der)
				})
				srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
				go func() { <-ctx.Done(); srv.Close() }()
				if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
					return err
				}
				return nil
			},
		}},
	}
}
