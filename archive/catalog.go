package archive

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The catalog is a cache of what the store holds (it can be rebuilt from
// it): records by id and a few indexes, each a bucket of "value\x00id" keys.
var (
	bucketMessages = []byte("messages")
	bucketMsgID    = []byte("ix_message_id") // Message-ID, X-Riferimento-Message-ID, msgid
	bucketIdent    = []byte("ix_identificativo")
	bucketAddr     = []byte("ix_address")
	bucketDate     = []byte("ix_date")
	bucketDossier  = []byte("ix_dossier")
	bucketMeta     = []byte("meta")
	bucketPackages = []byte("packages")
	bucketSources  = []byte("sources")
	bucketUsers    = []byte("users") // web users (users.go)
	allBuckets     = [][]byte{bucketMessages, bucketMsgID, bucketIdent, bucketAddr, bucketDate, bucketDossier, bucketMeta, bucketPackages, bucketAudits, bucketSources, bucketTrust, bucketReports, bucketScarto, bucketUsers}
)

// ErrBusy: another process holds the catalog.
var ErrBusy = errors.New("the archive is in use by another conserva process")

// Catalog is the bbolt database of an archive.
type Catalog struct{ db safeDB }

// OpenCatalog opens (creating) the catalog. It waits at most timeout for
// another process to release it.
func OpenCatalog(path string, timeout time.Duration) (*Catalog, error) {
	db, err := openBolt(path, &bolt.Options{Timeout: timeout})
	if errors.Is(err, bolt.ErrTimeout) {
		return nil, fmt.Errorf("%s: %w", path, ErrBusy)
	}
	if err != nil {
		return nil, fmt.Errorf("opening catalog %s: %w", path, err)
	}
	err = safeDB{db}.Update(func(tx *bolt.Tx) error {
		for _, b := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, err
	}
	return &Catalog{db: safeDB{db}}, nil
}

// Close closes the catalog.
func (c *Catalog) Close() error { return c.db.Close() }

// Has says whether a message is catalogued.
func (c *Catalog) Has(id string) (bool, error) {
	var ok bool
	err := c.db.View(func(tx *bolt.Tx) error {
		ok = tx.Bucket(bucketMessages).Get([]byte(id)) != nil
		return nil
	})
	return ok, err
}

// Get returns a record, nil when absent.
func (c *Catalog) Get(id string) (*Record, error) {
	var r *Record
	err := c.db.View(func(tx *bolt.Tx) error {
		var err error
		r, err = getRecord(tx, id)
		return err
	})
	return r, err
}

func getRecord(tx *bolt.Tx, id string) (*Record, error) {
	data := tx.Bucket(bucketMessages).Get([]byte(id))
	if data == nil {
		return nil, nil
	}
	return decodeRecord([]byte(id), data)
}

// Added says, for each record given to Insert, whether it was new.
type Added []bool

// Insert adds records in one transaction (one fsync for the batch). A
// record already present is not replaced: only its new sources are added.
func (c *Catalog) Insert(recs []*Record) (Added, error) {
	added := make(Added, len(recs))
	err := c.db.Update(func(tx *bolt.Tx) error {
		for i, r := range recs {
			old, err := getRecord(tx, r.ID)
			if err != nil {
				return err
			}
			if old != nil {
				if merged, changed := mergeSources(old.Sources, r.Sources); changed {
					old.Sources = merged
					if err := putRecord(tx, old); err != nil {
						return err
					}
				}
				continue
			}
			if err := putRecord(tx, r); err != nil {
				return err
			}
			if err := index(tx, r); err != nil {
				return err
			}
			added[i] = true
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return added, nil
}

// Update rewrites records already present (package membership, holds).
// Indexed fields must not change.
func (c *Catalog) Update(fn func(get func(id string) (*Record, error), put func(*Record) error) error) error {
	return c.db.Update(func(tx *bolt.Tx) error {
		return fn(func(id string) (*Record, error) { return getRecord(tx, id) },
			func(r *Record) error { return putRecord(tx, r) })
	})
}

func mergeSources(have, more []string) ([]string, bool) {
	changed := false
	for _, s := range more {
		found := false
		for _, h := range have {
			found = found || h == s
		}
		if !found {
			have = append(have, s)
			changed = true
		}
	}
	return have, changed
}

func putRecord(tx *bolt.Tx, r *Record) error {
	data, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return tx.Bucket(bucketMessages).Put([]byte(r.ID), data)
}

// ixKey is bounded in length whatever the value (see ixValue).
func ixKey(value, id string) []byte { return []byte(ixValue(value) + "\x00" + id) }

func index(tx *bolt.Tx, r *Record) error {
	put := func(bucket []byte, value string) error {
		if value == "" {
			return nil
		}
		return tx.Bucket(bucket).Put(ixKey(value, r.ID), nil)
	}
	for _, id := range []string{r.MessageID, r.RefMessageID, r.Msgid} {
		if err := put(bucketMsgID, NormalizeMessageID(id)); err != nil {
			return err
		}
	}
	if err := put(bucketIdent, NormalizeMessageID(r.Identificativo)); err != nil {
		return err
	}
	addrs := append(append([]string{r.From, r.Consegna}, r.To...), r.Ricezione...)
	for _, a := range addrs {
		if err := put(bucketAddr, strings.ToLower(strings.TrimSpace(a))); err != nil {
			return err
		}
	}
	if r.Date != nil {
		if err := put(bucketDate, r.Date.UTC().Format(time.RFC3339)); err != nil {
			return err
		}
	}
	return put(bucketDossier, r.Dossier)
}

// lookup returns the ids under one index value.
func (c *Catalog) lookup(bucket []byte, value string) ([]string, error) {
	var ids []string
	err := c.db.View(func(tx *bolt.Tx) error {
		prefix := []byte(ixValue(value) + "\x00")
		cur := tx.Bucket(bucket).Cursor()
		for k, _ := cur.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = cur.Next() {
			ids = append(ids, string(k[len(prefix):]))
		}
		return nil
	})
	return ids, err
}

// ByMessageID returns the ids of objects carrying that Message-ID (as their
// own, as X-Riferimento-Message-ID or as daticert msgid).
func (c *Catalog) ByMessageID(id string) ([]string, error) {
	return c.lookup(bucketMsgID, NormalizeMessageID(id))
}

// ByIdentificativo returns the ids of objects about a provider identificativo.
func (c *Catalog) ByIdentificativo(id string) ([]string, error) {
	return c.lookup(bucketIdent, NormalizeMessageID(id))
}

// ByAddress returns the ids of objects sent from, to or about an address.
func (c *Catalog) ByAddress(addr string) ([]string, error) {
	return c.lookup(bucketAddr, strings.ToLower(strings.TrimSpace(addr)))
}

// DossierRecords returns every record of a dossier.
func (c *Catalog) DossierRecords(key string) ([]*Record, error) {
	ids, err := c.lookup(bucketDossier, key)
	if err != nil {
		return nil, err
	}
	return c.records(ids)
}

func (c *Catalog) records(ids []string) ([]*Record, error) {
	out := make([]*Record, 0, len(ids))
	err := c.db.View(func(tx *bolt.Tx) error {
		for _, id := range ids {
			r, err := getRecord(tx, id)
			if err != nil {
				return err
			}
			if r != nil {
				out = append(out, r)
			}
		}
		return nil
	})
	return out, err
}

// Scan calls fn for every record, in id order.
func (c *Catalog) Scan(fn func(*Record) error) error {
	return c.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMessages).ForEach(func(k, v []byte) error {
			r, err := decodeRecord(k, v)
			if err != nil {
				return err
			}
			return fn(r)
		})
	})
}

// ScanDates calls fn for the ids dated within [since, until), in date order.
func (c *Catalog) ScanDates(since, until time.Time, fn func(id string) error) error {
	return c.db.View(func(tx *bolt.Tx) error {
		cur := tx.Bucket(bucketDate).Cursor()
		from := []byte(since.UTC().Format(time.RFC3339))
		end := until.UTC().Format(time.RFC3339)
		for k, _ := cur.Seek(from); k != nil; k, _ = cur.Next() {
			i := bytes.IndexByte(k, 0)
			if i < 0 || string(k[:i]) >= end {
				break
			}
			if err := fn(string(k[i+1:])); err != nil {
				return err
			}
		}
		return nil
	})
}

// Count is the number of catalogued messages.
func (c *Catalog) Count() (int, error) {
	n := 0
	err := c.db.View(func(tx *bolt.Tx) error {
		n = tx.Bucket(bucketMessages).Stats().KeyN
		return nil
	})
	return n, err
}

// getJSON and putJSON keep small JSON values in a bucket.
func (c *Catalog) getJSON(bucket []byte, key string, v any) (bool, error) {
	var data []byte
	err := c.db.View(func(tx *bolt.Tx) error {
		if b := tx.Bucket(bucket).Get([]byte(key)); b != nil {
			data = append([]byte(nil), b...)
		}
		return nil
	})
	if err != nil || data == nil {
		return false, err
	}
	return true, json.Unmarshal(data, v)
}

func (c *Catalog) putJSON(bucket []byte, key string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return c.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucket).Put([]byte(key), data) })
}

