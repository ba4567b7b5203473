package catalog

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/conserva/conserva/internal/atomicfile"
	"github.com/conserva/conserva/internal/catalogfmt"
	bolt "go.etcd.io/bbolt"
)

// The catalog is a cache of what the store holds (it can be rebuilt from
// it). Format 2 (internal/catalogfmt, docs/FORMAT.md): each record has a
// number, in the order catalogued; "records" maps the number to the id (32
// bytes) and the compressed record, "ids" the id to the number, and each
// index bucket holds keys "value NUL date number", so that a lookup reads
// its hits in date order and starts at a date. Format 1 ("messages", JSON
// under the hex id, indexes "value NUL hex id") is migrated on opening.
var (
	bucketRecords  = []byte("records")
	bucketIDs      = []byte("ids")
	bucketMsgID    = []byte("ix_mid") // Message-ID, X-Riferimento-Message-ID, msgid; a dossier's records too
	bucketIdent    = []byte("ix_ident")
	bucketAddr     = []byte("ix_addr") // sender and every recipient
	bucketDate     = []byte("ix_when") // value "": every dated record
	bucketWord     = []byte("ix_word") // subject words (catalogfmt.Words)
	bucketKind     = []byte("ix_kind") // pec.Kind
	bucketFlagged  = []byte("ix_flag") // value "": flagged records only
	bucketMailbox  = []byte("ix_mbox") // MailboxOf
	bucketTally    = []byte("tallies") // counts for stats, kept at every write
	bucketMeta     = []byte(BucketMeta)
	bucketPackages = []byte(BucketPackages)
	bucketSources  = []byte(BucketSources)
	bucketWait     = []byte("ix_wait") // value "": records waiting for a package (wait.go)
	indexBuckets   = [][]byte{bucketMsgID, bucketIdent, bucketAddr, bucketDate, bucketWord, bucketKind, bucketFlagged, bucketMailbox, bucketWait}
	allBuckets     = append([][]byte{bucketRecords, bucketIDs, bucketTally, bucketMeta, bucketPackages, []byte(BucketAudits), bucketSources, []byte(BucketTrust), []byte(BucketReports), []byte(BucketScarto), []byte(BucketUsers)}, indexBuckets...)

	// Format 1.
	bucketMessages1 = []byte("messages")
	indexBuckets1   = [][]byte{[]byte("ix_message_id"), []byte("ix_identificativo"), []byte("ix_address"), []byte("ix_date"), []byte("ix_dossier")}
)

const formatKey, countKey = "catalog_format", "messages"

// ErrBusy: another process holds the catalog.
var ErrBusy = errors.New("the archive is in use by another conserva process")

// errLegacy: a catalog of format 1 opened read-only (it is migrated when
// opened for writing).
var errLegacy = errors.New("the catalog is in an older format: open the archive once with conserva (any command) to migrate it")

// Catalog is the bbolt database of an archive.
type Catalog struct {
	db safeDB
	// legacy: a format 1 catalog opened read-only: Get, Has, Scan and
	// Count work, index lookups do not.
	legacy bool
	// reads counts the records decoded, so that tests can tell how many
	// records a query materialised.
	reads atomic.Int64
}

func wrapCatalog(db *bolt.DB) *Catalog {
	c := &Catalog{db: safeDB{db}}
	_ = c.db.View(func(tx *bolt.Tx) error {
		c.legacy = tx.Bucket(bucketMessages1) != nil && tx.Bucket(bucketRecords) == nil
		return nil
	})
	return c
}

