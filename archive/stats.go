package archive

import (
	"fmt"
	"sort"

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

// Stats counts the catalogued messages (from the counts the catalog keeps, not a scan), grouped by mailbox (the source
// they were read from), sender, or month (of their date), or not at all.
func (a *Archive) Stats(by string) ([]StatsRow, error) {
	// The catalog counts by mailbox and month, and by sender, at every
	// write (Tallies): a row sums the counts of one of the two.
	var keyOf func(mailbox, month, sender string) string
	switch by {
	case "":
		keyOf = func(mailbox, _, _ string) string { return when(mailbox != "", "all") }
	case "mailbox":
		keyOf = func(mailbox, _, _ string) string { return mailbox }
	case "sender":
		keyOf = func(_, _, sender string) string { return sender }
	case "month":
		keyOf = func(_, month, _ string) string { return month }
	default:
		return nil, fmt.Errorf("stats: --by %q: mailbox, sender or month", by)
	}
	rows := map[string]*StatsRow{}
	err := a.Catalog.Tallies(func(mailbox, month, sender string, t Tally) error {
		k := keyOf(mailbox, month, sender)
		if k == "" {
			return nil
		}
		row := rows[k]
		if row == nil {
			row = &StatsRow{Key: k}
			rows[k] = row
		}
		row.Messages += t.Messages
		row.Bytes += t.Bytes
		for kind, n := range t.Kinds {
			if kind.IsReceipt() {
				row.Receipts += n
			}
			switch kind {
			case pec.KindNonAccettazione, pec.KindErroreConsegna, pec.KindPreavvisoErroreConsegna:
				row.DeliveryFailures += n
			}
		}
		row.Received += t.In
		row.Sent += t.Messages - t.In - t.Receipts()
		row.Flagged += t.Flagged
		return nil
	})
	out := make([]StatsRow, 0, len(rows))
	for _, r := range rows {
		out = append(out, *r)
	}
	sort.Slice(out, func(i, k int) bool { return out[i].Key < out[k].Key })
	return out, err
}

func when(ok bool, s string) string {
	if ok {
		return s
	}
	return ""
}
