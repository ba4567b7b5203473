package accesslog

// Sealing the log: at each seal the records not yet sealed are cut off as
// a segment (the exact bytes of whole lines) that the seal stores
// write-once inside its package and lists in the signed index. The live
// log goes on growing; CheckSealed compares it with every sealed segment,
// so that a record changed, removed or cut off after it was sealed is
// named even where the hash chain alone could be rebuilt by a forger.

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strconv"

	"golang.org/x/sys/unix"
)

// MaxSegment bounds a segment's bytes (one PUT on S3); what is left over
// goes into the next seal's segment.
const MaxSegment = 64 << 20

// Mark says how far the log is sealed: through record Line, which ends at
// byte Offset.
type Mark struct {
	Line   int64 `json:"line"`
	Offset int64 `json:"offset"`
}

// Segment is a run of whole records of the log, First to Last by line
// number (in a whole log, the records' seq), at Offset for Length bytes.
type Segment struct {
	First  int64  `json:"first"`
	Last   int64  `json:"last"`
	Offset int64  `json:"offset"`
	Length int64  `json:"length"`
	SHA256 string `json:"sha256"`
}

// Name is the segment's object name: <first>-<last>-<sha256>.jsonl.
func (s Segment) Name() string { return fmt.Sprintf("%d-%d-%s.jsonl", s.First, s.Last, s.SHA256) }

// End is the mark after the segment.
func (s Segment) End() Mark { return Mark{Line: s.Last, Offset: s.Offset + s.Length} }

var segmentName = regexp.MustCompile(`^([1-9][0-9]{0,17})-([1-9][0-9]{0,17})-([0-9a-f]{64})\.jsonl$`)

// ParseSegmentName reads First, Last and SHA256 back from a segment's
// object name (Offset and Length are not in it).
func ParseSegmentName(name string) (Segment, error) {
	m := segmentName.FindStringSubmatch(name)
	if m == nil {
		return Segment{}, fmt.Errorf("%.200q is not an access log segment name", name)
	}
	first, _ := strconv.ParseInt(m[1], 10, 64)
	last, _ := strconv.ParseInt(m[2], 10, 64)
	if last < first {
		return Segment{}, fmt.Errorf("%.200q: last record before the first", name)
	}
	return Segment{First: first, Last: last, SHA256: m[3]}, nil
}

// Cut returns the whole records after from (at most MaxSegment bytes,
// at least one record), with their bytes; a zero Segment when there are
// none. A record being appended meanwhile is left for the next cut.
func Cut(path string, from Mark) (Segment, []byte, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return Segment{}, nil, nil
	}
	if err != nil {
		return Segment{}, nil, fmt.Errorf("access log: %w", err)
	}
	defer f.Close()
	// Appends hold an exclusive lock while they write: a shared one reads
	// whole records only, and blocks them for as long as the read.
	if err := unix.Flock(int(f.Fd()), unix.LOCK_SH); err != nil {
		return Segment{}, nil, fmt.Errorf("access log lock: %w", err)
	}
	defer unix.Flock(int(f.Fd()), unix.LOCK_UN)
	st, err := f.Stat()
	if err != nil {
		return Segment{}, nil, fmt.Errorf("access log: %w", err)
	}
	if st.Size() < from.Offset {
		return Segment{}, nil, fmt.Errorf("access log: %d bytes, but %d were sealed (cut off: run conserva accesslog verify)", st.Size(), from.Offset)
	}
	if from.Offset > 0 {
		// The sealed part must still end where it ended: otherwise the
		// records after it cannot be told apart.
		b := make([]byte, 1)
		if _, err := f.ReadAt(b, from.Offset-1); err != nil || b[0] != '\n' {
			return Segment{}, nil, errors.New("access log: the sealed part no longer ends where it was sealed (changed: run conserva accesslog verify)")
		}
	}
	n := min(st.Size()-from.Offset, MaxSegment)
	data := make([]byte, n)
	if _, err := f.ReadAt(data, from.Offset); err != nil && !errors.Is(err, io.EOF) {
		return Segment{}, nil, fmt.Errorf("access log read: %w", err)
	}
	end := bytes.LastIndexByte(data, '\n')
	if end < 0 {
		if n == MaxSegment {
			return Segment{}, nil, fmt.Errorf("access log: a record longer than %d bytes at byte %d (damaged: run conserva accesslog verify)", MaxSegment, from.Offset)
		}
		return Segment{}, nil, nil
	}
	data = data[:end+1]
	sum := sha256.Sum256(data)
	seg := Segment{First: from.Line + 1, Last: from.Line + int64(bytes.Count(data, []byte("\n"))),
		Offset: from.Offset, Length: int64(len(data)), SHA256: hex.EncodeToString(sum[:])}
	return seg, data, nil
}

// Unsealed counts the whole records after the mark.
func Unsealed(path string, from Mark) (int64, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("access log: %w", err)
	}
	defer f.Close()
	if _, err := f.Seek(from.Offset, io.SeekStart); err != nil {
		return 0, fmt.Errorf("access log: %w", err)
	}
	var n int64
	buf := make([]byte, 64<<10)
	for {
		k, err := f.Read(buf)
		n += int64(bytes.Count(buf[:k], []byte("\n")))
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return n, fmt.Errorf("access log: %w", err)
		}
	}
}

// Sealed is a segment as a package holds it.
type Sealed struct {
	Key  string // where it is stored, named in problems
	Name string // its object name (<first>-<last>-<sha256>.jsonl)
	Data []byte
}

// maxNamed bounds the records named per segment (a removed line shifts
// every one after it).
const maxNamed = 20

