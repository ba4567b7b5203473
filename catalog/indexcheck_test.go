package catalog

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/conserva/conserva/internal/catalogfmt"
	bolt "go.etcd.io/bbolt"
)

// Each kind of index damage a search would step over or be misled by is
// named by the index check, and an intact catalog gives nothing.
func TestCheckIndexesNamesEachDamage(t *testing.T) {
	day := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	fresh := func(t *testing.T) *Catalog {
		c, err := Open(filepath.Join(t.TempDir(), "catalog.db"), time.Second)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		var recs []*Record
		for i := range 50 {
			sum := sha256.Sum256([]byte(fmt.Sprint(i)))
			id := hex.EncodeToString(sum[:])
			d := day.Add(time.Duration(i) * time.Hour)
			recs = append(recs, &Record{ID: id, Key: "messages/" + id[:2] + "/" + id + ".eml", Size: 10, Date: &d,
				From: fmt.Sprintf("s%d@pec.example", i%5), To: []string{"r@pec.example"}, Subject: fmt.Sprint("Decreto numero ", i), Kind: "posta-certificata"})
		}
		if _, err := c.Insert(recs); err != nil {
			t.Fatal(err)
		}
		return c
	}
	// firstKey is the first key of an index under value.
	firstKey := func(tx *bolt.Tx, bucket, value string) []byte {
		k, _ := tx.Bucket([]byte(bucket)).Cursor().Seek([]byte(value + "\x00"))
		if v, _, _, ok := catalogfmt.ParseIndexKey(k); !ok || string(v) != value {
			t.Fatalf("no %s key under %q", bucket, value)
		}
		return append([]byte(nil), k...)
	}
	cases := []struct {
		name, want string
		damage     func(tx *bolt.Tx) error
	}{
		{"a record's key deleted", "lacks the entry of message", func(tx *bolt.Tx) error {
			return tx.Bucket([]byte("ix_word")).Delete(firstKey(tx, "ix_word", "decreto"))
		}},
		{"an unreadable key", "unreadable entry", func(tx *bolt.Tx) error {
			return tx.Bucket([]byte("ix_addr")).Put([]byte("r@pec.example\x00\x01"), nil)
		}},
		{"a key naming no record", "which the catalog does not hold", func(tx *bolt.Tx) error {
			return tx.Bucket([]byte("ix_kind")).Put(catalogfmt.IndexKey("posta-certificata", 1, 1<<40), nil)
		}},
		{"a key naming a record that does not carry it", "entries naming records that do not carry them", func(tx *bolt.Tx) error {
			_, stamp, seq, _ := catalogfmt.ParseIndexKey(firstKey(tx, "ix_addr", "s1@pec.example"))
			return tx.Bucket([]byte("ix_addr")).Put(catalogfmt.IndexKey("s2@pec.example", stamp, seq), nil)
		}},
	}
	if probs := fresh(t).CheckIndexes(); len(probs) != 0 {
		t.Fatalf("intact catalog: %v", probs)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := fresh(t)
			if err := c.db.Update(tc.damage); err != nil {
				t.Fatal(err)
			}
			probs := c.CheckIndexes()
			if len(probs) != 1 || !strings.Contains(probs[0], tc.want) {
				t.Fatalf("want one problem saying %q, got %v", tc.want, probs)
			}
		})
	}
}
