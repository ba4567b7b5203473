package archive_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/conserva/conserva/archive"
	"github.com/conserva/conserva/internal/pecgen"
	"github.com/conserva/conserva/pec"
	bolt "go.etcd.io/bbolt"
)

// A catalog written before the index of waiting records existed gets it
// filled when first opened: nothing waiting is left out of the next seal,
// and nothing sealed or damaged is put in.
func TestWaitingIndexFilledForOlderCatalogs(t *testing.T) {
	w, a := ingestSome(t, 6)
	ctx := context.Background()
	if _, _, err := a.Seal(ctx, archive.SealOptions{}); err != nil {
		t.Fatal(err)
	}
	// Four more, waiting.
	in := t.TempDir()
	for i := 0; i < 4; i++ {
		raw, err := w.prov.Build(pecgen.Spec{Kind: pec.KindAccettazione, Subject: strings.Repeat("y", i+1)})
		if err != nil {
			t.Fatal(err)
		}
		writeFiles(t, in, map[string][]byte{strings.Repeat("n", i+1) + ".eml": raw})
	}
	run(t, a, pec.NewTrustStore(w.ca.Cert), in)
	dir := a.Dir
	a.Close()
	db, err := bolt.Open(filepath.Join(dir, "catalog.db"), 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error { return tx.DeleteBucket([]byte("ix_wait")) }); err != nil {
		t.Fatal(err)
	}
	db.Close()
	a, err = archive.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	n := 0
	if err := a.Catalog.Waiting(func(r *archive.Record) error {
		if r.Package != "" {
			t.Errorf("%s is sealed in %s but listed as waiting", r.ID, r.Package)
		}
		n++
		return nil
	}); err != nil || n != 4 {
		t.Fatalf("%d waiting, want 4: %v", n, err)
	}
	pkgs, _, err := a.Seal(ctx, archive.SealOptions{})
	if err != nil || len(pkgs) != 1 || pkgs[0].Messages != 4 {
		t.Fatalf("seal: %+v %v", pkgs, err)
	}
	n = 0
	a.Catalog.Waiting(func(*archive.Record) error { n++; return nil })
	if n != 0 {
		t.Fatalf("%d still waiting after the seal", n)
	}
}
