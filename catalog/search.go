package catalog

import (
	"bytes"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/conserva/conserva/internal/catalogfmt"
	"github.com/conserva/conserva/pec"
	bolt "go.etcd.io/bbolt"
)

// Query selects catalogued messages. Empty fields match everything.
type Query struct {
	MessageID string // any Message-ID the object carries
	From      string
	Address   string // the sender or any recipient
	To        string
	// Subject: every word of it begins a word of the subject, in any
	// case ("decr" finds "Decreto"); text without words is a substring.
	Subject string
	Mailbox string // the mailbox or folder read from (stats' mailbox)
	Kind    pec.Kind
	Since   time.Time
	Until   time.Time // exclusive
	Flagged bool
	// Class matches a titolario code and the codes under it ("4.2"
	// matches "4.2.1"); Fascicolo matches exactly.
	Class     string
	Fascicolo string
}

// Search calls fn for every record matching q, one at a time, as it reads
// them: memory does not grow with the hits nor with the catalog. The most
// selective index available gives the candidates, in date order from
// q.Since (a full scan, in catalogue order, when no condition is indexed);
// every condition is then checked on the record.
func (c *Catalog) Search(q Query, fn func(*Record) error) error {
	from, to := catalogfmt.StampOf(q.Since), uint32(math.MaxUint32)
	if !q.Until.IsZero() {
		to = catalogfmt.StampOf(q.Until)
		if q.Until.Nanosecond() == 0 && to > 0 {
			to-- // Until is excluded; index dates are whole seconds
		}
	}
	match := func(r *Record, _ []byte) error {
		if q.Matches(r) {
			return fn(r)
		}
		return nil
	}
	words := catalogfmt.Words(q.Subject)
	return c.viewWhole(func(t *txn) error {
		t.releaseEvery = searchReleaseEvery
		switch {
		case q.MessageID != "":
			found := false
			err := t.each(bucketMsgID, NormalizeMessageID(q.MessageID), false, 0, math.MaxUint32, func(r *Record, v []byte) error {
				found = true
				return match(r, v)
			})
			if err != nil || found {
				return err
			}
			return t.each(bucketIdent, NormalizeMessageID(q.MessageID), false, 0, math.MaxUint32, match)
		case q.Address != "":
			return t.each(bucketAddr, normAddr(q.Address), false, from, to, match)
		case q.From != "":
			return t.each(bucketAddr, normAddr(q.From), false, from, to, match)
		case q.To != "":
			return t.each(bucketAddr, normAddr(q.To), false, from, to, match)
		case len(words) > 0:
			// The rarest word's keys; a record is taken under the first of
			// its words that the query word begins, so it comes once.
			w := t.rarest(words)
			return t.each(bucketWord, w, true, from, to, func(r *Record, under []byte) error {
				for _, rw := range catalogfmt.Words(r.Subject) {
					if strings.HasPrefix(rw, w) && rw < string(under) {
						return nil
					}
				}
				return match(r, under)
			})
		case q.Flagged:
			return t.each(bucketFlagged, "", false, from, to, match)
		case q.Mailbox != "":
			return t.each(bucketMailbox, q.Mailbox, false, from, to, match)
		case q.Kind != "":
			return t.each(bucketKind, string(q.Kind), false, from, to, match)
		case !q.Since.IsZero() || !q.Until.IsZero():
			return t.each(bucketDate, "", false, from, to, match)
		}
		return t.recs.ForEach(func(_, v []byte) error {
			t.read()
			r, err := DecodeValue(v)
			if err != nil {
				return err
			}
			return match(r, nil)
		})
	})
}

// searchReleaseEvery: a search drops the catalog's mapped pages from its
// resident memory after every so many records read (each read may map up
// to 64 KB around it), so that its memory does not grow with its hits.
const searchReleaseEvery = 1024

// IncompleteError: a search streamed every record it could read, but the
// index it went through had keys it could not follow (unreadable, or
// naming a record that is not there). The hits given may be missing some:
// the catalog is damaged, and `conserva catalog check` names where.
type IncompleteError struct {
	Skipped int // index keys stepped over
}

func (e *IncompleteError) Error() string {
	return fmt.Sprintf("the search stepped over %d damaged catalog index entries: results may be incomplete (conserva catalog check names the damage; conserva catalog rebuild mends it)", e.Skipped)
}

// rarest is the word with the fewest index keys beginning with it: the
// words' keys are stepped through together until one runs out, so the
// choice costs the number of words times the fewest keys, and no record
// is read.
func (t *txn) rarest(words []string) string {
	if len(words) == 1 {
		return words[0] // nothing to choose: stepping through its keys would read them twice
	}
	curs := make([]*bolt.Cursor, len(words))
	keys := make([][]byte, len(words))
	for i, w := range words {
		curs[i] = t.tx.Bucket(bucketWord).Cursor()
		keys[i], _ = curs[i].Seek([]byte(w))
	}
	for {
		for i, w := range words {
			if keys[i] == nil || !bytes.HasPrefix(keys[i], []byte(w)) {
				return w
			}
			keys[i], _ = curs[i].Next()
		}
	}
}

// Matches says whether r satisfies every condition of q (what Search
// checks on each record its index gives).
func (q Query) Matches(r *Record) bool {
	if q.MessageID != "" {
		want := NormalizeMessageID(q.MessageID)
		if NormalizeMessageID(r.MessageID) != want && NormalizeMessageID(r.RefMessageID) != want &&
			NormalizeMessageID(r.Msgid) != want && NormalizeMessageID(r.Identificativo) != want {
			return false
		}
	}
	if q.From != "" && !strings.EqualFold(r.From, strings.TrimSpace(q.From)) {
		return false
	}
	if q.Address != "" && !strings.EqualFold(strings.TrimSpace(r.From), strings.TrimSpace(q.Address)) &&
		!containsFold(append(append([]string{r.Consegna}, r.To...), r.Ricezione...), q.Address) {
		return false
	}
	if q.To != "" && !containsFold(append(append([]string{r.Consegna}, r.To...), r.Ricezione...), q.To) {
		return false
	}
	if q.Subject != "" && !q.subjectMatches(r.Subject) {
		return false
	}
	if q.Mailbox != "" && mailboxOf(r) != q.Mailbox {
		return false
	}
	if q.Kind != "" && r.Kind != q.Kind {
		return false
	}
	if !q.Since.IsZero() && (r.Date == nil || r.Date.Before(q.Since)) {
		return false
	}
	if !q.Until.IsZero() && (r.Date == nil || !r.Date.Before(q.Until)) {
		return false
	}
	if q.Flagged && !r.Flagged {
		return false
	}
	if c := strings.TrimSpace(q.Class); c != "" && r.Class.Code != c && !strings.HasPrefix(r.Class.Code, c+".") {
		return false
	}
	if q.Fascicolo != "" && !strings.EqualFold(r.Class.Fascicolo, strings.TrimSpace(q.Fascicolo)) {
		return false
	}
	return true
}

func containsFold(list []string, s string) bool {
	s = strings.TrimSpace(s)
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}

func (q Query) subjectMatches(subject string) bool {
	want := catalogfmt.Words(q.Subject)
	if len(want) == 0 {
		return strings.Contains(strings.ToLower(subject), strings.ToLower(q.Subject))
	}
	have := catalogfmt.Words(subject)
	for _, w := range want {
		if !slices.ContainsFunc(have, func(h string) bool { return strings.HasPrefix(h, w) }) {
			return false
		}
	}
	return true
}
