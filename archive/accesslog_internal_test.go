package archive

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"path/filepath"
	"strings"
	"testing"

	"github.com/conserva/conserva/accesslog"
	"github.com/conserva/conserva/storage"
)

func appendAccess(t *testing.T, path string, n int) {
	t.Helper()
	for range n {
		if _, err := accesslog.Append(path, accesslog.Record{User: "anna", Role: "auditor", Action: "audit", Result: "ok"}); err != nil {
			t.Fatal(err)
		}
	}
}

// TestAccessLogSealResumed: a seal killed after its journal cut the access
// log resumes with the same records, whatever was appended meanwhile; the
// records appended go into the next seal's package, which holds only them;
// the evidence records of the resumed package fit the tree read back from
// its index (segment included).
func TestAccessLogSealResumed(t *testing.T) {
	a, err := Open(filepath.Join(t.TempDir(), "a"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	ctx := context.Background()
	sum := sha256.Sum256([]byte("one"))
	id := hex.EncodeToString(sum[:])
	if _, err := a.Store.Put(ctx, storage.MessageKey(id), bytes.NewReader([]byte("one")), id); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Catalog.Insert([]*Record{{ID: id, Key: storage.MessageKey(id), Size: 3}}); err != nil {
		t.Fatal(err)
	}
	logPath := a.AccessLogPath()
	appendAccess(t, logPath, 3)
	// The run that was killed: its journal, with records 1 to 3, written.
	if j, _, err := a.nextJournal(ctx, &sealKit{}); err != nil || j.AccessLog == nil || j.AccessLog.Last != 3 {
		t.Fatalf("journal %+v %v", j, err)
	}
	appendAccess(t, logPath, 2) // the server goes on
	pkgs, _, err := a.Seal(ctx, SealOptions{})
	if err != nil || len(pkgs) != 1 || pkgs[0].Messages != 1 || pkgs[0].AccessLog[:4] != "1-3-" {
		t.Fatalf("resumed seal: %+v %v", pkgs, err)
	}
	objs, err := a.packageObjects(ctx, pkgs[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	var leaves [][]byte
	validationFiles := 0
	for _, o := range objs {
		leaves = append(leaves, o.SHA256)
		if strings.HasPrefix(o.Name, validationDir) {
			validationFiles++
		}
	}
	// 5 package files, the message, its metadata, its aggregazione,
	// metadata.tar that holds them, the log segment, and the chains'
	// validation data.
	if validationFiles == 0 || len(objs) != 5+5+validationFiles {
		t.Fatalf("%d objects", len(objs))
	}
	sealedTree(t, a, pkgs[0].ID, id, leaves)
	// The next seal: only the two records appended meanwhile.
	pkgs, _, err = a.Seal(ctx, SealOptions{})
	if err != nil || len(pkgs) != 1 || pkgs[0].Messages != 0 || pkgs[0].AccessLog[:4] != "4-5-" {
		t.Fatalf("the next seal: %+v %v", pkgs, err)
	}
	c, err := a.CheckAccessLog(ctx, true)
	if err != nil || !c.OK() || c.Segments != 2 || c.Sealed.Line != 5 || c.Unsealed != 0 {
		t.Fatalf("check: %+v %v", c, err)
	}
	// Nothing new: no package.
	if pkgs, _, err = a.Seal(ctx, SealOptions{}); err != nil || len(pkgs) != 0 {
		t.Fatalf("a seal with nothing new: %+v %v", pkgs, err)
	}
	// Audit finds everything whole, the segments included.
	rep, err := a.Audit(ctx, 0, nil, nil)
	if err != nil || rep.AccessLog == nil || rep.AccessLog.Segments != 2 {
		t.Fatalf("audit: %+v %v", rep.AccessLog, err)
	}
	for _, p := range rep.Problems {
		if p.Key == accesslog.FileName || bytes.Contains([]byte(p.Key), []byte("accesslog")) {
			t.Errorf("audit: %s: %s", p.Key, p.Problem)
		}
	}
}
