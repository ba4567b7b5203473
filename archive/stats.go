package archive

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"github.com/conserva/conserva/pec"
)

// StatsRow counts the messages of one group (a mailbox, a sender, a month,
// or everything).
type StatsRow struct {
	Key              string `json:"key"`
	Messages         int    `json:"messages"`
	Sent             int    `json:"sent"`     // envelopes leaving the organisation (flow U or I)
	Received         int    `json:"received"` // envelopes and other mail coming in (flow E)
	Receipts         int    `json:"receipts"`
	DeliveryFailures int    `json:"delivery_failures"` // non-accettazione, errore-consegna, preavviso
	Flagged          int    `json:"flagged"`
	Bytes            int64  `json:"bytes"`
}

// StatsBy are the groupings Stats knows.
var StatsBy = []string{"", "mailbox", "sender", "month"}

// Stats counts the catalogued messages, grouped by mailbox (the source
// they were read from), sender, or month (of their date), or not at all.
func (a *Archive) Stats(by string) ([]StatsRow, error) {
	var keyOf func(r *Record) string
	switch by {
	case "":
		keyOf = func(*Record) string { return "all" }
	case "mailbox":
		keyOf = mailboxOf
	case "sender":
		keyOf = func(r *Record) string {
			if s := strings.ToLower(strings.TrimSpace(r.From)); s != "" {
				return s
			}
			return "(unknown)"
		}
	case "month":
		keyOf = func(r *Record) string { return recordTime(r).UTC().Format("2006-01") }
	default:
		return nil, fmt.Errorf("stats: --by %q: mailbox, sender or month", by)
	}
	rows := map[string]*StatsRow{}
	err := a.Catalog.Scan(func(r *Record) error {
		k := keyOf(r)
		row := rows[k]
		if row == nil {
			row = &StatsRow{Key: k}
			rows[k] = row
		}
		row.Messages++
		row.Bytes += r.Size
		switch {
		case r.Kind.IsReceipt():
			row.Receipts++
			switch r.Kind {
			case pec.KindNonAccettazione, pec.KindErroreConsegna, pec.KindPreavvisoErroreConsegna:
				row.DeliveryFailures++
			}
		case firstNonEmpty(r.Flow, flowOf(r, nil)) == "E":
			row.Received++
		default:
			row.Sent++
		}
		if r.Flagged {
			row.Flagged++
		}
		return nil
	})
	out := make([]StatsRow, 0, len(rows))
	for _, r := range rows {
		out = append(out, *r)
	}
	sort.Slice(out, func(i, k int) bool { return out[i].Key < out[k].Key })
	return out, err
}

// mailboxOf names the mailbox or folder a message was first read from:
// the IMAP mailbox or mbox without the message's position, the folder of a
// file.
func mailboxOf(r *Record) string {
	if len(r.Sources) == 0 || r.Sources[0] == "" {
		return "(unknown)"
	}
	s := r.Sources[0]
	if i := strings.Index(s, ";UIDVALIDITY="); i > 0 {
		return s[:i]
	}
	if i := strings.LastIndex(s, "#"); i > 0 {
		return s[:i]
	}
	return filepath.Dir(s)
}
