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

// heldEvidence is a new local store, its folder, and "evidence" held with
// its hash.
func heldEvidence(t *testing.T) (string, *storage.Local, *storage.Hashed) {
	t.Helper()
	dir := t.TempDir()
	l, err := storage.OpenLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	return dir, l, storage.NewHashed([]byte("evidence"))
}

// Bytes whose hash the store knows are stored as they are, and only under
// that hash: an announced hash that differs, or a reader already partly
// read, is refused or checked as any other content.
func TestLocalPutHashed(t *testing.T) {
	ctx := context.Background()
	dir, l, h := heldEvidence(t)
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

// Held bytes are written without a look at the name first: a name
// already taken (here by other bytes, as damage would leave) is found when
// the link refuses it, the stored object is compared and never replaced,
// and nothing of the refused write stays behind.
func TestLocalPutHashedOverExisting(t *testing.T) {
	ctx := context.Background()
	dir, l, h := heldEvidence(t)
	key := storage.MessageKey(h.Hex())
	p := filepath.Join(dir, filepath.FromSlash(key))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte("damaged!"), 0o444); err != nil {
		t.Fatal(err)
	}
	if _, err := l.PutDeferred(ctx, key, h.Reader(), h.Hex()); !errors.Is(err, storage.ErrConflict) {
		t.Fatalf("put over other bytes: %v, want ErrConflict", err)
	}
	if got, _ := os.ReadFile(p); string(got) != "damaged!" {
		t.Fatalf("the stored object was replaced: %q", got)
	}
	entries, _ := os.ReadDir(filepath.Dir(p))
	left, _ := os.ReadDir(filepath.Join(dir, ".tmp"))
	if len(entries) != 1 || len(left) != 0 {
		t.Fatalf("left behind: %d entries beside the object, %d in .tmp", len(entries)-1, len(left))
	}
	// The same bytes again: found, not written twice.
	if err := os.Chmod(p, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte("evidence"), 0o444); err != nil {
		t.Fatal(err)
	}
	res, err := l.PutDeferred(ctx, key, h.Reader(), h.Hex())
	if err != nil || !res.Existed || res.SHA256 != h.Hex() {
		t.Fatalf("put over the same bytes: %+v %v", res, err)
	}
}
