package archive

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/conserva/conserva/ingest"
	"github.com/conserva/conserva/internal/testutil"
	"github.com/conserva/conserva/pec"
	"github.com/conserva/conserva/storage"
)

// A message stored twice, once under a name in the wrong folder, is one
// record after a rebuild (the catalog is loaded in one pass, which takes
// each id once), with both names among its sources, and the rebuild
// counts both objects read.
func TestRebuildKeepsOneRecordOfAMessageStoredTwice(t *testing.T) {
	dir := t.TempDir()
	a, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	file := testutil.Mbox(t, 3)
	src, err := ingest.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if sum, err := a.Ingest(ctx, []ingest.Source{src}, IngestOptions{}); err != nil || sum.Archived != 3 {
		t.Fatalf("ingest: %+v %v", sum, err)
	}
	var id string
	_ = a.Catalog.Scan(func(r *Record) error { id = r.ID; return nil })
	raw, err := os.ReadFile(filepath.Join(dir, "store", storage.MessageKey(id)))
	if err != nil {
		t.Fatal(err)
	}
	folder := "00"
	if id[:2] == folder {
		folder = "01"
	}
	stray := "messages/" + folder + "/" + id + ".eml"
	if err := os.MkdirAll(filepath.Join(dir, "store", "messages", folder), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "store", stray), raw, 0o444); err != nil {
		t.Fatal(err)
	}
	// A catalog lost: nothing to carry the sources from.
	a.Catalog.Close()
	os.Remove(filepath.Join(dir, "catalog.db"))
	if a.Catalog, err = OpenCatalog(filepath.Join(dir, "catalog.db"), 0); err != nil {
		t.Fatal(err)
	}
	sum, err := a.Rebuild(ctx, pec.NewTrustStore(), nil)
	if err != nil || sum.Messages != 4 || sum.Errors != 0 {
		t.Fatalf("rebuild: %+v %v", sum, err)
	}
	if n, err := a.Catalog.Count(); err != nil || n != 3 {
		t.Fatalf("%d records after the rebuild (%v), want 3", n, err)
	}
	r, err := a.Catalog.Get(id)
	if err != nil || r == nil || len(r.Sources) != 2 || !strings.Contains(strings.Join(r.Sources, " "), stray) {
		t.Fatalf("the message stored twice: %+v %v", r, err)
	}
}
