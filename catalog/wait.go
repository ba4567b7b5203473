package catalog

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"slices"

	"github.com/conserva/conserva/internal/catalogfmt"
	"github.com/conserva/conserva/internal/parallel"
)

// The index of the records waiting for a package (bucket ix_wait): a
// nightly seal reads only them, not the millions already sealed.

// waiting says whether a record waits for a package: not sealed, and not
// damaged or missing (nothing to seal).
func waiting(r *Record) bool { return r.Package == "" && r.Damage == "" }

// Waiting calls fn for every record waiting for a package, in the order
// they were catalogued, until fn returns an error (which Waiting returns).
func (c *Catalog) Waiting(fn func(*Record) error) error {
	if c.legacy {
		return c.Scan(func(r *Record) error {
			if waiting(r) {
				return fn(r)
			}
			return nil
		})
	}
	return c.view(func(t *txn) error {
		return t.each(bucketWait, "", false, 0, 0, func(r *Record, _ []byte) error {
			if !waiting(r) {
				return fmt.Errorf("catalog: %s is indexed as waiting for a package but is in %q: %w", r.ID, r.Package, ErrDamaged)
			}
			return fn(r)
		})
	})
}

// fillWait indexes the waiting records of a catalog written before the
// index existed: once, when it is first opened by this version.
func (c *Catalog) fillWait() error {
	return c.update(func(t *txn) error {
		b := t.tx.Bucket(bucketWait)
		return t.recs.ForEach(func(k, v []byte) error {
			seq, ok := catalogfmt.Seq(k)
			if !ok {
				return nil // named by catalog check
			}
			r, err := t.record(seq)
			if err != nil || r == nil || !waiting(r) {
				return nil // a damaged record is named by catalog check
			}
			for _, e := range stateOf(r, seq).keys {
				if string(e.bucket) == string(bucketWait) {
					if err := b.Put([]byte(e.key), nil); err != nil {
						return err
					}
				}
			}
			return nil
		})
	})
}

// markChunk is how many records MarkSealedIDs reads and encodes at once.
const markChunk = 1024

// MarkSealedIDs records that the records of ids are in package pkg,
// described by pkgValue (kept as JSON under pkg in BucketPackages), sets
// their Package, and ends the seal's journal (the key journal of
// BucketMeta). The records are read again (the seal holds the catalog for
// writing: nobody changed them since) a chunk at a time, in the one
// transaction that records the package: none of them counts as sealed
// before it is, and no more than a chunk of them is decoded at once.
func (c *Catalog) MarkSealedIDs(pkg string, ids []string, pkgValue any, journal string) error {
	data, err := json.Marshal(pkgValue)
	if err != nil {
		return err
	}
	return c.update(func(t *txn) error {
		// Rewritten in the order they are stored, not by id: the pages
		// read go by once, and are dropped from resident memory as the
		// transaction goes.
		seqs := make([]uint64, len(ids))
		for i, id := range ids {
			// Looked up past t.get, which would keep every record's state
			// to the end of the transaction.
			raw, ok := IDBytes(id)
			var k []byte
			if ok {
				k = t.ids.Get(raw)
			}
			if seqs[i], ok = catalogfmt.Seq(k); !ok {
				return fmt.Errorf("sealing %s: message %s is not catalogued", pkg, id)
			}
		}
		slices.Sort(seqs)
		for start := 0; start < len(seqs); start += markChunk {
			chunk := seqs[start:min(start+markChunk, len(seqs))]
			recs := make([]*Record, len(chunk))
			keys := make([][]byte, len(chunk))
			for i, seq := range chunk {
				r, err := t.record(seq)
				if err != nil {
					return err
				}
				if r == nil {
					return fmt.Errorf("sealing %s: record %d is not catalogued", pkg, seq)
				}
				recs[i], keys[i] = r, catalogfmt.SeqKey(seq)
			}
			enc, err := encodeSealed(pkg, recs)
			if err != nil {
				return err
			}
			if err := t.putSealed(pkg, recs, keys, enc); err != nil {
				return err
			}
			_ = releaseMappedIn(t.tx) // memory only: the file is not written before the commit
		}
		return t.endSeal(pkg, data, journal)
	})
}

// encodeSealed encodes recs as in package pkg, in parallel; a record
// already in another package is refused.
func encodeSealed(pkg string, recs []*Record) ([][]byte, error) {
	enc := make([][]byte, len(recs))
	err := parallel.ForEach(context.Background(), len(recs), runtime.GOMAXPROCS(0), func(i int) error {
		r := *recs[i]
		if r.Package != "" && r.Package != pkg {
			return fmt.Errorf("sealing %s: message %s is already in package %s", pkg, r.ID, r.Package)
		}
		r.Package = pkg
		var err error
		enc[i], err = encodeRecord(&r)
		return err
	})
	return enc, err
}

// putSealed stores recs, encoded in package pkg as enc, under their keys
// (their values in the ids bucket), and sets their Package: of the
// indexes, only the waiting one changes with the package.
func (t *txn) putSealed(pkg string, recs []*Record, keys, enc [][]byte) error {
	for i, r := range recs {
		raw, _ := IDBytes(r.ID)
		if err := t.recs.Put(keys[i], append(raw, enc[i]...)); err != nil {
			return err
		}
		seq, _ := catalogfmt.Seq(keys[i])
		old := stateOf(r, seq)
		r.Package = pkg
		now := stateOf(r, seq)
		enc[i] = nil
		if err := t.apply(&old, &now); err != nil {
			return err
		}
	}
	return nil
}

// endSeal records package pkg (its JSON, data) and ends its journal.
func (t *txn) endSeal(pkg string, data []byte, journal string) error {
	if err := t.tx.Bucket(bucketPackages).Put([]byte(pkg), data); err != nil {
		return err
	}
	return t.tx.Bucket(bucketMeta).Delete([]byte(journal))
}
