package archive

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/conserva/conserva/accesslog"
	"github.com/conserva/conserva/storage"
)

// TestForgedAccessLogMark: whoever can write the catalog moves the
// "sealed up to" mark past records not yet sealed (to keep them out of
// every package, then change them at will). The next seal starts after
// them; the check names the records sealed nowhere.
func TestForgedAccessLogMark(t *testing.T) {
	a, err := Open(filepath.Join(t.TempDir(), "a"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	ctx := context.Background()
	msg := func(s string) {
		sum := sha256.Sum256([]byte(s))
		id := hex.EncodeToString(sum[:])
		if _, err := a.Store.Put(ctx, storage.MessageKey(id), bytes.NewReader([]byte(s)), id); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Catalog.Insert([]*Record{{ID: id, Key: storage.MessageKey(id), Size: int64(len(s))}}); err != nil {
			t.Fatal(err)
		}
	}
	logPath := a.AccessLogPath()
	appendAccess(t, logPath, 3)
	msg("one")
	if _, _, err := a.Seal(ctx, SealOptions{}); err != nil {
		t.Fatal(err)
	}
	appendAccess(t, logPath, 3) // records 4 to 6, not sealed yet
	live, _ := os.ReadFile(logPath)
	lines := strings.SplitAfter(string(live), "\n")
	off := int64(len(strings.Join(lines[:5], "")))
	if err := a.Catalog.putJSON(bucketMeta, accessLogMarkKey, accesslog.Mark{Line: 5, Offset: off}); err != nil {
		t.Fatal(err)
	}
	msg("two")
	pkgs, _, err := a.Seal(ctx, SealOptions{})
	if err != nil || len(pkgs) != 1 {
		t.Fatal(pkgs, err)
	}
	c, err := a.CheckAccessLog(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	named := false
	for _, p := range c.Problems {
		named = named || p.Line == 4 && strings.Contains(p.Problem, "no sealed segment")
	}
	if !named {
		t.Fatalf("records 4 and 5, skipped by a forged mark, are not named: %+v (sealed in %s)", c.Problems, pkgs[0].AccessLog)
	}
}
