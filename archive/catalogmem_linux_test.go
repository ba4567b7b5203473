package archive

import (
	"bufio"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// mappedKB is the resident size of the mapping of path in this process.
func mappedKB(t *testing.T, path string) int {
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Skip(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	in, kb := false, 0
	for sc.Scan() {
		line := sc.Text()
		if strings.Contains(line, path) {
			in = true
		} else if in && strings.HasPrefix(line, "Rss:") {
			var n int
			fmt.Sscanf(strings.TrimPrefix(line, "Rss:"), "%d", &n)
			kb += n
			in = false
		}
	}
	return kb
}

// pagedCatalog is a catalog of 3,000 records of some hundreds of KB, and
// its path.
func pagedCatalog(t *testing.T) (string, *Catalog, []*Record) {
	t.Helper()
	path := t.TempDir() + "/catalog.db"
	c, err := OpenCatalog(path, time.Second)
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
	before := mappedKB(t, path)
	if err := c.ReleaseMapped(); err != nil {
		t.Fatal(err)
	}
	after := mappedKB(t, path)
	if before < 256 || after > before/10 { // the records compress: some hundreds of KB
		t.Fatalf("resident catalog pages: %d KB before, %d KB after ReleaseMapped", before, after)
	}
	read()
	t.Logf("resident catalog pages: %d KB before, %d KB after", before, after)
}