// Packages calls fn for every sealed package, in id (time) order.
func (c *Catalog) Packages(fn func(PackageRecord) error) error {
	return c.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketPackages).ForEach(func(k, v []byte) error {
			var p PackageRecord
			if err := json.Unmarshal(v, &p); err != nil {
				return fmt.Errorf("catalog package %.64q: %w (%v)", k, ErrCatalogDamaged, err)
			}
			return fn(p)
		})
	})
}

// markSealed records a package and its members in one transaction, and
// ends the sealing journal: until then no message counts as sealed.
func (c *Catalog) markSealed(p PackageRecord, ids []string) error {
	return c.db.Update(func(tx *bolt.Tx) error {
		for _, id := range ids {
			r, err := getRecord(tx, id)
			if err != nil {
				return err
			}
			if r == nil {
				return fmt.Errorf("sealing %s: message %s is not catalogued", p.ID, id)
			}
			if r.Package != "" && r.Package != p.ID {
				return fmt.Errorf("sealing %s: message %s is already in package %s", p.ID, id, r.Package)
			}
			r.Package = p.ID
			if err := putRecord(tx, r); err != nil {
				return err
			}
		}
		data, err := json.Marshal(p)
		if err != nil {
			return err
		}
		if err := tx.Bucket(bucketPackages).Put([]byte(p.ID), data); err != nil {
			return err
		}
		return tx.Bucket(bucketMeta).Delete([]byte(journalKey))
	})
}

type sourceMark struct {
	UIDValidity uint32    `json:"uidvalidity"`
	UID         uint32    `json:"uid"`
	Updated     time.Time `json:"updated"`
}

// Mark is where an IMAP source stands (ingest.Marks).
func (c *Catalog) Mark(source string) (uint32, uint32, bool, error) {
	var m sourceMark
	ok, err := c.getJSON(bucketSources, source, &m)
	return m.UIDValidity, m.UID, ok, err
}

// SetMark records that every message of source up to uid is catalogued.
func (c *Catalog) SetMark(source string, validity, uid uint32) error {
	return c.putJSON(bucketSources, source, sourceMark{UIDValidity: validity, UID: uid, Updated: time.Now().UTC()})
}
