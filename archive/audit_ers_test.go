package archive_test

import (
	"context"
	"crypto"
	"crypto/sha256"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/conserva/conserva/archive"
	"github.com/conserva/conserva/ers"
	"github.com/conserva/conserva/internal/testpki"
	"github.com/conserva/conserva/internal/testutil"
	"github.com/conserva/conserva/pec"
	"github.com/conserva/conserva/segment"
	"github.com/conserva/conserva/timestamp"
)

// sealedWithERS seals n messages with the development keys.
func sealedWithERS(t *testing.T, n int) (*archive.Archive, archive.PackageRecord) {
	t.Helper()
	_, a := ingestSome(t, n)
	pkgs, _, err := a.Seal(context.Background(), archive.SealOptions{})
	if err != nil || len(pkgs) != 1 {
		t.Fatal(pkgs, err)
	}
	return a, pkgs[0]
}

func auditNow(t *testing.T, a *archive.Archive) archive.AuditReport {
	t.Helper()
	rep, err := a.Audit(context.Background(), 0, pec.NewTrustStore(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// overwrite replaces a stored (read-only) file, as an attacker with disk access would.
func overwrite(t *testing.T, path string, data []byte) {
	t.Helper()
	os.Chmod(path, 0o644)
	if err := os.WriteFile(path, data, 0o444); err != nil {
		t.Fatal(err)
	}
}

// record reads version v of an object's evidence record from its
// package's segment; ok is false when the segment has none.
func record(t *testing.T, a *archive.Archive, pkg, name string, v int) ([]byte, bool) {
	t.Helper()
	seg, member := testutil.ERSSegment(packageDir(a, pkg), name, v)
	f, err := os.Open(seg)
	if err != nil {
		return nil, false
	}
	defer f.Close()
	ix, err := segment.ReadIndex(f)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := ix.Lookup(member); !ok {
		return nil, false
	}
	return testutil.ReadMember(t, seg, member), true
}

// editRecord changes (or, with nil, removes) version v of an object's record.
func editRecord(t *testing.T, a *archive.Archive, pkg, name string, v int, fn func([]byte) []byte) {
	t.Helper()
	seg, member := testutil.ERSSegment(packageDir(a, pkg), name, v)
	testutil.EditMember(t, seg, member, fn)
}

func ersProblem(rep archive.AuditReport, key, words string) bool {
	for _, p := range rep.Problems {
		if strings.HasSuffix(p.Key, key) && strings.Contains(p.Problem, words) {
			return true
		}
	}
	return false
}

func TestAuditVerifiesEvidenceRecords(t *testing.T) {
	a, p := sealedWithERS(t, 3)
	rep := auditNow(t, a)
	if len(rep.Problems) != 0 || rep.ERS == nil || rep.ERS.Checked != 3+6 || rep.ERS.Valid != 3+6 || len(rep.ERS.Due) != 0 {
		t.Fatalf("intact archive: %+v %+v", rep.Problems, rep.ERS)
	}
	// Due within a margin longer than the TSA certificate's life.
	a.Config.ERS.RenewMargin = "31y"
	rep = auditNow(t, a)
	if len(rep.ERS.Due) != 1 || rep.ERS.Due[0].Package != p.ID || !strings.Contains(strings.Join(rep.Notes, "\n"), "run conserva renew") {
		t.Fatalf("due: %+v %v", rep.ERS.Due, rep.Notes)
	}
	a.Config.ERS.RenewMargin = "2y"

	var ids []string
	a.Catalog.Scan(func(r *archive.Record) error { ids = append(ids, r.ID); return nil })
	dir := packageDir(a, p.ID)

	// A flipped byte in a record, inside its package's segment.
	good, ok := record(t, a, p.ID, ids[0], 1)
	if !ok {
		t.Fatal("no record")
	}
	editRecord(t, a, p.ID, ids[0], 1, func(b []byte) []byte { b[len(b)-40] ^= 1; return b })
	if rep := auditNow(t, a); !ersProblem(rep, ids[0]+".ers", "evidence record invalid") {
		t.Fatalf("flipped byte in the record: %+v", rep.Problems)
	}
	restore := func([]byte) []byte { return good }
	editRecord(t, a, p.ID, ids[0], 1, restore)

	// A record from a TSA outside the pinned roots.
	other := testpki.Root(t, "Other TSA CA", testpki.Options{CA: true})
	tsa := other.Issue(t, "Other TSA", testpki.Options{TimeStamping: true})
	r0, _ := a.Catalog.Get(ids[0])
	sum := sha256.Sum256(readObject(t, a, r0.Key))
	forged, err := ers.Create(context.Background(), &timestamp.Dev{Cert: tsa.Cert, Key: tsa.Key, Chain: tsa.Chain}, crypto.SHA256, [][]byte{sum[:]})
	if err != nil {
		t.Fatal(err)
	}
	editRecord(t, a, p.ID, ids[0], 1, func([]byte) []byte { return forged[0] })
	if rep := auditNow(t, a); !ersProblem(rep, ids[0]+".ers", "untrusted") {
		t.Fatalf("record from another TSA: %+v", rep.Problems)
	}
	editRecord(t, a, p.ID, ids[0], 1, restore)

	// A flipped byte in a package file: its record no longer proves it.
	chain := filepath.Join(dir, "signer-chain.pem")
	pem, _ := os.ReadFile(chain)
	pem[len(pem)/2] ^= 1
	overwrite(t, chain, pem)
	rep = auditNow(t, a)
	if !ersProblem(rep, "ers/signer-chain.pem.ers", "does not prove") || rep.ERS.Valid != 3+6-1 {
		t.Fatalf("flipped byte in a package file: %+v %+v", rep.Problems, rep.ERS)
	}
	// A flipped byte in a message: named once, as damaged.
	r1, _ := a.Catalog.Get(ids[1])
	msgPath := filepath.Join(a.Dir, "store", filepath.FromSlash(r1.Key))
	msg, _ := os.ReadFile(msgPath)
	msg[len(msg)/2] ^= 1
	overwrite(t, msgPath, msg)
	rep = auditNow(t, a)
	if !ersProblem(rep, r1.Key, "damaged") || ersProblem(rep, ids[1]+".ers", "") {
		t.Fatalf("flipped byte in a message: %+v", rep.Problems)
	}
	// A missing record is named.
	editRecord(t, a, p.ID, ids[2], 1, func([]byte) []byte { return nil })
	if rep := auditNow(t, a); !ersProblem(rep, ids[2]+".ers", "missing") {
		t.Fatalf("missing record: %+v", rep.Problems)
	}
}
