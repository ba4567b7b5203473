package archive_test

import (
	"context"
	"crypto"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/conserva/conserva/archive"
	"github.com/conserva/conserva/ers"
)

// latestStamps verifies every message's record of version v against its
// stored bytes and returns the archive timestamps of one of them.
func latestStamps(t *testing.T, a *archive.Archive, pkg string, v int) []ers.Stamp {
	t.Helper()
	pool := devTSAPool(t, a)
	var stamps []ers.Stamp
	n := 0
	a.Catalog.Scan(func(r *archive.Record) error {
		name := r.ID
		rec, ok := record(t, a, pkg, name, v)
		if !ok {
			t.Fatalf("%s: no record of version %d", name, v)
		}
		res, err := ers.VerifyData(context.Background(), rec, readObject(t, a, r.Key), pool, time.Now())
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		stamps = res.Stamps
		n++
		return nil
	})
	if n == 0 {
		t.Fatal("no messages")
	}
	return stamps
}

func TestRenewTimestampThenHashTree(t *testing.T) {
	a, p := sealedWithERS(t, 3)
	ctx := context.Background()
	dir := packageDir(a, p.ID)
	v1, _ := os.ReadFile(filepath.Join(dir, "ers", "records.tar"))

	// Not due with the default margin (the development TSA's certificate
	// lasts 30 years).
	sum, err := a.Renew(ctx, archive.RenewOptions{})
	if err != nil || sum.Kind != "" || sum.Records != 0 {
		t.Fatalf("nothing due: %+v %v", sum, err)
	}
	// Due within a longer margin.
	a.Config.ERS.RenewMargin = "31y"
	sum, err = a.Renew(ctx, archive.RenewOptions{})
	if err != nil || sum.Kind != "timestamp renewal" || sum.Records != 3+6 || len(sum.Packages) != 1 {
		t.Fatalf("due: %+v %v", sum, err)
	}
	a.Config.ERS.RenewMargin = ""
	if s := latestStamps(t, a, p.ID, 2); len(s) != 2 || s[1].Kind != "timestamp renewal" {
		t.Fatalf("after timestamp renewal: %+v", s)
	}
	// Nothing rewritten: version 1 is as it was.
	if now, _ := os.ReadFile(filepath.Join(dir, "ers", "records.tar")); len(v1) == 0 || string(now) != string(v1) {
		t.Fatal("version 1 was rewritten")
	}
	sum, err = a.Renew(ctx, archive.RenewOptions{Digest: crypto.SHA512})
	if err != nil || sum.Kind != "hash-tree renewal" || sum.Records != 3+6 {
		t.Fatalf("hash-tree: %+v %v", sum, err)
	}
	s := latestStamps(t, a, p.ID, 3)
	if len(s) != 3 || s[2].Kind != "hash-tree renewal" || s[2].Digest != crypto.SHA512 {
		t.Fatalf("after hash-tree renewal: %+v", s)
	}
	// And timestamp renewal of the SHA-512 chain, forced.
	if sum, err = a.Renew(ctx, archive.RenewOptions{Force: true}); err != nil || sum.Records != 3+6 {
		t.Fatalf("forced: %+v %v", sum, err)
	}
	if s := latestStamps(t, a, p.ID, 4); len(s) != 4 || s[3].Digest != crypto.SHA512 {
		t.Fatalf("after forced renewal: %+v", s)
	}
	rep := auditNow(t, a)
	if len(rep.Problems) != 0 || rep.ERS.Valid != 3+6 {
		t.Fatalf("audit after renewals: %+v %+v", rep.Problems, rep.ERS)
	}
}

// TestRenewLeavesOutABrokenRecord: a record that does not verify is not
// extended, and named; the others are renewed.
func TestRenewLeavesOutABrokenRecord(t *testing.T) {
	a, p := sealedWithERS(t, 3)
	var id string
	a.Catalog.Scan(func(r *archive.Record) error { id = r.ID; return nil })
	editRecord(t, a, p.ID, id, 1, func(rec []byte) []byte { rec[len(rec)-40] ^= 1; return rec })
	sum, err := a.Renew(context.Background(), archive.RenewOptions{Force: true})
	if err != nil || sum.Records != 3+6-1 || len(sum.Skipped) != 1 {
		t.Fatalf("%+v %v", sum, err)
	}
	if _, ok := record(t, a, p.ID, id, 2); ok {
		t.Fatal("a broken record was renewed")
	}
}
