package archive

import (
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// releasingMapped drops the pages a long read transaction touched while
// it is still open (the page check reads the whole catalog in one; bbolt's
// Check in a goroutine of its own), and every record still reads back.
func TestReleasingMappedDropsPagesDuringOneTransaction(t *testing.T) {
	path, c, recs := pagedCatalog(t)
	// Without the watcher, a read of every page leaves them resident.
	var touched, left int
	err := c.db.View(func(tx *bolt.Tx) error {
		err := walkBuckets(tx)
		touched = mappedKB(t, path)
		return err
	})
	_ = c.ReleaseMapped()
	stop := c.releasingMapped(64 << 10) // the catalog is some hundreds of KB
	if err == nil {
		err = c.db.View(func(tx *bolt.Tx) error {
			if err := walkBuckets(tx); err != nil {
				return err
			}
			// The watcher looks every releaseCheckPeriod: wait for it (no
			// bound on how soon, only that it happens inside the transaction).
			for start := time.Now(); time.Since(start) < time.Minute; time.Sleep(releaseCheckPeriod) {
				if left = mappedKB(t, path); left <= touched/10 {
					break
				}
			}
			return nil
		})
	}
	stop()
	if err != nil || touched < 256 || left > touched/10 {
		t.Fatalf("resident catalog pages: %d KB after reading every one, %d KB with the watcher while the transaction is open (err %v)", touched, left, err)
	}
	for _, p := range c.checkPages() {
		t.Errorf("page check after the release: %v", p)
	}
	n := 0
	if err := c.Scan(func(*Record) error { n++; return nil }); err != nil || n != len(recs) {
		t.Fatalf("scan: %d records, %v", n, err)
	}
	t.Logf("resident catalog pages: %d KB read, %d KB left", touched, left)
}
