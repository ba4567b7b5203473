package catalog

import (
	"crypto/sha256"
	"fmt"
	"testing"
	"time"

	"github.com/conserva/conserva/internal/testutil"
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
		touched = testutil.MappedKB(t, path)
		return err
	})
	_ = c.ReleaseMapped()
	stop := c.ReleasingMapped(64 << 10) // the catalog is some hundreds of KB
	if err == nil {
		err = c.db.View(func(tx *bolt.Tx) error {
			if err := walkBuckets(tx); err != nil {
				return err
			}
			// The watcher looks every releaseCheckPeriod: wait for it (no
			// bound on how soon, only that it happens inside the transaction).
			for start := time.Now(); time.Since(start) < time.Minute; time.Sleep(releaseCheckPeriod) {
				if left = testutil.MappedKB(t, path); left <= touched/10 {
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
	for _, p := range c.CheckPages() {
		t.Errorf("page check after the release: %v", p)
	}
	n := 0
	if err := c.Scan(func(*Record) error { n++; return nil }); err != nil || n != len(recs) {
		t.Fatalf("scan: %d records, %v", n, err)
	}
	t.Logf("resident catalog pages: %d KB read, %d KB left", touched, left)
}

// A search with many hits (or a scan of every record) reads them in one
// transaction; it drops the
// pages behind it as it goes, so its resident memory does not grow with
// the hits (it held every page it read: 115 MB for 100,000 hits).
func TestSearchReleasesPagesAsItGoes(t *testing.T) {
	path := t.TempDir() + "/catalog.db"
	c, err := Open(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	const n = 20000
	day := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for start := 0; start < n; start += 5000 {
		var recs []*Record
		for i := start; i < start+5000; i++ {
			id := fmt.Sprintf("%064x", i)
			d := day.Add(time.Duration(i) * time.Minute)
			// A subject that does not compress: the records fill many pages.
			subject := fmt.Sprintf("%x", sha256.Sum256([]byte(id)))
			recs = append(recs, &Record{ID: id, Key: "messages/" + id[:2] + "/" + id + ".eml", Date: &d, Subject: subject + subject + subject, Sources: []string{"src"}})
		}
		if _, err := c.Insert(recs); err != nil {
			t.Fatal(err)
		}
	}
	reads := map[string]func(fn func(*Record) error) error{
		"search by date": func(fn func(*Record) error) error { return c.Search(Query{Since: day}, fn) },
		"search of all":  func(fn func(*Record) error) error { return c.Search(Query{}, fn) },
		"scan":           c.Scan, // scarto propose, the rebuild's passes
	}
	for q, read := range reads {
		_ = c.ReleaseMapped()
		hits, peak := 0, 0
		err := read(func(*Record) error {
			if hits++; hits%500 == 0 {
				peak = max(peak, testutil.MappedKB(t, path))
			}
			return nil
		})
		whole := 0 // every record's page, as a read without release holds them
		c.db.View(func(tx *bolt.Tx) error {
			err := walkBuckets(tx)
			whole = testutil.MappedKB(t, path)
			return err
		})
		if err != nil || hits != n || whole < 2048 || peak > whole/3 {
			t.Fatalf("%s: %d hits (%v); resident catalog pages at most %d KB while reading, %d KB for every page", q, hits, err, peak, whole)
		}
		t.Logf("%s: at most %d KB resident, %d KB for every page", q, peak, whole)
	}
}
