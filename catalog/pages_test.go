package catalog

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// A branch page whose first element points far outside its page is named
// as damage by the page check, before bbolt's Check would follow it (and
// fault in a goroutine of its own, killing the process).
func TestCheckPageBoundsNamesAnElementOutsideItsPage(t *testing.T) {
	path := filepath.Join(t.TempDir(), "catalog.db")
	c, err := Open(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var recs []*Record
	for i := 0; i < 3000; i++ {
		sum := sha256.Sum256([]byte(fmt.Sprint(i)))
		id := hex.EncodeToString(sum[:])
		recs = append(recs, &Record{ID: id, Key: "messages/" + id[:2] + "/" + id + ".eml", Size: 10, Subject: fmt.Sprint("subject ", i)})
	}
	if _, err := c.Insert(recs); err != nil {
		t.Fatal(err)
	}
	if probs := c.CheckPages(); len(probs) != 0 {
		t.Fatalf("intact catalog: %v", probs)
	}
	// Find a branch page.
	branch := -1
	var ps int
	c.db.View(func(tx *bolt.Tx) error {
		ps = tx.DB().Info().PageSize
		for id := 2; ; id++ {
			info, _ := tx.Page(id)
			if info == nil {
				return nil
			}
			if info.Type == "branch" {
				branch = id
				return nil
			}
		}
	})
	c.Close()
	if branch < 0 {
		t.Fatal("no branch page in 3,000 records")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// Element 0 of the page: pos (4 bytes) right after the 16-byte header.
	binary.LittleEndian.PutUint32(data[branch*ps+16:], 0x7fff0000)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	c, err = Open(path, time.Second)
	if err != nil {
		if errors.Is(err, ErrDamaged) {
			return // refused on opening: damage named, no fault
		}
		t.Fatal(err)
	}
	defer c.Close()
	probs := c.CheckPages()
	if len(probs) == 0 {
		t.Fatal("a branch element pointing outside its page passed the check")
	}
	t.Log(probs[0])
}
