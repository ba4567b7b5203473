package catalog

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/conserva/conserva/internal/testutil"
)

// pagedCatalog is a catalog of 3,000 records of some hundreds of KB, and
// its path.
func pagedCatalog(t *testing.T) (string, *Catalog, []*Record) {
	t.Helper()
	path := t.TempDir() + "/catalog.db"
	c, err := Open(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	var recs []*Record
	for i := range 3000 {
		id := fmt.Sprintf("%064x", i)
		recs = append(recs, &Record{ID: id, Key: "messages/" + id[:2] + "/" + id + ".eml", Subject: strings.Repeat("oggetto ", 100), Sources: []string{"src"}})
	}
	if _, err := c.Insert(recs); err != nil {
		t.Fatal(err)
	}
	return path, c, recs
}

// After ReleaseMapped the catalog's pages read so far no longer count in
// the process's resident memory, and every record still reads back.
func TestReleaseMappedDropsResidentPages(t *testing.T) {
	path, c, recs := pagedCatalog(t)
	read := func() {
		n := 0
		if err := c.Scan(func(*Record) error { n++; return nil }); err != nil || n != len(recs) {
			t.Fatalf("scan: %d records, %v", n, err)
		}
	}
	// Each record looked up on its own: Scan drops its pages as it goes
	// (every 1,024 records), which left a varying remainder to measure.
	for _, r := range recs {
		if got, err := c.Get(r.ID); err != nil || got == nil {
			t.Fatalf("get %s: %v", r.ID, err)
		}
	}
	before := testutil.MappedKB(t, path)
	if err := c.ReleaseMapped(); err != nil {
		t.Fatal(err)
	}
	after := testutil.MappedKB(t, path)
	if before < 256 || after > before/10 { // the records compress: some hundreds of KB
		t.Fatalf("resident catalog pages: %d KB before, %d KB after ReleaseMapped", before, after)
	}
	read()
	t.Logf("resident catalog pages: %d KB before, %d KB after", before, after)
}
