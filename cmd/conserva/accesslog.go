package main

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"

	"github.com/conserva/conserva/accesslog"
	"github.com/urfave/cli/v3"
)

// accesslogCommand shows and checks the web interface's access log. It
// reads the file only: no catalog, so it runs beside anything.
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
				Usage: "check the hash chain of the access log (exit 1 when broken)",
				Flags: []cli.Flag{jsonFlag()},
				Action: func(ctx context.Context, cmd *cli.Command) error {
					p, err := path(cmd)
					if err != nil {
						return err
					}
					rep, err := accesslog.Verify(p)
					if err != nil {
						return usageErrorf("accesslog verify: %v", err)
					}
					w := cmd.Root().Writer
					if cmd.Bool("json") {
						json.NewEncoder(w).Encode(rep)
					} else {
						for _, pr := range rep.Problems {
							fmt.Fprintf(w, "line %d: %s\n", pr.Line, pr.Problem)
						}
						if rep.OK() {
							fmt.Fprintf(w, "access log whole: %s, head %s\n", plural(rep.Records, "record"), rep.Head)
						} else {
							fmt.Fprintf(w, "access log BROKEN: %s in %s\n", plural(len(rep.Problems), "problem"), plural(rep.Records, "record"))
						}
					}
					if !rep.OK() {
						return findings()
					}
					return nil
				},
			},
		},
	}
}
