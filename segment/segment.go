// Package segment keeps the many small files of a package (one metadata
// file, one evidence record per message) in one stored object: a POSIX
// ustar archive. `tar xf` where the segment lies gives back exactly the
// files a package held one by one before segments (docs/FORMAT.md), so an
// auditor needs nothing but tar; conserva reads one member through an
// index of offsets built from the headers.
//
// Why: 100,000 messages made 200,000 small objects per seal, and the file
// system's per-file cost (or an object store's per-request cost) was most
// of the seal's time. One object of the same bytes costs a tenth.
package segment

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/conserva/conserva/internal/countio"
)

// Limits on what is read back: a segment is written by conserva, but read
// from a store that an adversary may have touched.
const (
	MaxMembers    = 10_000_000
	MaxMemberSize = 64 << 20
	maxNameLen    = 255
	blockSize     = 512
)

// ErrNotFound: the segment holds no member of that name.
var ErrNotFound = errors.New("not in the segment")

// Member is one file of a segment: its name (slash-separated, relative to
// the folder the segment lies in) and where its bytes are.
type Member struct {
	Name   string
	Offset int64 // of the first byte of its data
	Size   int64
}

// Writer writes a segment in one pass. Headers are deterministic (mode
// 0444, owner 0, the given modification time, ustar format): the same
// files in the same order make the same bytes, so a seal resumed after a
// crash rewrites an identical object.
type Writer struct {
	tw    *tar.Writer
	cw    *countio.Writer
	mtime time.Time
	// names says which names were added, by a digest of each: a
	// segment of 200,000 members held 24 MB of names.
	names map[[16]byte]bool
	n     int
}

// NewWriter starts a segment written to w; mtime is every member's time.
func NewWriter(w io.Writer, mtime time.Time) *Writer {
	cw := &countio.Writer{W: w}
	return &Writer{tw: tar.NewWriter(cw), cw: cw, mtime: mtime.UTC().Truncate(time.Second), names: map[[16]byte]bool{}}
}

// Add appends a member. Names must be relative, clean, unique and fit a
// ustar header.
func (w *Writer) Add(name string, data []byte) (Member, error) {
	if err := checkName(name); err != nil {
		return Member{}, err
	}
	sum := sha256.Sum256([]byte(name))
	id := [16]byte(sum[:16])
	if w.names[id] {
		return Member{}, fmt.Errorf("segment: %q added twice", name)
	}
	if len(data) > MaxMemberSize {
		return Member{}, fmt.Errorf("segment: %q is %d bytes, over the %d limit", name, len(data), MaxMemberSize)
	}
	hdr := &tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o444, Size: int64(len(data)), ModTime: w.mtime, Format: tar.FormatUSTAR}
	if err := w.tw.WriteHeader(hdr); err != nil {
		return Member{}, fmt.Errorf("segment: %q: %w", name, err)
	}
	// tar.Writer writes a header as whole blocks, unbuffered: the data
	// starts where the count stands now.
	m := Member{Name: name, Offset: w.cw.N, Size: int64(len(data))}
	if _, err := w.tw.Write(data); err != nil {
		return Member{}, err
	}
	w.names[id] = true
	w.n++
	return m, nil
}

// Len is the number of members added.
func (w *Writer) Len() int { return w.n }

// Close writes the end of the archive (it does not close the underlying writer).
func (w *Writer) Close() error { return w.tw.Close() }

func checkName(name string) error {
	if name == "" || len(name) > maxNameLen || strings.HasPrefix(name, "/") || path.Clean(name) != name ||
		name == ".." || strings.HasPrefix(name, "../") || strings.ContainsAny(name, "\\\x00") {
		return fmt.Errorf("segment: bad member name %.300q", name)
	}
	return nil
}

// Index lists a segment's members, for reading one without reading all.
// It is held while a package is audited or renewed: 100,000 members take
// some 10 MB, names back to back rather than a string and a Member each
// (twice that).
type Index struct {
	names []byte  // the members' names, back to back
	ms    []entry // sorted by name
}

// entry is a Member within an Index: its name is names[start:end].
type entry struct {
	start, end uint32 // MaxMembers names of maxNameLen bytes fit
	size       uint32 // at most MaxMemberSize
	offset     int64
}

// ReadIndex reads a segment's headers (skipping the data where r can seek)
// and indexes its members. A segment that is not what Writer makes (links,
// directories, bad or duplicate names, too many or too large members) is
// refused: it is damage, and a reader must not guess which copy counts.
func ReadIndex(r io.Reader) (*Index, error) {
	var ix Index
	err := each(r, false, func(m Member, _ io.Reader) error {
		start := len(ix.names)
		ix.names = append(ix.names, m.Name...)
		ix.ms = append(ix.ms, entry{start: uint32(start), end: uint32(len(ix.names)), size: uint32(m.Size), offset: m.Offset})
		return nil
	})
	if err != nil {
		return nil, err
	}
	// Exactly as large as what they hold: an index is kept a while.
	ix.names = bytes.Clone(ix.names)
	ix.ms = slices.Clip(append([]entry(nil), ix.ms...))
	sort.Slice(ix.ms, func(i, j int) bool { return bytes.Compare(ix.name(i), ix.name(j)) < 0 })
	for i := 1; i < len(ix.ms); i++ {
		if bytes.Equal(ix.name(i), ix.name(i-1)) {
			return nil, fmt.Errorf("segment: %q appears twice", ix.name(i))
		}
	}
	return &ix, nil
}

