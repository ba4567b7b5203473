package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/urfave/cli/v3"
)

func storeCommand() *cli.Command {
	return &cli.Command{
		Name:  "store",
		Usage: "manage where the evidence is stored",
		Commands: []*cli.Command{{
			Name:  "migrate",
			Usage: "copy a local archive to S3 with Object Lock, verify every hash, and switch to it",
			Description: "Every object is copied with retention and checked against its SHA-256; the messages' version ids\n" +
				"are recorded; conserva.toml then names the S3 store. The local store is kept. Rerunning resumes.",
			Flags: []cli.Flag{&cli.StringFlag{Name: "to", Required: true, Usage: "s3://BUCKET[/PREFIX]"}, jsonFlag()},
			Action: func(ctx context.Context, cmd *cli.Command) error {
				to := cmd.String("to")
				if !strings.HasPrefix(to, "s3://") {
					return usageErrorf("store migrate: --to must be s3://BUCKET[/PREFIX]")
				}
				a, err := openArchive(cmd)
				if err != nil {
					return err
				}
				defer a.Close()
				if a.Config.Store != "local" {
					return usageErrorf("store migrate: this archive is already on %s; migrate copies from the local store", a.Config.Store)
				}
				prog, finish := progressFunc(cmd, -1, "copying")
				sum, err := a.Migrate(ctx, to, prog)
				finish()
				if err != nil {
					return &exitError{code: exitFindings, msg: err.Error()}
				}
				if cmd.Bool("json") {
					return json.NewEncoder(cmd.Root().Writer).Encode(sum)
				}
				fmt.Fprintf(cmd.Root().Writer, "copied %d objects (%d bytes, %d already there) to %s, every hash checked\n", sum.Objects, sum.Bytes, sum.Existing, to)
				if sum.Config {
					fmt.Fprintf(cmd.Root().Writer, "conserva.toml now says store = %q; the local store is kept\n", to)
				} else {
					fmt.Fprintf(cmd.Root().Writer, "set store = %q in conserva.toml (no store line found to update)\n", to)
				}
				return nil
			},
		}},
	}
}
