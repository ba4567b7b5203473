package catbench

import (
	"path/filepath"
	"testing"

	"github.com/conserva/conserva/archive"
)

// TestGenerate makes a small catalog and finds a dossier in it.
func TestGenerate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a")
	if err := Generate(dir, 400, nil); err != nil {
		t.Fatal(err)
	}
	openWithDossier(t, dir)
}

// openWithDossier opens the archive at dir and checks dossier 17 is there,
// whole.
func openWithDossier(t *testing.T, dir string) *archive.Archive {
	t.Helper()
	a, err := archive.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	d, err := a.FindDossier(MessageID(17))
	if err != nil || len(d.Messages)+len(d.Receipts) != 4 {
		t.Fatalf("%+v %v", d, err)
	}
	return a
}

// TestLoad makes the same small catalog by loading it, and finds a dossier
// and a subject word in it (catalog.TestLoadCatalogIsInsert compares every
// key and value with an inserted one).
func TestLoad(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a")
	if err := Load(dir, t.TempDir(), 400); err != nil {
		t.Fatal(err)
	}
	a := openWithDossier(t, dir)
	hits := 0
	a.Search(archive.Query{Subject: "pratica17"}, func(*archive.Record) error { hits++; return nil })
	if n, _ := a.Catalog.Count(); hits != 4 || n != 400 {
		t.Fatalf("%d hits for one dossier's word, %d messages", hits, n)
	}
}

func BenchmarkGenerate(b *testing.B) {
	for range b.N {
		if err := Generate(filepath.Join(b.TempDir(), "a"), 20000, nil); err != nil {
			b.Fatal(err)
		}
	}
}
