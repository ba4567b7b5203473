package storage_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/conserva/conserva/storage"
)

// The store remembers the directories it made; one removed behind its
// back is made again, not an error.
func TestLocalRemakesARemovedDirectory(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	l, err := storage.OpenLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.PutDeferred(ctx, "packages/p1/a.xml", strings.NewReader("a"), ""); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(dir, "packages", "p1")); err != nil {
		t.Fatal(err)
	}
	if _, err := l.PutDeferred(ctx, "packages/p1/b.xml", strings.NewReader("b"), ""); err != nil {
		t.Fatalf("put into a removed directory: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "packages", "p1", "b.xml")); err != nil || string(b) != "b" {
		t.Fatalf("stored %q (%v)", b, err)
	}
}
