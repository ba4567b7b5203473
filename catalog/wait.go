package catalog

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"

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

// MarkSealed records that recs (read by this seal, which holds the
// catalog for writing: nobody else changed them since) are in package
// pkg, described by pkgValue (kept as JSON under pkg in BucketPackages),
// and ends the seal's journal (the key journal of BucketMeta): all in one
// transaction. The records are encoded again in parallel, outside the
// transaction; the transaction only stores them and moves them out of the
// waiting index.
func (c *Catalog) MarkSealed(pkg string, recs []*Record, pkgValue any, journal string) error {
	data, err := json.Marshal(pkgValue)
	if err != nil {
		return err
	}
	enc := make([][]byte, len(recs))
	err = parallel.ForEach(context.Background(), len(recs), runtime.GOMAXPROCS(0), func(i int) error {
		r := *recs[i]
		if r.Package != "" && r.Package != pkg {
			return fmt.Errorf("sealing %s: message %s is already in package %s", pkg, r.ID, r.Package)
		}
		r.Package = pkg
		var err error
		enc[i], err = encodeRecord(&r)
		return err
	})
	if err != nil {
		return err
	}
	return c.update(func(t *txn) error {
		for i, r := range recs {
			raw, ok := IDBytes(r.ID)
			k := t.ids.Get(raw)
			if !ok || k == nil {
				return fmt.Errorf("sealing %s: message %s is not catalogued", pkg, r.ID)
			}
			seq, _ := catalogfmt.Seq(k)
			if err := t.recs.Put(k, append(raw, enc[i]...)); err != nil {
				return err
			}
			// Only the waiting index changes with the package.
			old := stateOf(r, seq)
			r.Package = pkg
			now := stateOf(r, seq)
			enc[i] = nil
			if err := t.apply(&old, &now); err != nil {
				return err
			}
		}
		if err := t.tx.Bucket(bucketPackages).Put([]byte(pkg), data); err != nil {
			return err
		}
		return t.tx.Bucket(bucketMeta).Delete([]byte(journal))
	})
}
