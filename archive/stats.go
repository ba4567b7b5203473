package archive

import (
	"encoding/json"
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
		row.Sent += t.Messages - t.In - t.receipts()
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

func when(ok bool, s string) string {
	if ok {
		return s
	}
	return ""
}

// Tally counts messages for the statistics. The catalog keeps one per
// mailbox and month and one per sender, changed at every write of a record
// (catalog.go), so that statistics never read the records.
type Tally struct {
	Messages int              `json:"n"`
	Bytes    int64            `json:"b"`
	Kinds    map[pec.Kind]int `json:"k,omitempty"`
	In       int              `json:"in,omitempty"` // not receipts, coming in (flow E)
	Flagged  int              `json:"f,omitempty"`
}

// Add adds sign × o.
func (t *Tally) Add(o Tally, sign int) {
	t.Messages += sign * o.Messages
	t.Bytes += int64(sign) * o.Bytes
	t.In += sign * o.In
	t.Flagged += sign * o.Flagged
	for k, n := range o.Kinds {
		if t.Kinds == nil {
			t.Kinds = map[pec.Kind]int{}
		}
		if t.Kinds[k] += sign * n; t.Kinds[k] == 0 {
			delete(t.Kinds, k)
		}
	}
}

func (t Tally) receipts() int {
	n := 0
	for k, v := range t.Kinds {
		if k.IsReceipt() {
			n += v
		}
	}
	return n
}

// tallyOf is what one record counts for.
func tallyOf(r *Record) Tally {
	t := Tally{Messages: 1, Bytes: r.Size, Kinds: map[pec.Kind]int{r.Kind: 1}}
	if !r.Kind.IsReceipt() && firstNonEmpty(r.Flow, flowOf(r, nil)) == "E" {
		t.In = 1
	}
	if r.Flagged {
		t.Flagged = 1
	}
	return t
}

func senderOf(r *Record) string {
	if s := strings.ToLower(strings.TrimSpace(r.From)); s != "" {
		return s
	}
	return "(unknown)"
}

// Tallies calls fn for every count the catalog keeps: those of a mailbox
// and month (sender ""), then those of a sender (mailbox and month "").
func (c *Catalog) Tallies(fn func(mailbox, month, sender string, t Tally) error) error {
	return c.view(func(t *txn) error {
		return t.tx.Bucket(bucketTally).ForEach(func(k, v []byte) error {
			var tl Tally
			if err := json.Unmarshal(v, &tl); err != nil || len(k) == 0 {
				return fmt.Errorf("catalog count %.80q: %w (%v)", k, ErrCatalogDamaged, err)
			}
			switch k[0] {
			case 'm':
				mailbox, month, _ := strings.Cut(string(k[1:]), "\x00")
				return fn(mailbox, month, "", tl)
			case 's':
				return fn("", "", string(k[1:]), tl)
			}
			return nil
		})
	})
}
