package archive_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/conserva/conserva/archive"
)

// TestSealBoundedHeap: a package of 6,000 messages is sealed holding a
// fraction of what its records, metadata and index weigh: the records are
// read a chunk at a time, the index's lists are spooled to disk, the index
// is written into the store as it is made and signed by its hash. Sealing
// held every record decoded, the index's lists, the index twice and every
// metadata document: 6 KB a message here, 15 KB at 100,000 (1.5 GB).
func TestSealBoundedHeap(t *testing.T) {
	if testing.Short() {
		t.Skip("seals 6,000 messages")
	}
	_, a := setup(t)
	const n = 6000
	ingestMany(t, a, n)
	var pkgs []archive.PackageRecord
	var err error
	peak := peakHeap(t, func() { pkgs, _, err = a.Seal(context.Background(), archive.SealOptions{}) })
	if err != nil || len(pkgs) != 1 || pkgs[0].Messages != n {
		t.Fatal(pkgs, err)
	}
	st, err := os.Stat(filepath.Join(packageDir(a, pkgs[0].ID), "index.xml"))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("index.xml: %d KB, heap peak %d B a message", st.Size()>>10, peak/n)
	// About 2 KB a message now (3 KB with the evidence records, which
	// still hold every object of the package), the index 1.4 KB.
	if bound := uint64(5 * st.Size() / 2); peak > bound {
		t.Errorf("heap peak %d KB sealing %d messages, over 2.5 times the package's index (%d KB)", peak>>10, n, st.Size()>>10)
	}
}