// Open opens (creating) the catalog, migrating one of an older
// format. It waits at most timeout for another process to release it.
func Open(path string, timeout time.Duration) (*Catalog, error) {
	db, err := openBolt(path, &bolt.Options{Timeout: timeout})
	if errors.Is(err, bolt.ErrTimeout) {
		return nil, fmt.Errorf("%s: %w", path, ErrBusy)
	}
	if err != nil {
		return nil, fmt.Errorf("opening catalog %s: %w", path, err)
	}
	c := &Catalog{db: safeDB{db}}
	fillWait := false
	err = c.db.Update(func(tx *bolt.Tx) error {
		fillWait = tx.Bucket(bucketWait) == nil && tx.Bucket(bucketRecords) != nil
		for _, b := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil && fillWait {
		err = c.fillWait()
	}
	migrated := false
	if err == nil {
		migrated, err = c.migrate1()
	}
	if err != nil {
		db.Close()
		return nil, err
	}
	if migrated {
		return c.compact(path, timeout)
	}
	return c, nil
}

// OpenReadOnly opens an existing catalog for reading, with a shared lock,
// waiting at most timeout for a writer to finish.
func OpenReadOnly(path string, timeout time.Duration) (*Catalog, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("opening catalog: %w", err)
	}
	db, err := openBolt(path, &bolt.Options{Timeout: timeout, ReadOnly: true})
	if errors.Is(err, bolt.ErrTimeout) {
		return nil, fmt.Errorf("%s: %w", path, ErrBusy)
	}
	if err != nil {
		return nil, fmt.Errorf("opening catalog %s: %w", path, err)
	}
	return wrapCatalog(db), nil
}

// compact rewrites a just migrated catalog into a new file (bbolt never
// gives freed pages back to the file system) and puts it in place of the
// old one, each step durable before the next. On any failure the migrated
// catalog stays as it is: only its size is lost.
func (c *Catalog) compact(path string, timeout time.Duration) (*Catalog, error) {
	tmp := path + ".compacting"
	os.Remove(tmp)
	dst, err := openBolt(tmp, &bolt.Options{Timeout: timeout})
	if err == nil {
		err = bolt.Compact(dst, c.db.DB, 64<<20)
		if cerr := dst.Close(); err == nil {
			err = cerr
		}
	}
	if err == nil {
		err = atomicfile.SyncFile(tmp)
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return c, nil
	}
	_ = atomicfile.SyncDir(filepath.Dir(path))
	c.Close()
	db, err := openBolt(path, &bolt.Options{Timeout: timeout})
	if err != nil {
		return nil, fmt.Errorf("opening the compacted catalog %s: %w", path, err)
	}
	return &Catalog{db: safeDB{db}}, nil
}

// RecordsRead is how many records this handle has decoded: what a query
// materialised (tests and benchmarks compare it with the hits).
func (c *Catalog) RecordsRead() int64 { return c.reads.Load() }

// Close closes the catalog.
func (c *Catalog) Close() error { return c.db.Close() }

// Path is the catalog's file.
func (c *Catalog) Path() string { return c.db.Path() }

// Size is how much of the file the catalog uses (the file grows by steps).
func (c *Catalog) Size() (int64, error) {
	var size int64
	err := c.db.View(func(tx *bolt.Tx) error { size = tx.Size(); return nil })
	return size, err
}

// view runs fn in a read transaction of a format 2 catalog.
func (c *Catalog) view(fn func(t *txn) error) error {
	if c.legacy {
		return errLegacy
	}
	return c.db.View(func(tx *bolt.Tx) error { return fn(c.newTxn(tx)) })
}

// viewWhole is view for a read that must not pass for whole when it
// stepped over damaged index entries: it then returns an *IncompleteError
// (what fn gathered stands).
func (c *Catalog) viewWhole(fn func(t *txn) error) error {
	skipped := 0
	err := c.view(func(t *txn) error {
		defer func() { skipped = t.skipped }()
		return fn(t)
	})
	if err == nil && skipped > 0 {
		return &IncompleteError{Skipped: skipped}
	}
	return err
}

// update runs fn in a write transaction; the counts fn changed are written
// at its end.
func (c *Catalog) update(fn func(t *txn) error) error {
	return c.db.Update(func(tx *bolt.Tx) error {
		t := c.newTxn(tx)
		if err := fn(t); err != nil {
			return err
		}
		return t.flush()
	})
}

// Has says whether a message is catalogued.
func (c *Catalog) Has(id string) (bool, error) {
	r, err := c.Get(id)
	if isDamaged(err) {
		return true, nil // there, unreadable: Get says so
	}
	return r != nil, err
}

// Get returns a record, nil when absent.
func (c *Catalog) Get(id string) (*Record, error) {
	var r *Record
	err := c.db.View(func(tx *bolt.Tx) error {
		var err error
		if c.legacy {
			if v := tx.Bucket(bucketMessages1).Get([]byte(id)); v != nil {
				r, err = decodeRecord([]byte(id), v)
			}
			return err
		}
		_, r, err = c.newTxn(tx).get(id)
		return err
	})
	return r, err
}

// Added says, for each record given to Insert, whether it was new.
type Added []bool

// Insert adds records in one transaction (one fsync for the batch). A
// record already present is not replaced: only its new sources are added.
func (c *Catalog) Insert(recs []*Record) (Added, error) {
	added := make(Added, len(recs))
	err := c.update(func(t *txn) error {
		for i, r := range recs {
			raw, ok := IDBytes(r.ID)
			if !ok {
				return errNotSHA256(r.ID)
			}
			// One search of the ids for a new record: its number is
			// taken at once, not looked up again by put.
			k := t.ids.Get(raw)
			if k == nil {
				if err := t.write(r, raw, 0, nil); err != nil {
					return err
				}
				added[i] = true
				continue
			}
			seq, old, err := t.getAt(r.ID, k)
			if err != nil {
				return err
			}
			if old == nil { // numbered, its record lost: written again
				if err := t.write(r, raw, seq, nil); err != nil {
					return err
				}
				added[i] = true
				continue
			}
			if merged, changed := mergeSources(old.Sources, r.Sources); changed {
				old.Sources = merged
				if err := t.put(old); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return added, nil
}

// Update rewrites records (package membership, holds, verdicts); the
// indexes and counts follow.
func (c *Catalog) Update(fn func(get func(id string) (*Record, error), put func(*Record) error) error) error {
	return c.update(func(t *txn) error {
		return fn(func(id string) (*Record, error) { _, r, err := t.get(id); return r, err }, t.put)
	})
}

// Remove forgets a record, as a damaged catalog would: conserva itself
// never calls it (tests and repair tools do); audit names the message.
func (c *Catalog) Remove(id string) error {
	return c.update(func(t *txn) error { return t.remove(id) })
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

// txn is one transaction on the records: what a write changes in the
// indexes and counts follows from the record before and after.
type txn struct {
	tx     *bolt.Tx
	recs   *bolt.Bucket
	ids    *bolt.Bucket
	before map[string]recordState // records read in a write, as read
	tally  map[string]*Tally      // count changes, written by flush
	count  int
	reads  *atomic.Int64
	// skipped counts index keys a read stepped over because they were
	// unreadable or named no record: damage, which a search must not hide.
	skipped int
	// releaseEvery, when set, drops the catalog's mapped pages from
	// resident memory after every that many records read: a search with
	// many hits would otherwise hold every page it read (one transaction).
	releaseEvery, readHere int
	key                    []byte // apply's buffer for keys
}

// recordState is what a record contributes to the indexes and counts.
type recordState struct {
	keys    []indexEntry
	tallies []string
	t       Tally
	set     map[string]bool // bucket NUL key of each key, for has on a record of many
}

type indexEntry struct {
	bucket []byte
	key    string
}

func (c *Catalog) newTxn(tx *bolt.Tx) *txn {
	t := &txn{tx: tx, recs: tx.Bucket(bucketRecords), ids: tx.Bucket(bucketIDs), reads: &c.reads}
	if tx.Writable() {
		// Keys come mostly in order (numbers, dates): pages left behind
		// stay nearly full instead of half.
		t.recs.FillPercent = 0.95
		t.ids.FillPercent = 0.8
		for _, b := range indexBuckets {
			tx.Bucket(b).FillPercent = 0.9
		}
		t.before, t.tally = map[string]recordState{}, map[string]*Tally{}
	}
	return t
}

// IDBytes is a message id (SHA-256, hex) as the ids bucket keys it: its
// 32 bytes; false when id is not a SHA-256.
func IDBytes(id string) ([]byte, bool) {
	b, err := hex.DecodeString(id)
	return b, err == nil && len(b) == 32
}

// get returns a record and its number; nil when absent.
func (t *txn) get(id string) (uint64, *Record, error) {
	raw, ok := IDBytes(id)
	if !ok {
		return 0, nil, nil
	}
	k := t.ids.Get(raw)
	if k == nil {
		return 0, nil, nil
	}
	return t.getAt(id, k)
}

// getAt is get of a record whose value in ids is k.
func (t *txn) getAt(id string, k []byte) (uint64, *Record, error) {
	seq, _ := catalogfmt.Seq(k)
	r, err := t.record(seq)
	if err != nil || r == nil {
		return seq, r, err
	}
	if t.before != nil {
		t.before[id] = stateOf(r, seq)
	}
	return seq, r, nil
}

// record reads record number seq.
func (t *txn) record(seq uint64) (*Record, error) {
	v := t.recs.Get(catalogfmt.SeqKey(seq))
	if v == nil {
		return nil, nil
	}
	t.read()
	return DecodeValue(v)
}

// read counts a record read, releasing mapped pages as releaseEvery says.
func (t *txn) read() {
	t.reads.Add(1)
	t.readHere++
	if t.releaseEvery > 0 && t.readHere%t.releaseEvery == 0 {
		_ = releaseMappedIn(t.tx) // memory only
	}
}

// DecodeValue reads a value of the records bucket: the id, then the
// record (EncodeValue).
func DecodeValue(v []byte) (*Record, error) {
	if len(v) < 32 {
		return nil, fmt.Errorf("catalog record %x: %w (too short)", v, ErrDamaged)
	}
	return decodeRecord([]byte(hex.EncodeToString(v[:32])), v[32:])
}

// put writes a record, new or changed.
func (t *txn) put(r *Record) error {
	raw, ok := IDBytes(r.ID)
	if !ok {
		return errNotSHA256(r.ID)
	}
	k := t.ids.Get(raw)
	if k == nil {
		return t.write(r, raw, 0, nil)
	}
	seq, _ := catalogfmt.Seq(k)
	var old *recordState
	if st, ok := t.before[r.ID]; ok {
		old = &st
	} else if o, err := t.record(seq); err == nil && o != nil {
		st := stateOf(o, seq)
		old = &st
	}
	return t.write(r, raw, seq, old)
}

func errNotSHA256(id string) error { return fmt.Errorf("catalog: %.80q is not a SHA-256", id) }

// write writes record r (raw: its id) as number seq, whose indexes and
// counts were old; seq 0 numbers a new record.
func (t *txn) write(r *Record, raw []byte, seq uint64, old *recordState) error {
	if seq == 0 {
		var err error
		if seq, err = t.recs.NextSequence(); err != nil {
			return err
		}
		if err := t.ids.Put(raw, catalogfmt.SeqKey(seq)); err != nil {
			return err
		}
		t.count++
	}
	value, err := appendRecord(append(make([]byte, 0, 512), raw...), r)
	if err != nil {
		return err
	}
	if err := t.recs.Put(catalogfmt.SeqKey(seq), value); err != nil {
		return err
	}
	now := stateOf(r, seq)
	t.before[r.ID] = now
	return t.apply(old, &now)
}

// remove deletes a record with its index keys and counts.
func (t *txn) remove(id string) error {
	seq, r, err := t.get(id)
	if err != nil || r == nil {
		return err
	}
	st := stateOf(r, seq)
	if err := t.apply(&st, nil); err != nil {
		return err
	}
	raw, _ := IDBytes(id)
	delete(t.before, id)
	t.count--
	if err := t.ids.Delete(raw); err != nil {
		return err
	}
	return t.recs.Delete(catalogfmt.SeqKey(seq))
}

// apply moves the indexes and counts from what old contributed to what now
// does (either may be nil).
func (t *txn) apply(old, now *recordState) error {
	if old != nil {
		for _, k := range old.tallies {
			t.add(k, old.t, -1)
		}
	}
	if now != nil {
		for _, e := range now.keys {
			if old != nil && old.has(e) {
				continue
			}
			// bbolt copies the key: one buffer serves every Put.
			t.key = append(t.key[:0], e.key...)
			if err := t.tx.Bucket(e.bucket).Put(t.key, nil); err != nil {
				return err
			}
		}
		for _, k := range now.tallies {
			t.add(k, now.t, 1)
		}
	}
	if old != nil {
		for _, e := range old.keys {
			if now != nil && now.has(e) {
				continue
			}
			t.key = append(t.key[:0], e.key...)
			if err := t.tx.Bucket(e.bucket).Delete(t.key); err != nil {
				return err
			}
		}
	}
	return nil
}

// has says whether st has index key e. A record has a few dozen keys: a
// walk costs less than building a set (apply calls it for every key of a
// changed record, so a record of many keys gets one).
func (st *recordState) has(e indexEntry) bool {
	if len(st.keys) > 64 {
		if st.set == nil {
			st.set = make(map[string]bool, len(st.keys))
			for _, k := range st.keys {
				st.set[string(k.bucket)+"\x00"+k.key] = true
			}
		}
		return st.set[string(e.bucket)+"\x00"+e.key]
	}
	for _, k := range st.keys {
		if k.key == e.key && sameBucket(k.bucket, e.bucket) {
			return true
		}
	}
	return false
}

// sameBucket compares bucket names, which are the package's variables.
func sameBucket(a, b []byte) bool { return string(a) == string(b) }

// stateOf lists a record's index keys and the counts it adds to.
func stateOf(r *Record, seq uint64) recordState {
	stamp := catalogfmt.Stamp(r.Date)
	st := recordState{keys: make([]indexEntry, 0, 24)}
	var buf [128]byte
	// needed: an empty value is no key (the date, flag and wait
	// indexes have only the empty value).
	add := func(bucket []byte, value string, needed bool) {
		if value == "" && needed {
			return
		}
		at := stamp
		if sameBucket(bucket, bucketWait) {
			at = 0 // in the order catalogued: a seal takes the oldest first
		}
		k := catalogfmt.AppendIndexKey(buf[:0], ixValue(value), at, seq)
		for _, e := range st.keys {
			if e.key == string(k) && sameBucket(e.bucket, bucket) {
				return
			}
		}
		st.keys = append(st.keys, indexEntry{bucket, string(k)})
	}
	add(bucketMsgID, NormalizeMessageID(r.MessageID), true)
	add(bucketMsgID, NormalizeMessageID(r.RefMessageID), true)
	add(bucketMsgID, NormalizeMessageID(r.Msgid), true)
	add(bucketIdent, NormalizeMessageID(r.Identificativo), true)
	add(bucketAddr, normAddr(r.From), true)
	add(bucketAddr, normAddr(r.Consegna), true)
	for _, a := range r.To {
		add(bucketAddr, normAddr(a), true)
	}
	for _, a := range r.Ricezione {
		add(bucketAddr, normAddr(a), true)
	}
	if r.Date != nil {
		add(bucketDate, "", false)
	}
	for _, w := range catalogfmt.Words(r.Subject) {
		add(bucketWord, w, true)
	}
	add(bucketKind, string(r.Kind), true)
	if r.Flagged {
		add(bucketFlagged, "", false)
	}
	if waiting(r) {
		add(bucketWait, "", false)
	}
	if len(r.Sources) > 0 && r.Sources[0] != "" {
		add(bucketMailbox, mailboxOf(r), true)
	}
	st.t = tallyOf(r)
	st.tallies = []string{"m" + mailboxOf(r) + "\x00" + r.Time().UTC().Format("2006-01"), "s" + senderOf(r)}
	return st
}

func normAddr(a string) string { return strings.ToLower(strings.TrimSpace(a)) }

// add adds sign × t to the count under key.
func (t *txn) add(key string, v Tally, sign int) {
	have := t.tally[key]
	if have == nil {
		have = &Tally{}
		t.tally[key] = have
	}
	have.Add(v, sign)
}

// flush writes the counts changed in the transaction.
func (t *txn) flush() error {
	b := t.tx.Bucket(bucketTally)
	for k, d := range t.tally {
		var cur Tally
		if v := b.Get([]byte(k)); v != nil {
			if err := json.Unmarshal(v, &cur); err != nil {
				return fmt.Errorf("catalog count %.80q: %w (%v)", k, ErrDamaged, err)
			}
		}
		cur.Add(*d, 1)
		var err error
		if cur.Messages == 0 {
			err = b.Delete([]byte(k))
		} else {
			var data []byte
			data, _ = json.Marshal(cur)
			err = b.Put([]byte(k), data)
		}
		if err != nil {
			return err
		}
	}
	if t.count != 0 {
		meta := t.tx.Bucket(bucketMeta)
		n := int64(t.count)
		if v := meta.Get([]byte(countKey)); len(v) == 8 {
			n += int64(binary.BigEndian.Uint64(v))
		}
		if err := meta.Put([]byte(countKey), binary.BigEndian.AppendUint64(nil, uint64(max(n, 0)))); err != nil {
			return err
		}
	}
	t.tally, t.count = map[string]*Tally{}, 0
	return nil
}

// encodeRecord is a record as the records bucket keeps it after its id:
// its JSON without the id and the object key (both follow from the id),
// compressed.
func encodeRecord(r *Record) ([]byte, error) { return appendRecord(nil, r) }

// EncodeValue is a record as the records bucket keeps it: its id's 32
// bytes, then encodeRecord.
func EncodeValue(r *Record) ([]byte, error) {
	raw, ok := IDBytes(r.ID)
	if !ok {
		return nil, errNotSHA256(r.ID)
	}
	return appendRecord(raw, r)
}

// appendRecord appends encodeRecord(r) to dst.
func appendRecord(dst []byte, r *Record) ([]byte, error) {
	c := *r
	c.ID, c.Key = "", ""
	e := recordEncoders.Get().(*recordEncoder)
	defer recordEncoders.Put(e)
	e.buf.Reset()
	if err := e.enc.Encode(&c); err != nil {
		return nil, err
	}
	// Encode ends with a newline that Marshal does not write.
	return catalogfmt.AppendPack(dst, bytes.TrimSuffix(e.buf.Bytes(), []byte("\n"))), nil
}

// recordEncoder keeps the buffer of a record's JSON from one record to
// the next (json.Marshal allocates it anew each time).
type recordEncoder struct {
	buf bytes.Buffer
	enc *json.Encoder
}

var recordEncoders = sync.Pool{New: func() any {
	e := &recordEncoder{}
	e.enc = json.NewEncoder(&e.buf)
	return e
}}

// each calls fn for the records under value in an index, dated within
// [from, to] (stamps), in date order. With prefix, every value beginning
// with value is read, each under its own; fn gets the value a record was
// found under.
func (t *txn) each(bucket []byte, value string, prefix bool, from, to uint32, fn func(r *Record, under []byte) error) error {
	value = ixValue(value)
	start := catalogfmt.Prefix(value, from)
	if prefix {
		start = []byte(catalogfmt.Value(value))
	}
	cur := t.tx.Bucket(bucket).Cursor()
	for k, _ := cur.Seek(start); k != nil; k, _ = cur.Next() {
		v, stamp, seq, ok := catalogfmt.ParseIndexKey(k)
		if !ok {
			if own := []byte(catalogfmt.Value(value)); bytes.HasPrefix(k, own) && (prefix || len(k) > len(own) && k[len(own)] == 0) {
				t.skipped++ // among the value's keys, so maybe one of its records
			}
			continue
		}
		if !prefix && string(v) != catalogfmt.Value(value) || prefix && !bytes.HasPrefix(v, []byte(catalogfmt.Value(value))) {
			break
		}
		if stamp < from {
			if !prefix {
				continue
			}
			cur.Seek(catalogfmt.Prefix(string(v), from))
			k, _ = cur.Prev()
			continue
		}
		if stamp > to {
			if !prefix {
				break
			}
			// On to the next value: past every key of this one.
			cur.Seek(append(append([]byte(nil), v...), 1))
			cur.Prev()
			continue
		}
		r, err := t.record(seq)
		if err != nil {
			return err
		}
		if r == nil {
			t.skipped++ // an index key left by a damaged record
			continue
		}
		if err := fn(r, v); err != nil {
			return err
		}
	}
	return nil
}

// ids lists the ids under one index value (few: a Message-ID's objects).
func (c *Catalog) idsUnder(bucket []byte, value string) ([]string, error) {
	var ids []string
	err := c.view(func(t *txn) error {
		return t.each(bucket, value, false, 0, math.MaxUint32, func(r *Record, _ []byte) error {
			ids = append(ids, r.ID)
			return nil
		})
	})
	return ids, err
}

// ByMessageID returns the ids of objects carrying that Message-ID (as their
// own, as X-Riferimento-Message-ID or as daticert msgid).
func (c *Catalog) ByMessageID(id string) ([]string, error) {
	return c.idsUnder(bucketMsgID, NormalizeMessageID(id))
}

// ByIdentificativo returns the ids of objects about a provider identificativo.
func (c *Catalog) ByIdentificativo(id string) ([]string, error) {
	return c.idsUnder(bucketIdent, NormalizeMessageID(id))
}

// ByAddress returns the ids of objects sent from, to or about an address,
// in date order. Search streams them instead.
func (c *Catalog) ByAddress(addr string) ([]string, error) {
	return c.idsUnder(bucketAddr, normAddr(addr))
}

// DossierRecords returns every record of a dossier: those of its Message-ID
// whose dossier it is. With a damaged index it returns the records it could
// read and an *IncompleteError.
func (c *Catalog) DossierRecords(key string) ([]*Record, error) {
	if id, ok := strings.CutPrefix(key, "sha256:"); ok {
		r, err := c.Get(id)
		if r == nil || err != nil {
			return nil, err
		}
		return []*Record{r}, nil
	}
	var out []*Record
	err := c.viewWhole(func(t *txn) error {
		return t.each(bucketMsgID, key, false, 0, math.MaxUint32, func(r *Record, _ []byte) error {
			if r.Dossier == key {
				out = append(out, r)
			}
			return nil
		})
	})
	return out, err
}

// DossierByMessageID finds the dossier of the objects carrying a
// Message-ID (or, failing that, an identificativo), in one transaction:
// its key (found false when nothing carries it) and, when the Message-ID is the
// dossier's own (the usual case), its records, read once; nil records
// when they are under another Message-ID (DossierRecords reads them).
func (c *Catalog) DossierByMessageID(ref string) (key string, recs []*Record, found bool, err error) {
	err = c.viewWhole(func(t *txn) error {
		id := NormalizeMessageID(ref)
		var under []*Record
		collect := func(r *Record, _ []byte) error { under = append(under, r); return nil }
		if err := t.each(bucketMsgID, id, false, 0, math.MaxUint32, collect); err != nil {
			return err
		}
		fromMsgID := len(under) > 0
		if !fromMsgID {
			if err := t.each(bucketIdent, id, false, 0, math.MaxUint32, collect); err != nil {
				return err
			}
		}
		if len(under) == 0 {
			return nil
		}
		key, found = under[0].Dossier, true
		if !fromMsgID || ixValue(key) != ixValue(id) {
			return nil // another Message-ID's objects: DossierRecords reads them
		}
		// The dossier's records are those under its Message-ID whose
		// dossier it is (DossierRecords): the ones just read.
		recs = []*Record{}
		for _, r := range under {
			if r.Dossier == key {
				recs = append(recs, r)
			}
		}
		return nil
	})
	return key, recs, found, err
}

// Records returns the records of ids that exist, in one read transaction
// (a search page reads hundreds).
func (c *Catalog) Records(ids []string) ([]*Record, error) {
	out := make([]*Record, 0, len(ids))
	err := c.view(func(t *txn) error {
		for _, id := range ids {
			_, r, err := t.get(id)
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

// Scan calls fn for every record, in the order they were catalogued.
func (c *Catalog) Scan(fn func(*Record) error) error {
	return c.db.View(func(tx *bolt.Tx) error {
		if c.legacy {
			return tx.Bucket(bucketMessages1).ForEach(func(k, v []byte) error {
				r, err := decodeRecord(k, v)
				if err != nil {
					return err
				}
				return fn(r)
			})
		}
		n := 0
		return tx.Bucket(bucketRecords).ForEach(func(_, v []byte) error {
			r, err := DecodeValue(v)
			if err != nil {
				return err
			}
			// One transaction over every record: drop the pages behind
			// it as it goes, or they all stay resident.
			if n++; n%searchReleaseEvery == 0 {
				_ = releaseMappedIn(tx) // memory only
			}
			return fn(r)
		})
	})
}

// ScanDates calls fn for the ids dated within [since, until), in date order.
func (c *Catalog) ScanDates(since, until time.Time, fn func(id string) error) error {
	return c.view(func(t *txn) error {
		return t.each(bucketDate, "", false, catalogfmt.StampOf(since), catalogfmt.StampOf(until), func(r *Record, _ []byte) error {
			if r.Date == nil || r.Date.Before(since) || !r.Date.Before(until) {
				return nil
			}
			return fn(r.ID)
		})
	})
}

// Count is the number of catalogued messages.
func (c *Catalog) Count() (int, error) {
	n := 0
	err := c.db.View(func(tx *bolt.Tx) error {
		if c.legacy {
			n = tx.Bucket(bucketMessages1).Stats().KeyN
			return nil
		}
		if v := tx.Bucket(bucketMeta).Get([]byte(countKey)); len(v) == 8 {
			n = int(binary.BigEndian.Uint64(v))
		}
		return nil
	})
	return n, err
}

// migrate1 moves the records of a format 1 catalog into format 2, a
// batch per transaction (a crash resumes where it stopped: what is left
// in "messages" is what was not moved), then drops the old buckets. A
// record that cannot be read moves as it is, under its id, so that the
// damage stays visible.
func (c *Catalog) migrate1() (bool, error) {
	for rounds := 0; ; rounds++ {
		done := false
		err := c.update(func(t *txn) error {
			old := t.tx.Bucket(bucketMessages1)
			if old == nil {
				done = true
				return t.tx.Bucket(bucketMeta).Put([]byte(formatKey), []byte(catalogfmt.Version))
			}
			for _, b := range indexBuckets1 {
				if t.tx.Bucket(b) != nil {
					if err := t.tx.DeleteBucket(b); err != nil {
						return err
					}
				}
			}
			var moved [][]byte
			cur := old.Cursor()
			for k, v := cur.First(); k != nil && len(moved) < 1000; k, v = cur.Next() {
				moved = append(moved, append([]byte(nil), k...))
				r, err := decodeRecord(k, v)
				if err == nil {
					if _, have, err := t.get(r.ID); err != nil || have != nil {
						continue
					}
					if err := t.put(r); err != nil {
						return err
					}
					continue
				}
				raw, ok := IDBytes(string(k))
				if !ok || t.ids.Get(raw) != nil {
					continue // not a record's key: nothing can be said of it
				}
				seq, err := t.recs.NextSequence()
				if err != nil {
					return err
				}
				if err := t.ids.Put(raw, catalogfmt.SeqKey(seq)); err != nil {
					return err
				}
				if err := t.recs.Put(catalogfmt.SeqKey(seq), append(raw, v...)); err != nil {
					return err
				}
				t.count++
			}
			if len(moved) == 0 {
				return t.tx.DeleteBucket(bucketMessages1)
			}
			for _, k := range moved {
				if err := old.Delete(k); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return false, fmt.Errorf("migrating the catalog to format %s: %w", catalogfmt.Version, err)
		}
		if done {
			return rounds > 0, nil
		}
	}
}

type sourceMark struct {
	UIDValidity uint32    `json:"uidvalidity"`
	UID         uint32    `json:"uid"`
	Updated     time.Time `json:"updated"`
}

// Mark is where an IMAP source stands (ingest.Marks).
func (c *Catalog) Mark(source string) (uint32, uint32, bool, error) {
	var m sourceMark
	ok, err := c.GetJSON(BucketSources, source, &m)
	return m.UIDValidity, m.UID, ok, err
}

// SetMark records that every message of source up to uid is catalogued.
func (c *Catalog) SetMark(source string, validity, uid uint32) error {
	return c.PutJSON(BucketSources, source, sourceMark{UIDValidity: validity, UID: uid, Updated: time.Now().UTC()})
}
