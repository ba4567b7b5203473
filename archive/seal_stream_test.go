package archive_test

import (
	"context"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/conserva/conserva/archive"
	"github.com/conserva/conserva/storage"
)

// failingPut fails the Put of the first key ending in suffix after reading
// part of it, as a store failing halfway through an upload would.
type failingPut struct {
	storage.Store
	suffix string
	failed bool
}

func (s *failingPut) Put(ctx context.Context, key string, r io.Reader, sum string) (storage.PutResult, error) {
	if s.failed || !strings.HasSuffix(key, s.suffix) {
		return s.Store.Put(ctx, key, r, sum)
	}
	s.failed = true
	if _, err := io.CopyN(io.Discard, r, 256<<10); err != nil {
		return storage.PutResult{}, err
	}
	return storage.PutResult{}, errors.New("store down")
}

// TestSealStoppedHalfwayResumes: a seal whose store fails while it writes
// the metadata segment or the index (each streamed, over more than one
// chunk of records) stores neither, records no message as sealed, and the
// next seal completes the same package, reusing what was stored.
func TestSealStoppedHalfwayResumes(t *testing.T) {
	if testing.Short() {
		t.Skip("seals 1,500 messages twice")
	}
	for _, object := range []string{"metadata.tar", "index.xml"} {
		t.Run(object, func(t *testing.T) {
			_, a := setup(t)
			const n = 1500 // two chunks of records
			ingestMany(t, a, n)
			store := a.Store
			failing := &failingPut{Store: store, suffix: "/" + object}
			a.Store = failing
			ctx := context.Background()
			if _, _, err := a.Seal(ctx, archive.SealOptions{}); err == nil || !failing.failed || !strings.Contains(err.Error(), "store down") {
				t.Fatalf("seal with a failing store: %v (failed: %v)", err, failing.failed)
			}
			if got, _ := filepath.Glob(filepath.Join(a.Dir, "store", "packages", "*", object)); len(got) != 0 {
				t.Fatalf("a partial %s was stored: %v", object, got)
			}
			begun, _ := filepath.Glob(filepath.Join(a.Dir, "store", "packages", "*"))
			nothingSealed(t, a)
			a.Store = store
			pkgs, _, err := a.Seal(ctx, archive.SealOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if len(pkgs) != 1 || pkgs[0].Messages != n {
				t.Fatalf("resumed %+v, want one package of %d", pkgs, n)
			}
			if len(begun) == 1 && filepath.Base(begun[0]) != pkgs[0].ID {
				t.Fatalf("resumed as %s, begun as %s", pkgs[0].ID, filepath.Base(begun[0]))
			}
			if all, _ := filepath.Glob(filepath.Join(a.Dir, "store", "packages", "*")); len(all) != 1 {
				t.Fatalf("%d package directories", len(all))
			}
			checkPackage(t, a, pkgs[0].ID, filepath.Join(a.Dir, "keys", "dev-ca.pem"))
			sealed := 0
			a.Catalog.Scan(func(r *archive.Record) error {
				if r.Package == pkgs[0].ID {
					sealed++
				}
				return nil
			})
			if sealed != n {
				t.Fatalf("%d of %d messages recorded in the package", sealed, n)
			}
		})
	}
}
