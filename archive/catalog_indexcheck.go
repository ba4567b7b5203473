package archive

import (
	"fmt"

	"github.com/conserva/conserva/internal/catalogfmt"
	bolt "go.etcd.io/bbolt"
)

// maxIndexProblems bounds the index entries checkIndexes names one by one
// for each kind of damage; the rest are counted in one more problem.
const maxIndexProblems = 20

// checkIndexes compares the search indexes with the records: every record
// has each index key its fields give it, and every index key is readable
// and names a record that gives it. A search steps over a key it cannot
// follow and a missing key hides a record from every search through that
// index, so both are damage audit and catalog check must name (bbolt's
// own check sees only the pages, not what they say).
//
// Two passes, each streaming: the records in number order, then each
// index in key order; memory is one record's keys and one count per index.
func (c *Catalog) checkIndexes() []Problem {
	if c.legacy {
		return nil
	}
	var probs []Problem
	counts := map[string]int{} // kind of damage → entries found
	bad := func(kind, format string, args ...any) {
		counts[kind]++
		if counts[kind] <= maxIndexProblems {
			probs = append(probs, Problem{Key: "catalog.db", Problem: fmt.Sprintf(format, args...)})
		}
	}
	err := c.db.View(func(tx *bolt.Tx) error {
		t := c.newTxn(tx)
		want := map[string]int{}    // index → keys the records give it
		missing := map[string]int{} // index → of those, not there
		unreadable := map[uint64]bool{}
		err := t.recs.ForEach(func(k, v []byte) error {
			seq, ok := catalogfmt.Seq(k)
			if !ok {
				return nil // the records pass of the sweep names it
			}
			r, err := decodeValue(v)
			if err != nil {
				if len(unreadable) < maxMessageProblems {
					unreadable[seq] = true // named by the sweep; its keys are not stray
				}
				return nil
			}
			for _, e := range stateOf(r, seq).keys {
				want[string(e.bucket)]++
				if tx.Bucket(e.bucket).Get([]byte(e.key)) == nil {
					missing[string(e.bucket)]++
					value, _, _, _ := catalogfmt.ParseIndexKey([]byte(e.key))
					bad("missing", "catalog index %s lacks the entry of message %s under %.80q: searches through it miss the message (conserva catalog rebuild mends it)", e.bucket, ShortID(r.ID), value)
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, b := range indexBuckets {
			have := 0
			cur := tx.Bucket(b).Cursor()
			for k, _ := cur.First(); k != nil; k, _ = cur.Next() {
				_, _, seq, ok := catalogfmt.ParseIndexKey(k)
				switch {
				case !ok:
					bad("unreadable", "catalog index %s holds an unreadable entry %.80q: searches step over it (conserva catalog rebuild mends it)", b, k)
				case unreadable[seq]:
				case t.recs.Get(catalogfmt.SeqKey(seq)) == nil:
					bad("dangling", "catalog index %s has an entry %.80q naming record number %d, which the catalog does not hold: searches step over it (conserva catalog rebuild mends it)", b, k, seq)
				default:
					have++
				}
			}
			// Every expected key found means have ≥ want; more are keys
			// naming a record that no longer gives them (a stale entry: a
			// search would show that record for a value it does not have,
			// though the record's own fields are rechecked before a hit).
			if extra := have - (want[string(b)] - missing[string(b)]); extra > 0 {
				bad("stray", "catalog index %s has %d entries naming records that do not carry them (conserva catalog rebuild mends it)", b, extra)
			}
		}
		return nil
	})
	if err != nil {
		probs = append(probs, Problem{Key: "catalog.db", Problem: err.Error()})
	}
	for kind, n := range counts {
		if n > maxIndexProblems {
			probs = append(probs, Problem{Key: "catalog.db", Problem: fmt.Sprintf("catalog indexes: %d more %s entries not listed", n-maxIndexProblems, kind)})
		}
	}
	return probs
}
