package catalog

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"time"

	"github.com/conserva/conserva/internal/catalogfmt"
	"github.com/conserva/conserva/internal/extsort"
	"github.com/conserva/conserva/internal/parallel"
	bolt "go.etcd.io/bbolt"
)

// loadKey is the size of an index entry on its way through the sort:
// bucket number, key (zero-padded), key length. Zero padding and the
// length last keep byte order the keys' order.
const loadKey = 1 + 70 + 1

// ErrDuplicate: Load was given an id twice.
var ErrDuplicate = errors.New("loading a catalog")

// LoadSizes bound what Load holds in memory: records encoded at once,
// index keys sorted in memory, keys written per transaction (a write
// transaction holds every page it changes).
type LoadSizes struct{ Batch, SortRun, PutsPerTx int }

// BulkLoad is for making large catalogs fast; a rebuild loads with less.
var BulkLoad = LoadSizes{Batch: 50_000, SortRun: 2_000_000, PutsPerTx: 1_000_000}

// Load makes a new catalog at path (which must not exist) holding
// records 0…n-1, numbered in that order (best in date order, as ingest
// numbers them). It writes what Insert would, but each bucket in key
// order into full pages: records as they come, ids and index keys through
// an external sort in tmp ("" for the system's temporary directory).
// Memory stays bounded whatever n. record is called from several
// goroutines at once. It is how large synthetic catalogs are made
// (internal/catbench) and how a rebuild loads what it read back; sz
// bounds its memory. A duplicate id is ErrDuplicate.
func Load(path, tmp string, n int, record func(i int) *Record, sz LoadSizes) error {
	if _, err := os.Stat(path); err == nil {
		return fmt.Errorf("loading a catalog: %s exists", path)
	}
	c, err := Open(path, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	sorted := extsort.New(tmp, loadKey, sz.SortRun)
	defer sorted.Close()
	bucketNo := map[string]byte{string(bucketIDs): 0}
	for i, b := range indexBuckets {
		bucketNo[string(b)] = byte(i + 1)
	}
	var long []indexEntry // keys too long for the sort: rare, kept aside
	entry := make([]byte, loadKey)
	add := func(bucket []byte, key []byte) error {
		if len(key) > loadKey-2 {
			long = append(long, indexEntry{bucket, string(key)})
			return nil
		}
		clear(entry)
		entry[0] = bucketNo[string(bucket)]
		copy(entry[1:], key)
		entry[loadKey-1] = byte(len(key))
		return sorted.Add(entry)
	}

	type encoded struct {
		raw, value []byte
		st         recordState
	}
	batch := sz.Batch
	enc := make([]encoded, batch)
	tally := map[string]*Tally{}
	for start := 0; start < n; start += batch {
		m := min(batch, n-start)
		err := parallel.ForEach(context.Background(), m, runtime.GOMAXPROCS(0), func(j int) error {
			r := record(start + j)
			raw, ok := IDBytes(r.ID)
			if !ok {
				return fmt.Errorf("record %d: %.80q is not a SHA-256", start+j, r.ID)
			}
			data, err := encodeRecord(r)
			if err != nil {
				return fmt.Errorf("record %d: %w", start+j, err)
			}
			enc[j] = encoded{raw, append(raw[:32:32], data...), stateOf(r, uint64(start+j+1))}
			return nil
		})
		if err != nil {
			return err
		}
		err = c.db.Update(func(tx *bolt.Tx) error {
			recs := tx.Bucket(bucketRecords)
			recs.FillPercent = 1
			for j, e := range enc[:m] {
				seq := uint64(start + j + 1)
				if err := recs.Put(catalogfmt.SeqKey(seq), e.value); err != nil {
					return err
				}
				if err := add(bucketIDs, append(e.raw, catalogfmt.SeqKey(seq)...)); err != nil {
					return err
				}
				for _, k := range e.st.keys {
					if err := add(k.bucket, []byte(k.key)); err != nil {
						return err
					}
				}
				for _, k := range e.st.tallies {
					if tally[k] == nil {
						tally[k] = &Tally{}
					}
					tally[k].Add(e.st.t, 1)
				}
			}
			return recs.SetSequence(uint64(start + m))
		})
		if err != nil {
			return fmt.Errorf("loading records %d…: %w", start, err)
		}
		clear(enc)
	}

	// The sorted keys, putsPerTx a transaction.
	names := append([][]byte{bucketIDs}, indexBuckets...)
	var tx *bolt.Tx
	done := func() error {
		if tx == nil {
			return nil
		}
		err := tx.Commit()
		tx = nil
		return err
	}
	defer func() {
		if tx != nil {
			tx.Rollback()
		}
	}()
	puts := 0
	var last []byte
	err = sorted.Each(func(e []byte) error {
		if tx == nil {
			var err error
			if tx, err = c.db.Begin(true); err != nil {
				return err
			}
		}
		b := tx.Bucket(names[e[0]])
		b.FillPercent = 1
		key := e[1 : 1+int(e[loadKey-1])]
		var err error
		if e[0] == 0 {
			if string(key[:32]) == string(last) {
				return fmt.Errorf("%w: id %x given twice", ErrDuplicate, key[:32])
			}
			last = append(last[:0], key[:32]...)
			err = b.Put(key[:32], append([]byte(nil), key[32:]...))
		} else {
			err = b.Put(key, nil)
		}
		if err != nil {
			return err
		}
		if puts++; puts%sz.PutsPerTx == 0 {
			return done()
		}
		return nil
	})
	if err == nil {
		err = done()
	}
	if err != nil {
		return fmt.Errorf("loading the catalog's indexes: %w", err)
	}
	return c.update(func(t *txn) error {
		for _, e := range long {
			if err := t.tx.Bucket(e.bucket).Put([]byte(e.key), nil); err != nil {
				return err
			}
		}
		t.tally, t.count = tally, n
		return nil
	})
}
