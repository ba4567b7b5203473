package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/conserva/conserva/archive"
	"github.com/conserva/conserva/pec"
	"github.com/urfave/cli/v3"
)

func searchCommand() *cli.Command {
	return &cli.Command{
		Name:  "search",
		Usage: "find catalogued messages",
		Description: "Every filter narrows the result; no filter lists everything.\n" +
			"Results stream from the catalog's indexes, in date order (catalogue order with no indexed filter).\n" +
			"--json prints one object per line per message.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "message-id", Usage: "any Message-ID the message carries (its own, the original, the identificativo)"},
			&cli.StringFlag{Name: "from", Usage: "sender address"},
			&cli.StringFlag{Name: "to", Usage: "recipient address"},
			&cli.StringFlag{Name: "address", Usage: "sender or any recipient"},
			&cli.StringFlag{Name: "subject", Usage: "words each beginning a word of the subject, any case (decr finds Decreto)"},
			&cli.StringFlag{Name: "mailbox", Usage: "the mailbox or folder read from, as stats --by mailbox names it"},
			&cli.StringFlag{Name: "kind", Usage: "PEC kind (posta-certificata, accettazione, …, not-pec)"},
			&cli.StringFlag{Name: "since", Usage: "date (YYYY-MM-DD or RFC 3339), inclusive"},
			&cli.StringFlag{Name: "until", Usage: "date (YYYY-MM-DD or RFC 3339), exclusive"},
			&cli.BoolFlag{Name: "flagged", Usage: "only messages archived with a finding"},
			&cli.StringFlag{Name: "class", Usage: "titolario code (4.2 also matches 4.2.1)"},
			&cli.StringFlag{Name: "fascicolo", Usage: "fascicolo (aggregazione) the message is filed in"},
			jsonFlag(),
		},
		Action: runSearch,
	}
}

func parseDate(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	return time.ParseInLocation("2006-01-02", s, time.Local)
}

func runSearch(ctx context.Context, cmd *cli.Command) error {
	if cmd.Args().Len() > 0 {
		return usageErrorf("search: unexpected argument %q (filters are flags: see conserva search --help)", cmd.Args().First())
	}
	q := archive.Query{MessageID: cmd.String("message-id"), From: cmd.String("from"), To: cmd.String("to"),
		Address: cmd.String("address"), Mailbox: cmd.String("mailbox"),
		Subject: cmd.String("subject"), Flagged: cmd.Bool("flagged"), Class: cmd.String("class"), Fascicolo: cmd.String("fascicolo")}
	if k := cmd.String("kind"); k != "" {
		kind, ok := pec.ParseKind(k)
		if !ok {
			return usageErrorf("search: unknown kind %q", k)
		}
		q.Kind = kind
	}
	for _, f := range []struct {
		name string
		dst  *time.Time
	}{{"since", &q.Since}, {"until", &q.Until}} {
		if v := cmd.String(f.name); v != "" {
			t, err := parseDate(v)
			if err != nil {
				return usageErrorf("search: --%s %q is not a date", f.name, v)
			}
			*f.dst = t
		}
	}
	a, err := openArchive(cmd)
	if err != nil {
		return err
	}
	defer a.Close()
	out := cmd.Root().Writer
	if cmd.Bool("json") {
		enc := json.NewEncoder(out)
		enc.SetEscapeHTML(false)
		return incomplete(a.Search(q, func(r *archive.Record) error { return enc.Encode(r) }))
	}
	tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
	header := "ID\tKIND\tDATE\tFROM\tTO\tSUBJECT\tSIGNATURE\tPACKAGE"
	if q.Flagged {
		header += "\tREASON" // "what was archived with a finding, and why"
	}
	fmt.Fprintln(tw, header)
	n := 0
	err = a.Search(q, func(r *archive.Record) error {
		n++
		date := "-"
		if r.Date != nil {
			date = r.Date.Local().Format("2006-01-02 15:04")
		}
		to := strings.Join(r.To, ",")
		if r.Consegna != "" {
			to = r.Consegna
		}
		pkg := r.Package
		if pkg == "" {
			pkg = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s", archive.ShortID(r.ID), r.Kind, date, r.From, clip(to, 40), clip(r.Subject, 50), r.Signature, pkg)
		if q.Flagged {
			fmt.Fprintf(tw, "\t%s", r.FlagReason)
		}
		if _, err := fmt.Fprintln(tw); err != nil {
			return err
		}
		// The table is aligned a thousand rows at a time: memory does not
		// grow with the hits.
		if n%1000 == 0 {
			return tw.Flush()
		}
		return nil
	})
	var inc *archive.IncompleteError
	if err != nil && !errors.As(err, &inc) {
		return err
	}
	tw.Flush()
	fmt.Fprintln(out, plural(n, "message"))
	return incomplete(err)
}

// incomplete turns a search that could not follow every index entry into
// exit status 1 with the reason on stderr, after the hits it did print: a
// damaged catalog must not pass for "nothing more found".
func incomplete(err error) error {
	var inc *archive.IncompleteError
	if errors.As(err, &inc) {
		return &exitError{code: exitFindings, msg: "search: " + inc.Error()}
	}
	return err
}

func clip(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}
