package catalog

import (
	"fmt"
	"hash/maphash"

	"github.com/conserva/conserva/internal/catalogfmt"
	bolt "go.etcd.io/bbolt"
)

// maxIndexProblems bounds the index entries CheckIndexes names one by one
// for each kind of damage; the rest are counted in one more problem.
const maxIndexProblems = 20

// maxUnreadable bounds the unreadable records CheckIndexes remembers (to
// know their keys are not stray): the sweep names them, as many as it
// names messages.
const maxUnreadable = 10000

// keyTally sums an index's keys: how many, and their hashes added up (a
// sum does not depend on the order the keys come in).
type keyTally struct {
	n   int
	sum uint64
}

// CheckIndexes compares the search indexes with the records: every record
// has each index key its fields give it, and every index key is readable
// and names a record that gives it. A search steps over a key it cannot
// follow and a missing key hides a record from every search through that
// index, so both are damage audit and catalog check must name (bbolt's
// own check sees only the pages, not what they say).
//
// Both sides are read in key order, never looked up one by one: the keys
// the records give are tallied per index (count and sum of hashes), then
// each index's keys the same way; an index whose tallies differ is read
// again key by key to name what differs. Memory is one bit per record
// number and one tally per index.
// It returns the damage found, a sentence each.
func (c *Catalog) CheckIndexes() []string {
	if c.legacy {
		return nil
	}
	var probs []string
	counts := map[string]int{} // kind of damage → entries found
	bad := func(kind, format string, args ...any) {
		counts[kind]++
		if counts[kind] <= maxIndexProblems {
			probs = append(probs, fmt.Sprintf(format, args...))
		}
	}
	seed := maphash.MakeSeed()
	hash := func(k []byte) uint64 { return maphash.Bytes(seed, k) }
	err := c.db.View(func(tx *bolt.Tx) error {
		t := c.newTxn(tx)
		held := seqSet{}                // record numbers the catalog holds
		unreadable := map[uint64]bool{} // of those, records that cannot be decoded
		want := map[string]*keyTally{}
		for _, b := range indexBuckets {
			want[string(b)] = &keyTally{}
		}
		// eachRecord calls fn with every readable record's index keys.
		eachRecord := func(fn func(r *Record, e indexEntry)) error {
			return t.recs.ForEach(func(k, v []byte) error {
				seq, ok := catalogfmt.Seq(k)
				if !ok {
					return nil // the records pass of the sweep names it
				}
				held.add(seq)
				r, err := DecodeValue(v)
				if err != nil {
					if len(unreadable) < maxUnreadable {
						unreadable[seq] = true // named by the sweep; its keys are not stray
					}
					return nil
				}
				for _, e := range stateOf(r, seq).keys {
					fn(r, e)
				}
				return nil
			})
		}
		err := eachRecord(func(_ *Record, e indexEntry) {
			w := want[string(e.bucket)]
			w.n++
			w.sum += hash([]byte(e.key))
		})
		if err != nil {
			return err
		}
		for _, b := range indexBuckets {
			var have keyTally
			cur := tx.Bucket(b).Cursor()
			for k, _ := cur.First(); k != nil; k, _ = cur.Next() {
				_, _, seq, ok := catalogfmt.ParseIndexKey(k)
				switch {
				case !ok:
					bad("unreadable", "catalog index %s holds an unreadable entry %.80q: searches step over it (conserva catalog rebuild mends it)", b, k)
				case unreadable[seq]:
				case !held.has(seq):
					bad("dangling", "catalog index %s has an entry %.80q naming record number %d, which the catalog does not hold: searches step over it (conserva catalog rebuild mends it)", b, k, seq)
				default:
					have.n++
					have.sum += hash(k)
				}
			}
			if have == *want[string(b)] {
				continue
			}
			// Name the records whose keys are not there; more keys than
			// the records give, all of theirs found, are stale entries.
			missing := 0
			bucket := tx.Bucket(b)
			err := eachRecord(func(r *Record, e indexEntry) {
				if string(e.bucket) == string(b) && bucket.Get([]byte(e.key)) == nil {
					missing++
					value, _, _, _ := catalogfmt.ParseIndexKey([]byte(e.key))
					bad("missing", "catalog index %s lacks the entry of message %s under %.80q: searches through it miss the message (conserva catalog rebuild mends it)", b, r.ID[:12], value)
				}
			})
			if err != nil {
				return err
			}
			if extra := have.n - (want[string(b)].n - missing); extra > 0 {
				bad("stray", "catalog index %s has %d entries naming records that do not carry them (conserva catalog rebuild mends it)", b, extra)
			}
		}
		return nil
	})
	if err != nil {
		probs = append(probs, err.Error())
	}
	for kind, n := range counts {
		if n > maxIndexProblems {
			probs = append(probs, fmt.Sprintf("catalog indexes: %d more %s entries not listed", n-maxIndexProblems, kind))
		}
	}
	return probs
}

// seqSet holds record numbers: a bitmap for the dense numbers records are
// given (one bit each), a map for any far beyond them.
type seqSet struct {
	bits []uint64
	far  map[uint64]bool
}

const seqSetDense = 1 << 28 // 32 MB of bits at most: beyond, a map

func (s *seqSet) add(seq uint64) {
	if seq >= seqSetDense {
		if s.far == nil {
			s.far = map[uint64]bool{}
		}
		s.far[seq] = true
		return
	}
	for uint64(len(s.bits)) <= seq/64 {
		s.bits = append(s.bits, 0)
	}
	s.bits[seq/64] |= 1 << (seq % 64)
}

func (s *seqSet) has(seq uint64) bool {
	if seq >= seqSetDense {
		return s.far[seq]
	}
	return seq/64 < uint64(len(s.bits)) && s.bits[seq/64]&(1<<(seq%64)) != 0
}
