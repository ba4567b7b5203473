package catalog

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/conserva/conserva/internal/catalogfmt"
	bolt "go.etcd.io/bbolt"
)

// A record indexed as waiting for a package while it is in one (a forged
// or damaged index key) is named as damage, never sealed a second time.
func TestWaitingRefusesASealedRecord(t *testing.T) {
	c, err := Open(filepath.Join(t.TempDir(), "catalog.db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sum := sha256.Sum256([]byte("sealed"))
	id := hex.EncodeToString(sum[:])
	r := &Record{ID: id, Key: "messages/" + id[:2] + "/" + id + ".eml", Size: 1, Package: "20261130T000000Z-00000000"}
	if _, err := c.Insert([]*Record{r}); err != nil {
		t.Fatal(err)
	}
	n := 0
	if err := c.Waiting(func(*Record) error { n++; return nil }); err != nil || n != 0 {
		t.Fatalf("a sealed record waiting: %d %v", n, err)
	}
	err = c.db.Update(func(tx *bolt.Tx) error {
		seq, _ := catalogfmtSeqOf(tx, id)
		unsealed := *r
		unsealed.Package = ""
		for _, e := range stateOf(&unsealed, seq).keys {
			if string(e.bucket) == string(bucketWait) {
				return tx.Bucket(bucketWait).Put([]byte(e.key), nil)
			}
		}
		return errors.New("no waiting key")
	})
	if err != nil {
		t.Fatal(err)
	}
	err = c.Waiting(func(*Record) error { t.Fatal("handed to the seal"); return nil })
	if !errors.Is(err, ErrDamaged) {
		t.Fatalf("a forged waiting key: %v", err)
	}
}

func catalogfmtSeqOf(tx *bolt.Tx, id string) (uint64, bool) {
	raw, _ := hex.DecodeString(id)
	return catalogfmt.Seq(tx.Bucket(bucketIDs).Get(raw))
}
