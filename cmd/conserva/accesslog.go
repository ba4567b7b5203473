package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/conserva/conserva/archive"

	"github.com/conserva/conserva/accesslog"
	"github.com/urfave/cli/v3"
)

// accesslogCommand shows and checks the web interface's access log. show
// reads the file only; verify also opens the catalog read-only (for the
// packages that seal the log), so it runs beside serve and waits for a
// writer such as a seal.
func accesslogCommand() *cli.Command {
	path := func(cmd *cli.Command) (string, error) {
		dir := archiveDir(cmd)
		if dir == "" {
			return "", usageErrorf("no archive: set CONSERVA_ARCHIVE or --archive DIR")
		}
		return filepath.Join(dir, accesslog.FileName), nil
	}
	return &cli.Command{
		Name:  "accesslog",
		Usage: "the access log of the web interface (who saw, searched, downloaded, held what)",
		Commands: []*cli.Command{
			{
				Name:  "show",
				Usage: "list the access log",
				Flags: []cli.Flag{jsonFlag()},
				Action: func(ctx context.Context, cmd *cli.Command) error {
					p, err := path(cmd)
					if err != nil {
						return err
					}
					w := cmd.Root().Writer
					enc := json.NewEncoder(w)
					return accesslog.Read(p, func(r accesslog.Record) error {
						if cmd.Bool("json") {
							return enc.Encode(r)
						}
						_, err := fmt.Fprintf(w, "%6d %s %-10s %-8s %-12s %-9s %s %q\n", r.Seq, r.Time.Format("2006-01-02T15:04:05Z"), r.User, r.Role, r.Action, r.Result, r.Addr, r.Target)
						return err
					})
				},
			},
			{
				Name:  "verify",
				Usage: "check the hash chain of the access log and that every sealed segment equals the live log (exit 1 when not)",
				Flags: []cli.Flag{signerRootsFlag(), tsaRootsFlag(), jsonFlag()},
				Action: func(ctx context.Context, cmd *cli.Command) error {
					p, err := path(cmd)
					if err != nil {
						return err
					}
					c, err := checkAccessLog(ctx, cmd, p)
					if err != nil {
						return usageErrorf("accesslog verify: %v", err)
					}
					w := cmd.Root().Writer
					if cmd.Bool("json") {
						json.NewEncoder(w).Encode(map[string]any{"records": c.Chain.Records, "head": c.Chain.Head, "segments": c.Segments,
							"sealed": c.Sealed, "unsealed": c.Unsealed, "problems": c.Problems})
					} else {
						for _, pr := range c.Problems {
							fmt.Fprintf(w, "record %d: %s\n", pr.Line, pr.Problem)
						}
						if c.OK() {
							fmt.Fprintf(w, "access log whole: %s, head %s; %s sealed in %s, %s not sealed yet\n",
								plural(c.Chain.Records, "record"), c.Chain.Head, plural(int(c.Sealed.Line), "record"), plural(c.Segments, "segment"), plural(int(c.Unsealed), "record"))
						} else {
							fmt.Fprintf(w, "access log BROKEN: %s in %s (%s sealed in %s)\n", plural(len(c.Problems), "problem"), plural(c.Chain.Records, "record"),
								plural(int(c.Sealed.Line), "record"), plural(c.Segments, "segment"))
						}
					}
					if !c.OK() {
						return findings()
					}
					return nil
				},
			},
		},
	}
}

// checkAccessLog checks the chain and, when the archive has a catalog,
// the sealed segments and their packages (read-only: it runs beside
// serve and waits only for a writer's moment).
func checkAccessLog(ctx context.Context, cmd *cli.Command, logPath string) (archive.AccessLogCheck, error) {
	dir := filepath.Dir(logPath)
	if _, err := os.Stat(filepath.Join(dir, "catalog.db")); errors.Is(err, os.ErrNotExist) {
		rep, err := accesslog.Verify(logPath)
		return archive.AccessLogCheck{Chain: rep, Problems: rep.Problems}, err
	}
	log := slog.New(slog.NewTextHandler(cmd.Root().ErrWriter, &slog.HandlerOptions{Level: slog.LevelWarn, ReplaceAttr: redactAttr}))
	sh, err := archive.OpenShared(dir, log)
	if err != nil {
		return archive.AccessLogCheck{}, err
	}
	sh.RootsOverride = rootsOptions(cmd)
	var c archive.AccessLogCheck
	err = sh.View(ctx, func(a *archive.Archive) error {
		c, err = a.CheckAccessLog(ctx, true)
		return err
	})
	return c, err
}
