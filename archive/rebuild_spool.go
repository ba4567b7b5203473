package archive

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/conserva/conserva/catalog"
	"github.com/conserva/conserva/internal/spool"
)

// recordSpool keeps the records a rebuild makes (every message read back,
// and those marked damaged) in a temporary file, in the order made, with
// what the old catalog knew of each already carried over (carryOrigins).
// The new catalog is then loaded from it in key order (catalog.Load):
// inserting them one transaction after another changed pages all over the
// catalog (each held in memory until its commit, and each read bringing
// 64 KB of the file into the process's memory), and cost more.
type recordSpool struct {
	data, offs *os.File // unlinked: gone with the process
	w, ow      *bufio.Writer
	at         int64
	n          int
	old        *Catalog
	rel        *pageReleaser
	now        time.Time
	mu         sync.Mutex // add is called from ingest's cataloguer, then from the rebuild
}

// newRecordSpool makes a spool in dir; old (may be nil) is the catalog
// whose origins are carried over.
func newRecordSpool(dir string, old *Catalog) (*recordSpool, error) {
	s := &recordSpool{old: old, rel: releasing(old), now: time.Now().UTC()}
	for _, f := range []**os.File{&s.data, &s.offs} {
		var err error
		if *f, err = spool.Unlinked(dir, "catalog-rebuild-*"); err != nil {
			s.close()
			return nil, fmt.Errorf("spooling the rebuilt records: %w", err)
		}
	}
	s.w, s.ow = bufio.NewWriterSize(s.data, 256<<10), bufio.NewWriterSize(s.offs, 16<<10)
	return s, nil
}

// add spools records as Insert would catalogue them: each is new (a
// store lists each of its objects once).
func (s *recordSpool) add(recs []*Record) (Added, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	added := make(Added, len(recs))
	for i, r := range recs {
		if s.old != nil {
			o, err := s.old.Get(r.ID)
			s.rel.looked()
			if err == nil && o != nil { // else unknown to the old catalog, or unreadable there
				carryOrigins(r, o, s.now)
			}
		}
		data, err := catalog.EncodeValue(r)
		if err != nil {
			return nil, err
		}
		if _, err := s.w.Write(data); err != nil {
			return nil, err
		}
		if _, err := s.ow.Write(binary.BigEndian.AppendUint64(nil, uint64(s.at))); err != nil {
			return nil, err
		}
		s.at += int64(len(data))
		s.n++
		added[i] = true
	}
	return added, nil
}

// finish makes the spool readable: record reads records back.
func (s *recordSpool) finish() error {
	s.rel.release()
	if _, err := s.ow.Write(binary.BigEndian.AppendUint64(nil, uint64(s.at))); err != nil {
		return err
	}
	if err := s.w.Flush(); err != nil {
		return err
	}
	return s.ow.Flush()
}

// record reads record i back (safe from several goroutines at once).
func (s *recordSpool) record(i int) (*Record, error) {
	var o [16]byte
	if _, err := s.offs.ReadAt(o[:], int64(i)*8); err != nil {
		return nil, err
	}
	from, to := int64(binary.BigEndian.Uint64(o[:8])), int64(binary.BigEndian.Uint64(o[8:]))
	v := make([]byte, to-from)
	if _, err := s.data.ReadAt(v, from); err != nil && err != io.EOF {
		return nil, err
	}
	return catalog.DecodeValue(v)
}

func (s *recordSpool) close() {
	for _, f := range []*os.File{s.data, s.offs} {
		if f != nil {
			f.Close()
		}
	}
}

// rebuildLoad bounds what loading the rebuilt catalog holds in memory
// (some MB each), whatever the number of messages.
var rebuildLoad = catalog.LoadSizes{Batch: 2048, SortRun: 128 << 10, PutsPerTx: 64 << 10}

// loadSpooled replaces the (empty) catalog the rebuild has filled the
// spool through with one loaded from the spool, at the same path; the
// provider trust anchors already copied into it are kept.
func (a *Archive) loadSpooled(s *recordSpool) error {
	if err := s.finish(); err != nil {
		return fmt.Errorf("spooling the rebuilt records: %w", err)
	}
	c := a.Catalog
	c.spool = nil
	trust, err := readBucket(c, bucketTrust)
	if err != nil {
		return err
	}
	path := c.Path()
	if err := c.Close(); err != nil {
		return err
	}
	if err := os.Remove(path); err != nil {
		return err
	}
	var bad error
	var once sync.Once
	err = catalog.Load(path, a.Dir, s.n, func(i int) *Record {
		r, err := s.record(i)
		if err != nil {
			once.Do(func() { bad = err })
			return &Record{} // refused by catalog.Load (no id): bad says why
		}
		return r
	}, rebuildLoad)
	twice := errors.Is(err, catalog.ErrDuplicate)
	if bad != nil {
		err = fmt.Errorf("reading the spooled records back: %w", bad)
	} else if twice {
		// One message stored under two names (a copy in the wrong
		// folder): Insert keeps one record with both sources, as an
		// ingest would. Rare: the records go in one transaction a chunk.
		err = os.Remove(path)
	}
	if err != nil {
		return err
	}
	if a.Catalog, err = OpenCatalog(path, 5*time.Second); err != nil {
		return err
	}
	if twice {
		if err := s.insertAll(a.Catalog); err != nil {
			return err
		}
	}
	return writeBucket(a.Catalog, bucketTrust, trust)
}

// insertAll inserts the spooled records into c, in order.
func (s *recordSpool) insertAll(c *Catalog) error {
	for start := 0; start < s.n; start += catalogChunk {
		var recs []*Record
		for i := start; i < min(s.n, start+catalogChunk); i++ {
			r, err := s.record(i)
			if err != nil {
				return fmt.Errorf("reading the spooled records back: %w", err)
			}
			recs = append(recs, r)
		}
		if _, err := c.Insert(recs); err != nil {
			return err
		}
		_ = c.ReleaseMapped() // memory only
	}
	return nil
}
