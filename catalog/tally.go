package catalog

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/conserva/conserva/agid"
	"github.com/conserva/conserva/pec"
)

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

// Receipts is how many of the messages counted are receipts.
func (t Tally) Receipts() int {
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
	if !r.Kind.IsReceipt() && flowOf(r) == "E" {
		t.In = 1
	}
	if r.Flagged {
		t.Flagged = 1
	}
	return t
}

// flowOf is the record's flow, or the one its addresses give when it has
// none (a record from before flows, seen from no own address).
func flowOf(r *Record) string {
	if r.Flow != "" {
		return r.Flow
	}
	return agid.Flow(r.Kind, r.From, r.To, nil)
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
				return fmt.Errorf("catalog count %.80q: %w (%v)", k, ErrDamaged, err)
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
