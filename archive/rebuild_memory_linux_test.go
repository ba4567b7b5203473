package archive

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/conserva/conserva/ingest"
	"github.com/conserva/conserva/internal/testutil"
	"github.com/conserva/conserva/pec"
	"github.com/conserva/conserva/storage"
)

// A rebuild reads the old catalog whole (origins of every message it
// finds, every record it knew to mark the missing ones) and fills the new
// one: the catalogs' pages it holds resident stay at a few MB, not the
// size of the files (they grow with the archive: 280 MB at 100,000
// messages made most of a rebuild's memory).
func TestRebuildHoldsFewCatalogPages(t *testing.T) {
	if testing.Short() {
		t.Skip("rebuilds a catalog of some tens of MB")
	}
	dir := t.TempDir()
	a, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	// Messages in the store, whose origins come from the old catalog...
	const stored, gone, bound = 1000, 9000, 12 << 10 // KB
	file := testutil.Mbox(t, stored)
	src, err := ingest.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if sum, err := a.Ingest(ctx, []ingest.Source{src}, IngestOptions{Trust: pec.NewTrustStore()}); err != nil || sum.Archived != stored {
		t.Fatalf("ingest: %+v %v", sum, err)
	}
	// ...and records it alone knows, of messages gone from the store, large
	// enough to make it some tens of MB.
	noise := make([]byte, 2048)
	for start := 0; start < gone; start += 1000 {
		var recs []*Record
		for i := start; i < start+1000; i++ {
			sum := sha256.Sum256(fmt.Append(nil, "gone", i))
			id := hex.EncodeToString(sum[:])
			rand.Read(noise)
			recs = append(recs, &Record{ID: id, Key: storage.MessageKey(id), Size: 100, Kind: "not-pec", Signature: "absent", Reason: hex.EncodeToString(noise), Sources: []string{"test"}, IngestedAt: time.Now()})
		}
		if _, err := a.Catalog.Insert(recs); err != nil {
			t.Fatal(err)
		}
	}
	live := filepath.Join(dir, "catalog.db")
	size, _ := a.Catalog.Size() // in use: the file grows by steps
	if size < 3*bound<<10 {
		t.Fatalf("the old catalog holds %d KB: too small for the test to mean anything", size>>10)
	}
	_ = a.Catalog.ReleaseMapped()

	// Both catalogs' mappings (catalog.db, catalog.db.rebuilding), sampled
	// through the rebuild.
	peak := 0
	stop, done := make(chan struct{}), make(chan struct{})
	var mu sync.Mutex
	go func() {
		defer close(done)
		for {
			kb := testutil.MappedKB(t, live)
			mu.Lock()
			peak = max(peak, kb)
			mu.Unlock()
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
			}
		}
	}()
	sum, err := a.Rebuild(ctx, pec.NewTrustStore(), nil)
	close(stop)
	<-done
	if err != nil || sum.Messages != stored || sum.Missing != gone {
		t.Fatalf("rebuild: %d messages, %d missing, %v", sum.Messages, sum.Missing, err)
	}
	first := sha256.Sum256([]byte("gone0"))
	if r, err := a.Catalog.Get(hex.EncodeToString(first[:])); err != nil || r == nil || r.Damage != "missing from the store" || r.Sources[0] != "test" {
		t.Fatalf("a record the old catalog alone knew: %+v %v", r, err)
	}
	t.Logf("old catalog %d KB; resident catalog pages during the rebuild: at most %d KB", size>>10, peak)
	if peak > bound {
		t.Errorf("a rebuild from a catalog of %d KB held %d KB of catalog pages resident, over %d KB", size>>10, peak, bound)
	}
}
