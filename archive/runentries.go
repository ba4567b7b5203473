package archive

import (
	"bufio"
	"cmp"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"sync"

	"github.com/conserva/conserva/internal/extsort"
	"github.com/conserva/conserva/internal/spool"
)

// runEntries keeps what the rapporto di versamento lists of each message
// a run archived, on disk rather than in memory: an entry is about 300
// bytes, so a run of a million messages held 300 MB (and at 100,000 its
// 30 MB kept the ingest's heap at its limit, collected every few hundred
// messages). Entries are appended to an unlinked file; their ids, each
// with the entry's offset, are sorted on disk past a bound, and read back
// in id order, one at a time, when the report is written.
type runEntries struct {
	f       *os.File
	w       *bufio.Writer
	at      int64
	sorted  *extsort.Sorter
	count   int
	flagged int
	err     error  // the first failure: the report then says it is incomplete
	buf     []byte // add's, for one entry
	refused *refusals
}

// entryKey: the raw id (32 bytes), then the entry's offset (8, big-endian).
const entryKey = 40

// entriesInMemory bounds the keys sorted in memory (2.6 MB).
const entriesInMemory = 1 << 16

func newRunEntries(dir string) (*runEntries, error) {
	f, err := spool.Unlinked(dir, "run-entries-*")
	if err != nil {
		return nil, err
	}
	refused, err := newRefusals(dir)
	if err != nil {
		f.Close()
		return nil, err
	}
	return &runEntries{f: f, w: bufio.NewWriterSize(f, 64<<10), sorted: extsort.New(dir, entryKey, entriesInMemory), refused: refused}, nil
}

// add records one entry.
func (s *runEntries) add(e runEntry) {
	s.count++ // counted even when it cannot be kept: the report then fails, never lists fewer
	if e.Flagged {
		s.flagged++
	}
	if s.err != nil {
		return
	}
	raw, ok := rawID(e.ID)
	if !ok {
		s.err = fmt.Errorf("entry %.80q: not a SHA-256", e.ID)
		return
	}
	s.buf = appendEntry(s.buf[:0], e)
	data := s.buf
	key := make([]byte, 0, entryKey)
	key = append(key, raw...)
	key = binary.BigEndian.AppendUint64(key, uint64(s.at))
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(len(data)))
	if _, err := s.w.Write(n[:]); err != nil {
		s.err = err
		return
	}
	if _, err := s.w.Write(data); err != nil {
		s.err = err
		return
	}
	if err := s.sorted.Add(key); err != nil {
		s.err = err
		return
	}
	s.at += int64(len(n) + len(data))
}

// each calls fn with every entry in id order; once.
func (s *runEntries) each(fn func(runEntry) error) error {
	if s.err != nil {
		return fmt.Errorf("the run's list of messages: %w", s.err)
	}
	if err := s.w.Flush(); err != nil {
		return fmt.Errorf("the run's list of messages: %w", err)
	}
	buf := make([]byte, entryRead)
	return s.sorted.Each(func(key []byte) error {
		at := int64(binary.BigEndian.Uint64(key[32:]))
		// One read takes the length and, mostly, the whole entry.
		k, err := s.f.ReadAt(buf[:entryRead], at)
		if k < 4 {
			return fmt.Errorf("the run's list of messages: %w", cmp.Or(err, io.ErrUnexpectedEOF))
		}
		size := int(binary.BigEndian.Uint32(buf))
		if size > int(s.at) {
			return errors.New("the run's list of messages: an entry longer than the list")
		}
		if 4+size > k {
			if cap(buf) < 4+size {
				buf = append(buf[:k], make([]byte, 4+size-k)...)
			}
			if m, err := s.f.ReadAt(buf[k:4+size], at+int64(k)); m != 4+size-k {
				return fmt.Errorf("the run's list of messages: %w", cmp.Or(err, io.ErrUnexpectedEOF))
			}
		}
		e, ok := readEntry(buf[4 : 4+size])
		if !ok {
			return errors.New("the run's list of messages: a damaged entry")
		}
		return fn(e)
	})
}

// entryRead is what each reads of an entry at once: most entries are
// about 300 bytes.
const entryRead = 1 << 10

// appendEntry appends e as the list keeps it: its strings, each after its
// length (uvarint), then the flag. Not JSON: the list is the run's own,
// read once, and encoding/json's reflection was most of writing and
// reading it back.
func appendEntry(b []byte, e runEntry) []byte {
	for _, f := range [...]string{e.ID, e.Source, e.Kind, e.Verdict, e.Reason} {
		b = binary.AppendUvarint(b, uint64(len(f)))
		b = append(b, f...)
	}
	if e.Flagged {
		return append(b, 1)
	}
	return append(b, 0)
}

// readEntry reads what appendEntry wrote.
func readEntry(b []byte) (runEntry, bool) {
	var f [5]string
	for i := range f {
		n, k := binary.Uvarint(b)
		if k <= 0 || n > uint64(len(b)-k) {
			return runEntry{}, false
		}
		f[i], b = string(b[k:k+int(n)]), b[k+int(n):]
	}
	if len(b) != 1 || b[0] > 1 {
		return runEntry{}, false
	}
	return runEntry{ID: f[0], Source: f[1], Kind: f[2], Verdict: f[3], Reason: f[4], Flagged: b[0] == 1}, true
}

// close drops the file and the sort's runs.
func (s *runEntries) close() {
	if s == nil {
		return
	}
	s.sorted.Close()
	s.f.Close()
	s.refused.close()
}

// refusals keeps every refusal of a run for its rapporto, on disk and in
// the order they came: a run that cannot read a million files would
// otherwise hold them all. The collector and the cataloguer both refuse
// (one a message it could not read or store, the other one it could not
// catalogue): add is safe for both at once.
type refusals struct {
	mu    sync.Mutex
	f     *os.File
	w     *bufio.Writer
	count int
	err   error // the first failure: the report then fails rather than list fewer
}

func newRefusals(dir string) (*refusals, error) {
	f, err := spool.Unlinked(dir, "run-refusals-*")
	if err != nil {
		return nil, err
	}
	return &refusals{f: f, w: bufio.NewWriterSize(f, 16<<10)}, nil
}

// add keeps one refusal.
func (r *refusals) add(f Failure) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.count++ // counted even when it cannot be kept: the report then fails
	if r.err != nil {
		return
	}
	data, err := json.Marshal(f)
	if err == nil {
		_, err = r.w.Write(append(data, '\n'))
	}
	r.err = err
}

// each calls fn with every refusal in the order they came; once, after
// the run.
func (r *refusals) each(fn func(Failure) error) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err == nil {
		r.err = r.w.Flush()
	}
	if r.err != nil {
		return fmt.Errorf("the run's list of refusals: %w", r.err)
	}
	dec := json.NewDecoder(io.NewSectionReader(r.f, 0, math.MaxInt64))
	for n := 0; n < r.count; n++ {
		var f Failure
		if err := dec.Decode(&f); err != nil {
			return fmt.Errorf("the run's list of refusals: %w", err)
		}
		if err := fn(f); err != nil {
			return err
		}
	}
	return nil
}

func (r *refusals) close() {
	if r != nil {
		r.f.Close()
	}
}
