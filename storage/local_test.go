package storage_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/conserva/conserva/storage"
)

func sum(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

func TestLocalWriteOnce(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	l, err := storage.OpenLocal(dir)
	var s storage.Store = l
	if err != nil {
		t.Fatal(err)
	}
	key := storage.MessageKey(sum("evidence"))
	res, err := s.Put(ctx, key, strings.NewReader("evidence"), sum("evidence"))
	if err != nil || res.Existed || res.SHA256 != sum("evidence") || res.Size != 8 {
		t.Fatalf("first put: %+v %v", res, err)
	}
	if err := s.(interface{ SyncDirs(context.Context) error }).SyncDirs(ctx); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(filepath.Join(dir, filepath.FromSlash(key)))
	if err != nil || st.Mode().Perm() != 0o444 {
		t.Fatalf("stored file mode %v (%v), want 0444", st.Mode(), err)
	}
	res, err = s.Put(ctx, key, strings.NewReader("evidence"), "")
	if err != nil || !res.Existed {
		t.Fatalf("same content again: %+v %v", res, err)
	}
	if _, err := s.Put(ctx, key, strings.NewReader("forgery!"), ""); !errors.Is(err, storage.ErrConflict) {
		t.Fatalf("different content under the same key: %v, want ErrConflict", err)
	}
	r, err := s.Get(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(r)
	r.Close()
	if string(got) != "evidence" {
		t.Fatalf("content after a conflicting put: %q", got)
	}
	var mismatch *storage.HashMismatchError
	if _, err := s.Put(ctx, "messages/00/x.eml", strings.NewReader("abc"), sum("abd")); !errors.As(err, &mismatch) {
		t.Fatalf("announced hash not checked: %v", err)
	}
	if _, err := s.Stat(ctx, "messages/00/x.eml"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("an object with the wrong hash became visible: %v", err)
	}
	for _, bad := range []string{"../x", "/etc/passwd", "a/../../b", ".tmp/x", ""} {
		if _, err := s.Put(ctx, bad, strings.NewReader("x"), ""); err == nil {
			t.Errorf("key %q accepted", bad)
		}
	}
	var keys []string
	if err := s.List(ctx, "messages/", func(i storage.Info) error { keys = append(keys, i.Key); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || keys[0] != key {
		t.Fatalf("list: %v", keys)
	}
}

// A link put in the place of an object (to /dev/zero) is never followed:
// reading it is an error, not an endless read.
func TestLocalGetRefusesALink(t *testing.T) {
	dir := t.TempDir()
	s, err := storage.OpenLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "messages", "aa")
	os.MkdirAll(p, 0o755)
	os.Symlink("/dev/zero", filepath.Join(p, "x.eml"))
	if _, err := s.Get(context.Background(), "messages/aa/x.eml"); err == nil {
		t.Fatal("a link to /dev/zero was opened")
	}
}
