package catalog

import (
	"crypto/sha256"
	"encoding/hex"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Marking a package's records sealed (MarkSealedIDs: read again a chunk
// at a time) takes them out of the waiting index, keeps the package and
// ends the journal in one transaction; a record already in another package, or not catalogued,
// refuses the whole package and changes nothing.
func TestMarkSealed(t *testing.T) {
	const n, sealed = markChunk*2 + 300, markChunk*2 + 100 // more than a chunk
	type pkg struct {
		ID string `json:"package"`
	}
	for _, tc := range []struct {
		name string
		mark func(c *Catalog, p string, ids []string) error
	}{
		{"ids", func(c *Catalog, p string, ids []string) error {
			return c.MarkSealedIDs(p, ids, pkg{p}, "sealing")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Open(filepath.Join(t.TempDir(), "catalog.db"), time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			var recs []*Record
			var ids []string
			for i := range n {
				r := putRecord(i)
				r.Package, r.Damage = "", ""
				recs, ids = append(recs, r), append(ids, r.ID)
			}
			recs[7].Package = "20261101T000000Z-other" // sealed before
			if _, err := c.Insert(recs); err != nil {
				t.Fatal(err)
			}
			if err := c.PutJSON(BucketMeta, "sealing", []string{"journal"}); err != nil {
				t.Fatal(err)
			}
			waiting := func() int {
				w := 0
				if err := c.Waiting(func(*Record) error { w++; return nil }); err != nil {
					t.Fatal(err)
				}
				return w
			}
			const p = "20261130T000000Z-00000001"
			sum := sha256.Sum256([]byte("nowhere"))
			for _, bad := range []struct {
				ids  []string
				want string
			}{
				{ids[:sealed], "already in package"},
				{append(append([]string(nil), ids[8:sealed]...), hex.EncodeToString(sum[:])), "not catalogued"},
			} {
				err := tc.mark(c, p, bad.ids)
				if err == nil || !strings.Contains(err.Error(), bad.want) {
					t.Fatalf("want an error saying %q, got %v", bad.want, err)
				}
				if w := waiting(); w != n-1 {
					t.Fatalf("%d records waiting after a refused package, want %d", w, n-1)
				}
				if found, _ := c.GetJSON(BucketMeta, "sealing", new([]string)); !found {
					t.Fatal("the journal ended by a refused package")
				}
			}
			if err := tc.mark(c, p, ids[8:sealed]); err != nil {
				t.Fatal(err)
			}
			if w := waiting(); w != n-1-(sealed-8) {
				t.Fatalf("%d records waiting, want %d", w, n-1-(sealed-8))
			}
			for _, i := range []int{8, markChunk + 8, sealed - 1, sealed} {
				r, err := c.Get(ids[i])
				want := p
				if i == sealed {
					want = ""
				}
				if err != nil || r.Package != want {
					t.Fatalf("record %d: package %q, want %q (%v)", i, r.Package, want, err)
				}
			}
			var got pkg
			if found, err := c.GetJSON(BucketPackages, p, &got); !found || err != nil || got.ID != p {
				t.Fatalf("the package: %v %+v %v", found, got, err)
			}
			if found, _ := c.GetJSON(BucketMeta, "sealing", new([]string)); found {
				t.Fatal("the journal is still there")
			}
			if probs := c.CheckIndexes(); len(probs) != 0 {
				t.Fatalf("indexes after marking: %v", probs)
			}
		})
	}
}
