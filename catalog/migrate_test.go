package catalog

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/conserva/conserva/pec"
	bolt "go.etcd.io/bbolt"
)

// TestMigrateCompacts writes a format 1 catalog as the previous version
// laid it out (JSON under the hex id, "value\0id" index keys), with one
// damaged record: opening it migrates every record, keeps the damaged one
// visible as damage, drops the old buckets and leaves a smaller file.
func TestMigrateCompacts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "catalog.db")
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	const n = 3000
	var damaged string
	err = db.Update(func(tx *bolt.Tx) error {
		msgs, _ := tx.CreateBucket([]byte("messages"))
		addr, _ := tx.CreateBucket([]byte("ix_address"))
		for i := range n {
			id := fmt.Sprintf("%064x", i*7919+1)
			d := time.Date(2024, 1, 1, 0, i, 0, 0, time.UTC)
			r := &Record{ID: id, Key: "messages/" + id[:2] + "/" + id + ".eml", Size: 5000, Kind: pec.KindAccettazione, Signature: pec.Valid,
				From: "a@pec.example", To: []string{fmt.Sprintf("r%d@pec.example", i%10)}, Subject: fmt.Sprintf("ACCETTAZIONE: pratica %d", i),
				Date: &d, Dossier: fmt.Sprintf("m%d@x", i), MessageID: fmt.Sprintf("<m%d@x>", i), Sources: []string{"INBOX#1"}, IngestedAt: d}
			data, _ := json.Marshal(r)
			if i == 17 {
				damaged, data = id, []byte(`{"id":"`+id+`","size":-4`)
			}
			msgs.Put([]byte(id), data)
			addr.Put([]byte(r.To[0]+"\x00"+id), nil)
		}
		return nil
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(path)
	before := st.Size()
	c, err := Open(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if n2, _ := c.Count(); n2 != n {
		t.Fatalf("%d records after migration, want %d", n2, n)
	}
	if _, err := c.Get(damaged); !isDamaged(err) {
		t.Fatalf("the damaged record: %v", err)
	}
	hits := 0
	err = c.Search(Query{To: "r3@pec.example", Since: time.Date(2024, 1, 1, 0, 100, 0, 0, time.UTC), Until: time.Date(2024, 1, 1, 0, 200, 0, 0, time.UTC)},
		func(*Record) error { hits++; return nil })
	if err != nil || hits != 10 {
		t.Fatalf("%d hits %v", hits, err)
	}
	c.db.View(func(tx *bolt.Tx) error {
		if tx.Bucket([]byte("messages")) != nil || tx.Bucket([]byte("ix_address")) != nil {
			t.Error("format 1 buckets left")
		}
		return nil
	})
	st, _ = os.Stat(path)
	if st.Size() >= before {
		t.Fatalf("catalog.db %d bytes after migration, %d before", st.Size(), before)
	}
	t.Logf("format 1: %d bytes, format 2: %d bytes", before, st.Size())
}
