package main

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/conserva/conserva/archive"
	"github.com/urfave/cli/v3"
)

func classifyCommand() *cli.Command {
	return &cli.Command{
		Name:      "classify",
		Usage:     "file a message anew (titolario, fascicolo, register): a new recorded event, the old values stay in its history",
		ArgsUsage: "ID (the id or short id search and ingest print)",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "class", Usage: "titolario code"},
			&cli.StringFlag{Name: "description", Usage: "the class's description"},
			&cli.StringFlag{Name: "fascicolo", Usage: "fascicolo (aggregazione)"},
			&cli.StringFlag{Name: "tipo-registro", Usage: "Nessuno, Protocollo or Repertorio"},
			&cli.StringFlag{Name: "codice-registro", Usage: "the register's code"},
			&cli.StringFlag{Name: "numero", Usage: "protocol or repertory number"},
			&cli.StringFlag{Name: "by", Usage: "who reclassifies", Required: true},
			&cli.StringFlag{Name: "reason", Usage: "why"},
			jsonFlag(),
		},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			if cmd.Args().Len() != 1 {
				return usageErrorf("classify: give one message id")
			}
			ch := archive.ClassChange{Code: cmd.String("class"), Description: cmd.String("description"), Fascicolo: cmd.String("fascicolo"),
				TipoRegistro: cmd.String("tipo-registro"), CodiceRegistro: cmd.String("codice-registro"), Numero: cmd.String("numero")}
			if ch == (archive.ClassChange{}) {
				return usageErrorf("classify: nothing to change (give --class, --fascicolo, --tipo-registro, --codice-registro or --numero)")
			}
			a, err := openArchive(cmd)
			if err != nil {
				return err
			}
			defer a.Close()
			r, err := a.Reclassify(ctx, cmd.Args().First(), ch, cmd.String("by"), cmd.String("reason"))
			if err != nil {
				return dossierError(err)
			}
			if cmd.Bool("json") {
				return json.NewEncoder(cmd.Root().Writer).Encode(map[string]any{"id": r.ID, "class": r.Class, "history": r.ClassHistory})
			}
			fmt.Fprintf(cmd.Root().Writer, "%s filed as class %q, fascicolo %q, %s (%s)\n", archive.ShortID(r.ID), r.Class.Code, r.Class.Fascicolo,
				r.Class.TipoRegistro, plural(len(r.ClassHistory), "classification")+" in its history")
			return nil
		},
	}
}
