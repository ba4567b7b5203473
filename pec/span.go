package pec

import (
	"bufio"
	"bytes"
	"crypto"
	"errors"
	"fmt"
	"io"
)

// span is a range of a message's bytes: [off, off+n) of src. Parsing works
// on spans rather than slices so that a message can be read from a file
// (ParseReaderAt) without ever being held in memory: only headers and the
// small parts that are interpreted (daticert.xml, the signature) are read.
// For a message already in memory the spans are slices of it, no copies.
type span struct {
	src io.ReaderAt
	off int64
	n   int64
	buf int // read buffer size for a src not in memory; 0: 64 KiB (tests set it small)
}

// memSrc is an in-memory message: its spans are slices.
type memSrc []byte

func (m memSrc) ReadAt(p []byte, off int64) (int, error) {
	if off >= int64(len(m)) {
		return 0, io.EOF
	}
	n := copy(p, m[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func memSpan(b []byte) span { return span{src: memSrc(b), n: int64(len(b))} }

// sub is the part of s from off, n bytes long (clipped to s).
func (s span) sub(off, n int64) span {
	off = min(max(off, 0), s.n)
	n = min(max(n, 0), s.n-off)
	return span{src: s.src, off: s.off + off, n: n, buf: s.buf}
}

func (s span) reader() *io.SectionReader { return io.NewSectionReader(s.src, s.off, s.n) }

// bytes returns the span's bytes; a slice of the message when it is in
// memory, else read, refused when longer than max.
func (s span) bytes(max int64) ([]byte, error) {
	if m, ok := s.src.(memSrc); ok {
		return m[s.off : s.off+s.n], nil
	}
	if s.n > max {
		return nil, fmt.Errorf("part of %d bytes exceeds the %d-byte limit", s.n, max)
	}
	b := make([]byte, s.n)
	if _, err := s.src.ReadAt(b, s.off); err != nil && !(errors.Is(err, io.EOF) && s.n == int64(len(b))) {
		return nil, fmt.Errorf("reading the message: %w", err)
	}
	return b, nil
}

// head returns at most n bytes from the start of the span.
func (s span) head(n int64) ([]byte, error) { return s.sub(0, n).bytes(n) }

// lines calls fn for each line of the span (its offset in the span and its
// bytes, line break included) and stops when fn returns false. A line
// longer than joinMax and the reader's buffer is given in pieces: only the first piece
// has start set, so that a caller matching line prefixes sees each line once.
func (s span) lines(fn func(off int64, line []byte, start bool) bool) error {
	if m, ok := s.src.(memSrc); ok {
		b := m[s.off : s.off+s.n]
		for i := 0; i < len(b); {
			j := bytes.IndexByte(b[i:], '\n')
			next := len(b)
			if j >= 0 {
				next = i + j + 1
			}
			if !fn(int64(i), b[i:next], true) {
				return nil
			}
			i = next
		}
		return nil
	}
	size := s.buf
	if size <= 0 {
		size = 64 << 10
	}
	br := bufio.NewReaderSize(s.reader(), size)
	var off int64
	start := true
	var acc []byte // the start of a line longer than the buffer, kept whole up to joinMax
	for {
		piece, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) && len(acc)+len(piece) < joinMax {
			acc = append(acc, piece...)
			continue
		}
		line := piece
		if len(acc) > 0 {
			acc = append(acc, piece...)
			line = acc
		}
		if len(line) > 0 {
			if !fn(off, line, start) {
				return nil
			}
			off += int64(len(line))
			start = line[len(line)-1] == '\n'
		}
		acc = acc[:0]
		switch {
		case err == nil, errors.Is(err, bufio.ErrBufferFull):
		case errors.Is(err, io.EOF):
			return nil
		default:
			return fmt.Errorf("reading the message: %w", err)
		}
	}
}

// joinMax: a line is given whole up to this length, so that a MIME delimiter
// (at most 72 bytes and some trailing blanks) is always seen in one piece.
const joinMax = 4 << 10

// hasBareLF reports a LF not preceded by CR anywhere in the span.
func (s span) hasBareLF() bool {
	var prev byte
	found := false
	s.lines(func(off int64, line []byte, start bool) bool {
		for i, c := range line {
			p := prev
			if i > 0 {
				p = line[i-1]
			}
			if c == '\n' && (off+int64(i) == 0 || p != '\r') {
				found = true
				return false
			}
		}
		prev = line[len(line)-1]
		return true
	})
	return found
}

// spanHasher gives pkcs7 the digest of a span read in a stream, so that a
// signed content of any size is verified without holding it; with crlf it
// hashes the canonical form (every bare LF as CRLF), as OpenSSL does in
// text mode. The reader pkcs7 passes (its in-memory Content) is ignored.
type spanHasher struct {
	s    span
	crlf bool
}

func (h spanHasher) Hash(f crypto.Hash, _ io.Reader) ([]byte, error) {
	if !f.Available() {
		return nil, fmt.Errorf("hash function %v not available", f)
	}
	d := f.New()
	if !h.crlf {
		if m, ok := h.s.src.(memSrc); ok {
			d.Write(m[h.s.off : h.s.off+h.s.n])
		} else if _, err := io.Copy(d, h.s.reader()); err != nil {
			return nil, &ReadError{err}
		}
		return d.Sum(nil), nil
	}
	var prev byte
	err := h.s.lines(func(off int64, line []byte, start bool) bool {
		if n := len(line); line[n-1] == '\n' {
			p := prev
			if n > 1 {
				p = line[n-2]
			}
			if off+int64(n) == 1 || p != '\r' {
				d.Write(line[:n-1])
				d.Write([]byte("\r\n"))
				prev = '\n'
				return true
			}
		}
		d.Write(line)
		prev = line[len(line)-1]
		return true
	})
	if err != nil {
		return nil, &ReadError{err}
	}
	return d.Sum(nil), nil
}

// ReadError: the message's bytes could not be read while verifying (a file
// gone or a disk error). It says nothing about the signature: callers
// report it as an error, never as a verdict.
type ReadError struct{ Err error }

func (e *ReadError) Error() string { return "reading the signed content: " + e.Err.Error() }
func (e *ReadError) Unwrap() error { return e.Err }
