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
	a, err := archive.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	d, err := a.FindDossier(MessageID(17))
	if err != nil || len(d.Messages)+len(d.Receipts) != 4 {
		t.Fatalf("%+v %v", d, err)
	}
}

func BenchmarkGenerate(b *testing.B) {
	for range b.N {
		if err := Generate(filepath.Join(b.TempDir(), "a"), 20000, nil); err != nil {
			b.Fatal(err)
		}
	}
}
