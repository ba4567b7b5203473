package catalog_test

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/conserva/conserva/catalog"
	"github.com/conserva/conserva/internal/catbench"
	bolt "go.etcd.io/bbolt"
)

// TestLoadCatalogIsInsert: a catalog loaded bucket by bucket in key order
// holds exactly what inserting the same records holds (records, ids, every
// index key, counts, the record sequence), keys too long for the sort
// included; only the pages differ.
func TestLoadCatalogIsInsert(t *testing.T) {
	const n = 3000
	rec := func(i int) *catalog.Record {
		r := catbench.Record(i)
		if i%500 == 7 { // an index value longer than the sort's entries
			r.Msgid = "<" + strings.Repeat("lungo", 30) + fmt.Sprint(i) + "@client.example>"
		}
		return r
	}
	dir := t.TempDir()
	inserted, loaded := filepath.Join(dir, "inserted.db"), filepath.Join(dir, "loaded.db")
	c, err := catalog.Open(inserted, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	for start := 0; start < n; start += 1000 {
		var batch []*catalog.Record
		for i := start; i < start+1000; i++ {
			batch = append(batch, rec(i))
		}
		if _, err := c.Insert(batch); err != nil {
			t.Fatal(err)
		}
	}
	c.Close()
	if err := catalog.Load(loaded, dir, n, rec, catalog.BulkLoad); err != nil {
		t.Fatal(err)
	}
	want, got := dump(t, inserted), dump(t, loaded)
	if len(want) < 15*n {
		t.Fatalf("only %d keys in the inserted catalog", len(want))
	}
	for k, v := range want {
		if g, ok := got[k]; !ok {
			t.Errorf("loaded catalog lacks %q", k)
		} else if !bytes.Equal(g, v) {
			t.Errorf("%q: loaded %q, inserted %q", k, g, v)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("loaded catalog has %q, the inserted one does not", k)
		}
	}
	// It opens, and its queries find what they find in the other.
	c, err = catalog.Open(loaded, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got, err := c.ByMessageID(catbench.MessageID(321)); err != nil || len(got) != 4 {
		t.Fatalf("%v %v", got, err)
	}
	if err := catalog.Load(loaded, dir, 1, rec, catalog.BulkLoad); err == nil {
		t.Fatal("loaded into an existing catalog")
	}
}

// TestLoadCatalogDuplicate: an id given twice is refused, not kept once.
func TestLoadCatalogDuplicate(t *testing.T) {
	err := catalog.Load(filepath.Join(t.TempDir(), "c.db"), "", 100, func(i int) *catalog.Record {
		return catbench.Record(min(i, 98))
	}, catalog.BulkLoad)
	if err == nil || !strings.Contains(err.Error(), "given twice") {
		t.Fatalf("duplicate id: %v", err)
	}
}

// dump is every bucket's keys and values ("bucket NUL key"), and each
// bucket's sequence.
func dump(t *testing.T, path string) map[string][]byte {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	out := map[string][]byte{}
	err = db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			out[string(name)+"\x00sequence"] = fmt.Append(nil, b.Sequence())
			return b.ForEach(func(k, v []byte) error {
				out[string(name)+"\x00"+string(k)] = append([]byte(nil), v...)
				return nil
			})
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
