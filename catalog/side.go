package catalog

import (
	"encoding/json"

	bolt "go.etcd.io/bbolt"
)

// Bucket names a side bucket: what the archive keeps in the catalog file
// beside the records, small JSON values under a key. They are not made
// from the store: a rebuild carries them over from the old catalog.
type Bucket string

// The side buckets (docs/FORMAT.md). Every one but BucketRuns is made when
// the catalog is opened; BucketRuns on the first run recorded.
const (
	BucketMeta     Bucket = "meta"     // the count, the format, journals and marks
	BucketPackages Bucket = "packages" // sealed packages, by id
	BucketAudits   Bucket = "audits"   // audit reports, by start time
	BucketSources  Bucket = "sources"  // where each IMAP source stands (Mark)
	BucketTrust    Bucket = "trust"    // the providers' trust files kept
	BucketReports  Bucket = "reports"  // rapporti di versamento, by run
	BucketScarto   Bucket = "scarto"   // disposal proposals
	BucketUsers    Bucket = "users"    // web users
	BucketRuns     Bucket = "runs"     // run history, by start time
)

// Value returns the value under key, nil when there is none.
func (c *Catalog) Value(bucket Bucket, key string) ([]byte, error) {
	var data []byte
	err := c.db.View(func(tx *bolt.Tx) error {
		if b := tx.Bucket([]byte(bucket)); b != nil {
			if d := b.Get([]byte(key)); d != nil {
				data = append([]byte(nil), d...)
			}
		}
		return nil
	})
	return data, err
}

// GetJSON reads the value under key into v; false when there is none.
func (c *Catalog) GetJSON(bucket Bucket, key string, v any) (bool, error) {
	data, err := c.Value(bucket, key)
	if err != nil || data == nil {
		return false, err
	}
	return true, json.Unmarshal(data, v)
}

// PutJSON stores v as JSON under key, in place of what was there.
func (c *Catalog) PutJSON(bucket Bucket, key string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return c.PutAll(bucket, []KV{{[]byte(key), data}})
}

// Delete removes the value under key (a finished journal).
func (c *Catalog) Delete(bucket Bucket, key string) error {
	return c.db.Update(func(tx *bolt.Tx) error { return tx.Bucket([]byte(bucket)).Delete([]byte(key)) })
}

// Each calls fn with every key and value of a side bucket, in key order
// (newest first with reverse, the keys being times), until fn returns an
// error, which Each returns. The bytes are valid only during the call.
func (c *Catalog) Each(bucket Bucket, reverse bool, fn func(key, value []byte) error) error {
	return c.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucket))
		if b == nil {
			return nil
		}
		cur := b.Cursor()
		first, next := cur.First, cur.Next
		if reverse {
			first, next = cur.Last, cur.Prev
		}
		for k, v := first(); k != nil; k, v = next() {
			if err := fn(k, v); err != nil {
				return err
			}
		}
		return nil
	})
}

// KV is one key and value of a side bucket.
type KV struct{ Key, Value []byte }

// PutAll stores every pair in one transaction, making the bucket if need
// be (BucketRuns is made on first use).
func (c *Catalog) PutAll(bucket Bucket, pairs []KV) error {
	return c.db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists([]byte(bucket))
		if err != nil {
			return err
		}
		for _, p := range pairs {
			if err := b.Put(p.Key, p.Value); err != nil {
				return err
			}
		}
		return nil
	})
}

// PutNewest is PutJSON that then drops the first keys (the oldest, the
// keys being times) beyond keep, in the same transaction.
func (c *Catalog) PutNewest(bucket Bucket, key string, v any, keep int) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return c.db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists([]byte(bucket))
		if err != nil {
			return err
		}
		if err := b.Put([]byte(key), data); err != nil {
			return err
		}
		cur := b.Cursor()
		for n, k := b.Stats().KeyN, []byte(nil); n > keep; n-- {
			if k, _ = cur.First(); k == nil {
				break
			}
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
}