func (ix *Index) name(i int) []byte { return ix.names[ix.ms[i].start:ix.ms[i].end] }

func (ix *Index) member(i int) Member {
	e := ix.ms[i]
	return Member{Name: string(ix.name(i)), Offset: e.offset, Size: int64(e.size)}
}

// Lookup finds a member by name.
func (ix *Index) Lookup(name string) (Member, bool) {
	i := sort.Search(len(ix.ms), func(i int) bool { return string(ix.name(i)) >= name })
	if i < len(ix.ms) && string(ix.name(i)) == name {
		return ix.member(i), true
	}
	return Member{}, false
}

// Len is the number of members.
func (ix *Index) Len() int { return len(ix.ms) }

// Members returns the members sorted by name.
func (ix *Index) Members() []Member {
	out := make([]Member, len(ix.ms))
	for i := range ix.ms {
		out[i] = ix.member(i)
	}
	return out
}

// Each reads a segment from start to end, calling fn with each member and
// a reader of its data, in the order they were written. For bulk work
// (audit, renewal): one sequential read of the object.
func Each(r io.Reader, fn func(m Member, data io.Reader) error) error {
	return each(r, true, fn)
}

func each(r io.Reader, withData bool, fn func(Member, io.Reader) error) error {
	pr := &posReader{r: r}
	if s, ok := r.(io.Seeker); ok && !withData {
		pr.s = s
	}
	tr := tar.NewReader(pr)
	n := 0
	var end int64 // where the last member's blocks end
	for {
		h, err := tr.Next()
		if err == io.EOF {
			// tar.Reader takes a stream cut at a member's end for a
			// whole archive; Writer always ends with two zero blocks, so a
			// segment without them has lost members.
			if pr.pos < end+2*blockSize {
				return fmt.Errorf("segment: cut short after %d members (no end-of-archive blocks)", n)
			}
			return nil
		}
		if err != nil {
			return fmt.Errorf("segment: after %d members: %w", n, err)
		}
		if n++; n > MaxMembers {
			return fmt.Errorf("segment: more than %d members", MaxMembers)
		}
		if h.Typeflag != tar.TypeReg {
			return fmt.Errorf("segment: %.300q is not a regular file (type %q)", h.Name, h.Typeflag)
		}
		if err := checkName(h.Name); err != nil {
			return err
		}
		if h.Size < 0 || h.Size > MaxMemberSize {
			return fmt.Errorf("segment: %q is %d bytes, over the %d limit", h.Name, h.Size, MaxMemberSize)
		}
		m := Member{Name: h.Name, Offset: pr.pos, Size: h.Size}
		end = m.Offset + (m.Size+blockSize-1)/blockSize*blockSize
		if err := fn(m, tr); err != nil {
			return err
		}
	}
}

// posReader tracks the position in the underlying stream, so that a
// member's offset is known when its header has been read. tar.Reader reads
// whole blocks without buffering ahead, and skips data by seeking when it
// can.
type posReader struct {
	r   io.Reader
	s   io.Seeker // nil: skipping reads
	pos int64
}

func (p *posReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.pos += int64(n)
	return n, err
}

// Seek lets tar.Reader skip data instead of reading it; without a seeker
// underneath it fails, and tar.Reader reads instead.
func (p *posReader) Seek(off int64, whence int) (int64, error) {
	if p.s == nil {
		return 0, errors.New("segment: cannot seek")
	}
	n, err := p.s.Seek(off, whence)
	if err == nil {
		p.pos = n
	}
	return n, err
}

// Open returns a reader of one member's bytes from a reader of the whole
// segment: a section where r reads at offsets, else a seek or a skip.
func Open(r io.Reader, m Member) (io.Reader, error) {
	if ra, ok := r.(io.ReaderAt); ok {
		return io.NewSectionReader(ra, m.Offset, m.Size), nil
	}
	if s, ok := r.(io.Seeker); ok {
		if _, err := s.Seek(m.Offset, io.SeekStart); err != nil {
			return nil, err
		}
	} else if _, err := io.CopyN(io.Discard, r, m.Offset); err != nil {
		return nil, fmt.Errorf("segment: skipping to %q: %w", m.Name, err)
	}
	return io.LimitReader(r, m.Size), nil
}
