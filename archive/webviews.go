package archive

import (
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// Audits calls fn for every recorded audit run, oldest first (for the web
// interface's audit dashboard).
func (c *Catalog) Audits(fn func(AuditReport) error) error {
	return c.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketAudits)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			var rep AuditReport
			if err := json.Unmarshal(v, &rep); err != nil {
				return fmt.Errorf("audit %.64q: %w (%v)", k, ErrCatalogDamaged, err)
			}
			return fn(rep)
		})
	})
}

// Records returns the records of ids that exist, in one read transaction
// (a search page reads hundreds).
func (c *Catalog) Records(ids []string) ([]*Record, error) { return c.records(ids) }
