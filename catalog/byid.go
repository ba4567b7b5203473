package catalog

import (
	"encoding/hex"
	"iter"
	"strings"

	"github.com/conserva/conserva/internal/catalogfmt"
	bolt "go.etcd.io/bbolt"
)

// byIDChunk is how many records one read transaction of ByID decodes.
const byIDChunk = 256

// ByID yields every record in id order (the ids bucket), a chunk per read
// transaction, the catalog's mapped pages released between chunks: memory
// stays flat whatever the number of records, and no transaction is open
// while the caller works. A record that cannot be decoded ends it with the
// error (as Scan does).
func (c *Catalog) ByID() iter.Seq2[*Record, error] {
	return func(yield func(*Record, error) bool) {
		if c.legacy {
			// A kept format 1 catalog: its bucket is keyed by the hex id,
			// which is id order too.
			err := c.Scan(func(r *Record) error {
				if !yield(r, nil) {
					return errStopIter
				}
				return nil
			})
			if err != nil && err != errStopIter {
				yield(nil, err)
			}
			return
		}
		var after []byte
		for {
			var chunk []*Record
			err := c.db.View(func(tx *bolt.Tx) error {
				t := c.newTxn(tx)
				cur := t.ids.Cursor()
				k, v := cur.First()
				if after != nil {
					k, v = cur.Seek(after)
					if k != nil && string(k) == string(after) {
						k, v = cur.Next()
					}
				}
				for ; k != nil && len(chunk) < byIDChunk; k, v = cur.Next() {
					after = append(after[:0], k...)
					seq, ok := catalogfmt.Seq(v)
					if !ok {
						continue
					}
					r, err := t.record(seq)
					if err != nil {
						return err
					}
					if r == nil || r.ID != hex.EncodeToString(k) {
						continue // an id left by a damaged record: CheckPages names the damage
					}
					chunk = append(chunk, r)
				}
				return nil
			})
			if err != nil {
				yield(nil, err)
				return
			}
			if len(chunk) == 0 {
				return
			}
			_ = c.ReleaseMapped() // memory only
			for _, r := range chunk {
				if !yield(r, nil) {
					return
				}
			}
		}
	}
}

type stopIter struct{}

func (stopIter) Error() string { return "stopped" }

var errStopIter error = stopIter{}

// ByIDPrefix returns the ids beginning with prefix (lower-case hex), at most
// limit of them.
func (c *Catalog) ByIDPrefix(prefix string, limit int) ([]string, error) {
	var ids []string
	err := c.view(func(t *txn) error {
		// The ids bucket keys are the 32 bytes: seek to the whole bytes of
		// the prefix (and its odd digit's high half), compare in hex.
		start, _ := hex.DecodeString(prefix[:len(prefix)&^1])
		if len(prefix)%2 == 1 {
			if b, err := hex.DecodeString(prefix[len(prefix)-1:] + "0"); err == nil {
				start = append(start, b...)
			}
		}
		cur := t.ids.Cursor()
		for k, _ := cur.Seek(start); k != nil && len(ids) < limit; k, _ = cur.Next() {
			id := hex.EncodeToString(k)
			if !strings.HasPrefix(id, prefix) {
				break
			}
			ids = append(ids, id)
		}
		return nil
	})
	return ids, err
}
