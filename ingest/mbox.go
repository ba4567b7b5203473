package ingest

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
)

// Mbox is a Unix mbox file. Messages are separated by "From " lines at the
// start of the file or after an empty line. A message's bytes are what lies
// between the separators, less the empty line that precedes the next one,
// with the mboxrd quoting undone (">From " at a line start loses one ">"),
// so that a message comes out as it went in and its signature still holds.
type Mbox struct{ Path string }

func (m Mbox) String() string { return m.Path }

func (m Mbox) Walk(ctx context.Context, fn func(Item) error) error {
	f, err := os.Open(m.Path)
	if err != nil {
		return fn(Item{Source: m.Path, Size: -1, Err: err})
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 256<<10)
	var (
		offset    int64 // of the next line
		start     int64 = -1
		prevEmpty       = true
		n         int
	)
	emit := func(end int64) error {
		if start < 0 {
			return nil
		}
		n++
		s, e := start, end
		return fn(Item{
			Source: fmt.Sprintf("%s#%d", m.Path, n),
			Size:   e - s,
			open:   func() (io.ReadCloser, error) { return openSection(m.Path, s, e) },
		})
	}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		line, size, err := readLine(r)
		if size > 0 {
			if prevEmpty && bytes.HasPrefix(line, []byte("From ")) {
				if err := emit(offset); err != nil {
					return err
				}
				start = offset + int64(size)
			}
			prevEmpty = size == len(line) && isEmptyLine(line)
			offset += int64(size)
		}
		if err == io.EOF {
			return emit(offset)
		}
		if err != nil {
			return fn(Item{Source: m.Path, Size: -1, Err: err})
		}
	}
}

// readLine reads one line and returns its head (enough to recognise a
// separator or an empty line) and its full length, however long it is.
func readLine(r *bufio.Reader) ([]byte, int, error) {
	line, err := r.ReadSlice('\n')
	head := append([]byte(nil), line[:min(len(line), 64)]...)
	n := len(line)
	for err == bufio.ErrBufferFull {
		line, err = r.ReadSlice('\n')
		n += len(line)
	}
	return head, n, err
}

func isEmptyLine(l []byte) bool {
	return bytes.Equal(l, []byte("\n")) || bytes.Equal(l, []byte("\r\n"))
}

// openSection opens bytes [start,end) of an mbox as one message.
func openSection(path string, start, end int64) (io.ReadCloser, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	// The empty line before the next separator belongs to the mbox.
	if end-start >= 2 {
		tail := make([]byte, 4)
		k := min(int64(4), end-start)
		if _, err := f.ReadAt(tail[:k], end-k); err == nil {
			t := tail[:k]
			switch {
			case bytes.HasSuffix(t, []byte("\r\n\r\n")):
				end -= 2
			case bytes.HasSuffix(t, []byte("\n\n")):
				end--
			}
		}
	}
	pr := unquoteFrom(io.NewSectionReader(f, start, end-start))
	return sectionReader{pr, f}, nil
}

type sectionReader struct {
	*io.PipeReader
	f *os.File
}

// Close stops the unquoting goroutine (its next write fails) and the file.
func (s sectionReader) Close() error {
	s.PipeReader.Close()
	return s.f.Close()
}

// unquoteFrom undoes mboxrd quoting: at a line start, ">From ", ">>From ", …
// lose one ">".
func unquoteFrom(r io.Reader) *io.PipeReader {
	pr, pw := io.Pipe()
	go func() {
		br := bufio.NewReaderSize(r, 64<<10)
		bw := bufio.NewWriterSize(pw, 64<<10)
		atStart := true
		for {
			if atStart {
				head, _ := br.Peek(64)
				if len(head) > 0 && head[0] == '>' {
					i := 0
					for i < len(head) && head[i] == '>' {
						i++
					}
					if bytes.HasPrefix(head[i:], []byte("From ")) {
						_, _ = br.Discard(1)
					}
				}
			}
			chunk, err := br.ReadSlice('\n')
			if len(chunk) > 0 {
				if _, werr := bw.Write(chunk); werr != nil {
					pw.CloseWithError(werr)
					return
				}
			}
			atStart = err == nil // a full line was read
			if err == bufio.ErrBufferFull {
				continue
			}
			if err != nil {
				if err == io.EOF {
					err = bw.Flush()
				}
				pw.CloseWithError(err)
				return
			}
		}
	}()
	return pr
}
