package archive

import (
	"encoding/json"
	"fmt"

	"github.com/conserva/conserva/runs"
	bolt "go.etcd.io/bbolt"
)

// bucketRuns holds the run history (package runs), keyed by start time;
// made on the first run recorded, so older catalogs need nothing.
var bucketRuns = []byte("runs")

// RecordRun keeps a run's summary and drops the oldest beyond runs.Keep.
func (c *Catalog) RecordRun(r runs.Run) error {
	data, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return c.db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketRuns)
		if err != nil {
			return err
		}
		if err := b.Put(r.Key(), data); err != nil {
			return err
		}
		cur := b.Cursor()
		for n, k := b.Stats().KeyN, []byte(nil); n > runs.Keep; n-- {
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

// Runs returns up to limit runs, newest first.
func (c *Catalog) Runs(limit int) ([]runs.Run, error) {
	var out []runs.Run
	err := c.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketRuns)
		if b == nil {
			return nil
		}
		cur := b.Cursor()
		for k, v := cur.Last(); k != nil && len(out) < limit; k, v = cur.Prev() {
			var r runs.Run
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("run %.64q: %w (%v)", k, ErrCatalogDamaged, err)
			}
			out = append(out, r)
		}
		return nil
	})
	return out, err
}