// CheckSealed compares every sealed segment with the live log at path:
// each must hash to its name and equal, byte for byte, the live records
// First to Last; together they must cover records 1 to the last sealed one
// without a gap. It names every record that differs (Line is its number)
// and returns the mark the segments end at.
func CheckSealed(path string, sealed []Sealed) ([]Problem, Mark, error) {
	probs := []Problem{}
	var mark Mark
	type seg struct {
		Segment
		Sealed
	}
	var segs []seg
	for _, s := range sealed {
		sg, err := ParseSegmentName(s.Name)
		if err != nil {
			probs = append(probs, Problem{Problem: s.Key + ": " + err.Error()})
			continue
		}
		sum := sha256.Sum256(s.Data)
		if hex.EncodeToString(sum[:]) != sg.SHA256 {
			probs = append(probs, Problem{Line: int(sg.First), Problem: fmt.Sprintf("the sealed segment %s does not match its hash (altered)", s.Key)})
			continue
		}
		if got := int64(bytes.Count(s.Data, []byte("\n"))); got != sg.Last-sg.First+1 || (len(s.Data) > 0 && s.Data[len(s.Data)-1] != '\n') {
			probs = append(probs, Problem{Line: int(sg.First), Problem: fmt.Sprintf("the sealed segment %s holds %d records, not records %d to %d", s.Key, got, sg.First, sg.Last)})
			continue
		}
		segs = append(segs, seg{sg, s})
	}
	sort.Slice(segs, func(i, j int) bool { return segs[i].First < segs[j].First })
	lines, err := lineOffsets(path)
	if err != nil {
		return probs, mark, err
	}
	f, err := os.Open(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return probs, mark, fmt.Errorf("access log: %w", err)
	}
	if f != nil {
		defer f.Close()
	}
	next := int64(1)
	for _, s := range segs {
		switch {
		case s.First > next:
			probs = append(probs, Problem{Line: int(next), Problem: fmt.Sprintf("records %d to %d are in no sealed segment (a segment is missing)", next, s.First-1)})
		case s.First < next:
			probs = append(probs, Problem{Line: int(s.First), Problem: fmt.Sprintf("records %d to %d are sealed twice (%s)", s.First, min(s.Last, next-1), s.Key)})
		}
		if s.First >= next {
			// The sealed bytes, not the live ones, say where the next
			// segment begins.
			mark = Mark{Line: s.Last, Offset: mark.Offset + int64(len(s.Data))}
		}
		next = max(next, s.Last+1)
		// The live records first to last (as many as there are), read at
		// once: equal is the common case.
		var live []byte
		if s.First <= int64(len(lines)) {
			from, to := lines[s.First-1].start, lines[min(s.Last, int64(len(lines)))-1].end
			live = make([]byte, to-from)
			if _, err := f.ReadAt(live, from); err != nil && !errors.Is(err, io.EOF) {
				return probs, mark, fmt.Errorf("access log read: %w", err)
			}
			if bytes.Equal(live, s.Data) {
				continue
			}
		}
		named := 0
		recs := bytes.SplitAfter(s.Data, []byte("\n"))
		for i, want := range recs[:len(recs)-1] {
			n := s.First + int64(i)
			if n > int64(len(lines)) {
				probs = append(probs, Problem{Line: int(n), Problem: fmt.Sprintf("the live log ends at record %d, but records %d to %d are sealed in %s (cut off)", len(lines), n, s.Last, s.Key)})
				break
			}
			base := lines[s.First-1].start
			if l := lines[n-1]; bytes.Equal(live[l.start-base:l.end-base], want) {
				continue
			}
			if named++; named > maxNamed {
				probs = append(probs, Problem{Line: int(n), Problem: fmt.Sprintf("and further records to %d differ from %s", s.Last, s.Key)})
				break
			}
			probs = append(probs, Problem{Line: int(n), Problem: fmt.Sprintf("record %d differs from the copy sealed in %s (changed, inserted or removed)", n, s.Key)})
		}
	}
	return probs, mark, nil
}

type span struct{ start, end int64 }

// lineOffsets finds where each line of the log begins and ends (its end
// of line included), whatever the lines hold.
func lineOffsets(path string) ([]span, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("access log: %w", err)
	}
	defer f.Close()
	var out []span
	br := bufio.NewReaderSize(f, 64<<10)
	var pos, start int64
	for {
		chunk, err := br.ReadSlice('\n')
		pos += int64(len(chunk))
		if err == nil {
			out = append(out, span{start, pos})
			start = pos
			continue
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if errors.Is(err, io.EOF) {
			if pos > start {
				out = append(out, span{start, pos}) // the incomplete last line
			}
			return out, nil
		}
		return nil, fmt.Errorf("access log: %w", err)
	}
}

// ReadSegment reads a segment's bytes back from the live log, refusing
// them unless they still hash as they did when it was cut.
func ReadSegment(path string, s Segment) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("access log: %w", err)
	}
	defer f.Close()
	if s.Length < 0 || s.Length > MaxSegment {
		return nil, fmt.Errorf("access log: a segment of %d bytes", s.Length)
	}
	data := make([]byte, s.Length)
	if _, err := f.ReadAt(data, s.Offset); err != nil {
		return nil, fmt.Errorf("access log: records %d to %d: %w", s.First, s.Last, err)
	}
	if sum := sha256.Sum256(data); hex.EncodeToString(sum[:]) != s.SHA256 {
		return nil, fmt.Errorf("access log: records %d to %d changed since the seal began", s.First, s.Last)
	}
	return data, nil
}
