package main

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/urfave/cli/v3"
)

func holdCommand() *cli.Command {
	sub := func(name, usage string, on bool) *cli.Command {
		return &cli.Command{
			Name:      name,
			Usage:     usage,
			ArgsUsage: "ID-OR-MESSAGE-ID (an id, the short id search and ingest print, or any Message-ID)",
			Flags:     []cli.Flag{jsonFlag()},
			Action: func(ctx context.Context, cmd *cli.Command) error {
				if cmd.Args().Len() != 1 {
					return usageErrorf("hold %s: give one ID or Message-ID", name)
				}
				a, err := openArchive(cmd)
				if err != nil {
					return err
				}
				defer a.Close()
				res, err := a.SetHold(ctx, cmd.Args().First(), on)
				if err != nil {
					return dossierError(err)
				}
				if cmd.Bool("json") {
					return json.NewEncoder(cmd.Root().Writer).Encode(res)
				}
				state := "lifted"
				if on {
					state = "set"
				}
				fmt.Fprintf(cmd.Root().Writer, "legal hold %s on dossier <%s>: %s, %s (%s)\n",
					state, res.MessageID, plural(res.Messages, "message"), plural(res.Objects, "store object"), res.Backend)
				return nil
			},
		}
	}
	return &cli.Command{
		Name:  "hold",
		Usage: "put or lift a legal hold on every object of a dossier",
		Commands: []*cli.Command{
			sub("set", "put a legal hold (S3: enforced by the store; local: recorded in the catalog)", true),
			sub("clear", "lift a legal hold", false),
		},
	}
}
