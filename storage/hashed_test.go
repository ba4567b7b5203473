package storage_test

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/conserva/conserva/storage"
)

// Bytes whose hash the store knows are stored as they are, and only under
// that hash: an announced hash that differs, or a reader already partly
// read, is refused or checked as any other content.
func TestLocalPutHashed(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	l, err := storage.OpenLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	h := storage.NewHashed([]byte("evidence"))
	if h.Hex() != sum("evidence") {
		t.Fatalf("hash %s, want %s", h.Hex(), sum("evidence"))
	}

	other := storage.MessageKey(sum("other"))
	var mismatch *storage.HashMismatchError
	if _, err := l.PutDeferred(ctx, other, h.Reader(), sum("other")); !errors.As(err, &mismatch) {
		t.Fatalf("put under another hash: %v, want a hash mismatch", err)
	}
	if _, err := os.Stat(filepath.Join(dir, filepath.FromSlash(other))); !os.IsNotExist(err) {
		t.Fatalf("refused content is in the store: %v", err)
	}

	r := h.Reader()
	io.CopyN(io.Discard, r, 2) // the store gets "idence": not what was announced
	if _, err := l.PutDeferred(ctx, storage.MessageKey(h.Hex()), r, h.Hex()); !errors.As(err, &mismatch) {
		t.Fatalf("put of a partly read reader: %v, want a hash mismatch", err)
	}

	key := storage.MessageKey(h.Hex())
	res, err := l.PutDeferred(ctx, key, h.Reader(), h.Hex())
	if err != nil || res.SHA256 != h.Hex() || res.Size != 8 || res.Existed {
		t.Fatalf("put: %+v %v", res, err)
	}
	got, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(key)))
	if err != nil || string(got) != "evidence" {
		t.Fatalf("stored %q (%v)", got, err)
	}
	if err := l.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	// Again, with no hash announced: the stored object is the same one.
	res, err = l.Put(ctx, key, h.Reader(), "")
	if err != nil || !res.Existed || res.SHA256 != h.Hex() {
		t.Fatalf("second put: %+v %v", res, err)
	}
}
