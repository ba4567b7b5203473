// Package extsort sorts fixed-size byte records in bounded memory: past a
// given number of records, each sorted run is spilled to an unlinked
// temporary file, and the runs are merged when read back. It lets a pass
// over millions of ids (which package lists which message) stay flat in
// memory whatever their number.
package extsort

import (
	"bufio"
	"bytes"
	"container/heap"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"

	"github.com/conserva/conserva/internal/spool"
)

// Sorter gathers records of one size and gives them back in byte order
// (duplicates kept). It is not safe for concurrent use.
type Sorter struct {
	size, max int
	dir       string
	buf       []byte
	runs      []*os.File
	done      bool
}

// New makes a Sorter of records of size bytes that holds at most max of
// them in memory; runs go to dir ("" for the system's temporary directory).
func New(dir string, size, max int) *Sorter {
	if max < 1 {
		max = 1
	}
	return &Sorter{size: size, max: max, dir: dir}
}

// Add copies one record in.
func (s *Sorter) Add(rec []byte) error {
	if s.done {
		return errors.New("extsort: Add after Each")
	}
	if len(rec) != s.size {
		return fmt.Errorf("extsort: record of %d bytes, want %d", len(rec), s.size)
	}
	s.buf = append(s.buf, rec...)
	if len(s.buf) >= s.max*s.size {
		return s.spill()
	}
	return nil
}

// records sorts a buffer of fixed-size records in place.
type records struct {
	b    []byte
	size int
	tmp  []byte
}

func (r records) Len() int { return len(r.b) / r.size }
func (r records) Less(i, j int) bool {
	return bytes.Compare(r.b[i*r.size:(i+1)*r.size], r.b[j*r.size:(j+1)*r.size]) < 0
}
func (r records) Swap(i, j int) {
	a, b := r.b[i*r.size:(i+1)*r.size], r.b[j*r.size:(j+1)*r.size]
	copy(r.tmp, a)
	copy(a, b)
	copy(b, r.tmp)
}

func (s *Sorter) sortBuf() {
	sort.Sort(records{b: s.buf, size: s.size, tmp: make([]byte, s.size)})
}

// spill writes the buffer, sorted, to a new unlinked run file.
func (s *Sorter) spill() error {
	if len(s.buf) == 0 {
		return nil
	}
	s.sortBuf()
	f, err := spool.Unlinked(s.dir, "extsort-*") // gone with the process, whatever happens
	if err != nil {
		return fmt.Errorf("extsort: %w", err)
	}
	if _, err := f.Write(s.buf); err != nil {
		f.Close()
		return fmt.Errorf("extsort: %w", err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		f.Close()
		return fmt.Errorf("extsort: %w", err)
	}
	s.runs = append(s.runs, f)
	s.buf = s.buf[:0]
	return nil
}

// run is one sorted source being merged.
type run struct {
	r   io.Reader
	cur []byte
}

type runHeap []*run

func (h runHeap) Len() int           { return len(h) }
func (h runHeap) Less(i, j int) bool { return bytes.Compare(h[i].cur, h[j].cur) < 0 }
func (h runHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *runHeap) Push(x any)        { *h = append(*h, x.(*run)) }
func (h *runHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// Each calls fn with every record in byte order. The slice is only valid
// during the call. Each may be called once; it closes the runs.
func (s *Sorter) Each(fn func(rec []byte) error) error {
	if s.done {
		return errors.New("extsort: Each called twice")
	}
	s.done = true
	defer s.Close()
	var h runHeap
	next := func(r *run) (bool, error) {
		if _, err := io.ReadFull(r.r, r.cur); err != nil {
			if errors.Is(err, io.EOF) {
				return false, nil
			}
			return false, fmt.Errorf("extsort: reading a run: %w", err)
		}
		return true, nil
	}
	if len(s.runs) == 0 {
		s.sortBuf() // all in memory: no file at all
	}
	srcs := make([]io.Reader, 0, len(s.runs)+1)
	for _, f := range s.runs {
		srcs = append(srcs, bufio.NewReaderSize(f, 32<<10))
	}
	if len(s.runs) > 0 {
		s.sortBuf()
	}
	srcs = append(srcs, bytes.NewReader(s.buf))
	for _, src := range srcs {
		r := &run{r: src, cur: make([]byte, s.size)}
		ok, err := next(r)
		if err != nil {
			return err
		}
		if ok {
			h = append(h, r)
		}
	}
	heap.Init(&h)
	for len(h) > 0 {
		r := h[0]
		if err := fn(r.cur); err != nil {
			return err
		}
		ok, err := next(r)
		if err != nil {
			return err
		}
		if ok {
			heap.Fix(&h, 0)
		} else {
			heap.Pop(&h)
		}
	}
	return nil
}

// Close drops the runs (Each does it too).
func (s *Sorter) Close() error {
	for _, f := range s.runs {
		f.Close()
	}
	s.runs, s.buf = nil, nil
	return nil
}
