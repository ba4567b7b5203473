package main

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"text/tabwriter"

	"github.com/conserva/conserva/archive"
	"github.com/urfave/cli/v3"
)

func statsCommand() *cli.Command {
	return &cli.Command{
		Name:  "stats",
		Usage: "count messages sent and received, receipts, delivery failures, flagged and bytes",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "by", Usage: "group by mailbox, sender or month"},
			jsonFlag(),
		},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			if cmd.Args().Len() > 0 {
				return usageErrorf("stats: unexpected argument %q", cmd.Args().First())
			}
			by := cmd.String("by")
			if !slices.Contains(archive.StatsBy, by) {
				return usageErrorf("stats: --by %q: mailbox, sender or month", by)
			}
			a, err := openArchive(cmd)
			if err != nil {
				return err
			}
			defer a.Close()
			rows, err := a.Stats(by)
			if err != nil {
				return err
			}
			out := cmd.Root().Writer
			if cmd.Bool("json") {
				enc := json.NewEncoder(out)
				enc.SetEscapeHTML(false)
				return enc.Encode(map[string]any{"by": by, "rows": rows})
			}
			tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', tabwriter.AlignRight)
			head := "GROUP"
			if by != "" {
				head = map[string]string{"mailbox": "MAILBOX", "sender": "SENDER", "month": "MONTH"}[by]
			}
			fmt.Fprintf(tw, "%s\tMESSAGES\tSENT\tRECEIVED\tRECEIPTS\tFAILURES\tFLAGGED\tBYTES\t\n", head)
			for _, r := range rows {
				fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t\n", r.Key, r.Messages, r.Sent, r.Received, r.Receipts, r.DeliveryFailures, r.Flagged, r.Bytes)
			}
			return tw.Flush()
		},
	}
}
