package ingest

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// Mbox is a Unix mbox file. Messages are separated by "From " lines: the
// file's first line, and after an empty line a "From " line that carries a
// sender and a ctime date, as every mbox writer puts it (separatorLine).
// A message's bytes are what lies
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
		// The current message's bytes (and the line after them), while
		// they fit: a small message is handed on as bytes, not read again.
		kept keeper
	)
	emit := func(end int64) error {
		if start < 0 {
			return nil
		}
		n++
		s, e := start, end
		it := Item{
			Source: fmt.Sprintf("%s#%d", m.Path, n),
			Size:   e - s,
			open:   func() (io.ReadCloser, error) { return openSection(m.Path, s, e) },
		}
		if kept.on && e-s <= holdMax && int64(len(kept.b)) >= e-s {
			b := unquoteBytes(trimSeparator(kept.b[:e-s]))
			it.Size, it.held, it.isHeld = int64(len(b)), b, true
		}
		return fn(it)
	}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		line, size, err := readLine(r, &kept)
		if size > 0 {
			if prevEmpty && (offset == 0 && bytes.HasPrefix(line, []byte("From ")) || separatorLine(line)) {
				if err := emit(offset); err != nil {
					return err
				}
				start = offset + int64(size)
				kept.b, kept.on = kept.b[:0], true
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

// separatorHead is how much of a line is looked at: a separator's date
// follows its sender, whose address may be long.
const separatorHead = 512

// separatorLine says whether a line that follows an empty one starts a new
// message: "From ", a sender, then a ctime date ("Mon Nov 30 09:00:00
// 2026", in mbox files written by Python, Dovecot, Thunderbird, mutt,
// Gmail's export and conserva's own bench). A message's paragraph that
// begins with "From " and was left unquoted (an mboxo writer, a message
// saved with a leading "From -" line) stays in its message: split there,
// the line would be dropped as a separator and stored nowhere, and both
// halves flagged. A writer that puts no date in its separators makes two
// messages one object, whose bytes are all kept, and flagged.
func separatorLine(line []byte) bool {
	if !bytes.HasPrefix(line, []byte("From ")) {
		return false
	}
	f := strings.Fields(string(line[len("From "):]))
	// f[0] is the sender ("-" for Thunderbird); the date follows.
	for i := 1; i+3 < len(f); i++ {
		if isWeekday(f[i]) && isMonth(f[i+1]) && isDayOfMonth(f[i+2]) && isTimeOfDay(f[i+3]) {
			return true
		}
	}
	return false
}

func isWeekday(s string) bool {
	s = strings.TrimSuffix(s, ",")
	for _, d := range [...]string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"} {
		if strings.EqualFold(s, d) {
			return true
		}
	}
	return false
}

func isMonth(s string) bool {
	for _, m := range [...]string{"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"} {
		if strings.EqualFold(s, m) {
			return true
		}
	}
	return false
}

func isDayOfMonth(s string) bool {
	d, err := strconv.Atoi(s)
	return err == nil && len(s) <= 2 && d >= 1 && d <= 31
}

// isTimeOfDay: hh:mm or hh:mm:ss.
func isTimeOfDay(s string) bool {
	parts := strings.Split(s, ":")
	if len(parts) < 2 || len(parts) > 3 {
		return false
	}
	for _, p := range parts {
		if len(p) != 2 || p[0] < '0' || p[0] > '9' || p[1] < '0' || p[1] > '9' {
			return false
		}
	}
	return true
}

// readLine reads one line and returns its head (enough to recognise a
// separator or an empty line) and its full length, however long it is;
// the line is added to k. The head is r's own buffer (valid until r is
// read again) unless the line is longer than that buffer: copying every
// line's head was an allocation per line of the mbox.
func readLine(r *bufio.Reader, k *keeper) ([]byte, int, error) {
	line, err := r.ReadSlice('\n')
	head := line[:min(len(line), separatorHead)]
	n := len(line)
	k.add(line)
	if err == bufio.ErrBufferFull {
		head = bytes.Clone(head) // the next reads overwrite the buffer
	}
	for err == bufio.ErrBufferFull {
		line, err = r.ReadSlice('\n')
		n += len(line)
		k.add(line)
	}
	return head, n, err
}

// keeper holds a message's bytes while they stay within holdMax, with room
// for the separator line read after them; past that it lets them go.
type keeper struct {
	b  []byte
	on bool
}

func (k *keeper) add(p []byte) {
	if !k.on {
		return
	}
	if len(k.b)+len(p) > holdMax+1024 {
		k.b, k.on = k.b[:0], false
		return
	}
	k.b = append(k.b, p...)
}

// trimSeparator drops the empty line that, before the next separator,
// belongs to the mbox (as openSection does).
func trimSeparator(b []byte) []byte {
	if len(b) >= 2 {
		switch t := b[max(0, len(b)-4):]; {
		case bytes.HasSuffix(t, []byte("\r\n\r\n")):
			return b[:len(b)-2]
		case bytes.HasSuffix(t, []byte("\n\n")):
			return b[:len(b)-1]
		}
	}
	return b
}

// unquoteBytes is unquoteFrom of a message held in memory (at most
// holdMax bytes: no line is cut by unquoteFrom's buffer), into a new slice:
// at a line start, ">From ", ">>From ", … lose one ">" (the ">"s and
// "From " within the next 64 bytes, as unquoteFrom peeks).
func unquoteBytes(b []byte) []byte {
	out := make([]byte, 0, len(b))
	for len(b) > 0 {
		head := b[:min(len(b), 64)]
		i := 0
		for i < len(head) && head[i] == '>' {
			i++
		}
		if i > 0 && bytes.HasPrefix(head[i:], []byte("From ")) {
			b = b[1:]
		}
		j := bytes.IndexByte(b, '\n')
		if j < 0 {
			return append(out, b...)
		}
		out = append(out, b[:j+1]...)
		b = b[j+1:]
	}
	return out
}

func isEmptyLine(l []byte) bool {
	return bytes.Equal(l, []byte("\n")) || bytes.Equal(l, []byte("\r\n"))
}

// openSection opens bytes [start,end) of an mbox as one message.
func openSection(path string, start, end int64) (io.ReadCloser, error) {
	f, err := openRead(path)
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
