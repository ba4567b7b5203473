package storage

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Both ways of naming an unnamed file (by its descriptor, and through
// /proc where the descriptor way is refused) give a read-only object
// holding exactly its bytes, and neither replaces an existing one.
func TestLocalLinksEitherWay(t *testing.T) {
	for _, viaProc := range []bool{false, true} {
		ctx := context.Background()
		dir := t.TempDir()
		l, err := OpenLocal(dir)
		if err != nil {
			t.Fatal(err)
		}
		l.procLink.Store(viaProc)
		h := sha256.Sum256([]byte("evidence"))
		id := hex.EncodeToString(h[:])
		key := MessageKey(id)
		if _, err := l.PutDeferred(ctx, key, strings.NewReader("evidence"), id); err != nil {
			t.Fatalf("via /proc %v: %v", viaProc, err)
		}
		p := filepath.Join(dir, filepath.FromSlash(key))
		st, err := os.Stat(p)
		if err != nil || st.Mode().Perm() != 0o444 {
			t.Fatalf("via /proc %v: mode %v (%v), want 0444", viaProc, st.Mode(), err)
		}
		if b, _ := os.ReadFile(p); string(b) != "evidence" {
			t.Fatalf("via /proc %v: stored %q", viaProc, b)
		}
		if _, err := l.PutDeferred(ctx, key, strings.NewReader("forgery!"), ""); !errors.Is(err, ErrConflict) {
			t.Fatalf("via /proc %v: a different content under the same key: %v, want ErrConflict", viaProc, err)
		}
		if b, _ := os.ReadFile(p); string(b) != "evidence" {
			t.Fatalf("via /proc %v: replaced by %q", viaProc, b)
		}
		// Held bytes are linked without a look first: the link itself
		// finds the name taken.
		res, err := l.PutDeferred(ctx, key, NewHashed([]byte("evidence")).Reader(), id)
		if err != nil || !res.Existed {
			t.Fatalf("via /proc %v: the same bytes again: %+v %v, want existed", viaProc, res, err)
		}
		if entries, _ := os.ReadDir(filepath.Dir(p)); len(entries) != 1 {
			t.Fatalf("via /proc %v: %d entries beside the object", viaProc, len(entries)-1)
		}
	}
}
