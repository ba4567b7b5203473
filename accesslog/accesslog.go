// Package accesslog keeps the web interface's access log as evidence: an
// append-only file of JSON lines, one record per login, search, view,
// download and legal hold, each carrying the SHA-256 of the record before
// it (a hash chain), so that a changed, inserted or removed record breaks
// the chain from there on.
//
// Several processes may append at once: each append takes an exclusive
// lock on the file (flock), reads the last record, writes the new one and
// syncs it before releasing the lock.
package accesslog

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/sys/unix"
)

// FileName is the access log's name in the archive home.
const FileName = "accesslog.jsonl"

// Genesis is the Prev of the first record.
const Genesis = "0000000000000000000000000000000000000000000000000000000000000000"

// maxField bounds every string of a record (a query can be long).
const maxField = 512

// maxLine bounds a record line; longer lines are damage.
const maxLine = 16 * 1024

// Record is one access.
type Record struct {
	Seq    int64     `json:"seq"`
	Time   time.Time `json:"time"`
	User   string    `json:"user"`
	Role   string    `json:"role,omitempty"`
	Action string    `json:"action"` // login, login-failed, logout, search, dossier, message, export, hold, unhold, …
	Target string    `json:"target,omitempty"`
	Addr   string    `json:"addr,omitempty"`
	Result string    `json:"result"` // ok, denied, not-found, error
	Prev   string    `json:"prev"`   // SHA-256 (hex) of the record before, Genesis for the first
	Hash   string    `json:"hash"`   // SHA-256 (hex) of this record with Hash empty
}

// Sum is the record's hash: SHA-256 of its JSON with Hash empty.
func (r Record) Sum() string {
	r.Hash = ""
	data, _ := json.Marshal(r)
	s := sha256.Sum256(data)
	return hex.EncodeToString(s[:])
}

func clip(s string) string {
	if len(s) <= maxField {
		return s
	}
	s = s[:maxField]
	for !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s + "…"
}

// Append adds r to the log at path (created if need be), filling Seq,
// Time (if zero), Prev and Hash, and returns the record as written.
func Append(path string, r Record) (Record, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return r, fmt.Errorf("access log: %w", err)
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		return r, fmt.Errorf("access log lock: %w", err)
	}
	defer unix.Flock(int(f.Fd()), unix.LOCK_UN)
	last, err := lastRecord(f)
	if err != nil {
		return r, err
	}
	r.Prev, r.Seq = Genesis, 1
	if last != nil {
		r.Prev, r.Seq = last.Hash, last.Seq+1
	}
	if r.Time.IsZero() {
		r.Time = time.Now().UTC()
	}
	r.User, r.Role, r.Action, r.Target, r.Addr, r.Result = clip(r.User), clip(r.Role), clip(r.Action), clip(r.Target), clip(r.Addr), clip(r.Result)
	r.Hash = r.Sum()
	data, err := json.Marshal(r)
	if err != nil {
		return r, err
	}
	if _, err := f.Write(append(data, '\n')); err != nil {
		return r, fmt.Errorf("access log write: %w", err)
	}
	if err := f.Sync(); err != nil {
		return r, fmt.Errorf("access log sync: %w", err)
	}
	return r, nil
}

// lastRecord reads the log's last record (nil when empty). A last line
// that does not parse is damage: nothing is chained onto it.
func lastRecord(f *os.File) (*Record, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.Size() == 0 {
		return nil, nil
	}
	n := min(st.Size(), maxLine+1)
	buf := make([]byte, n)
	if _, err := f.ReadAt(buf, st.Size()-n); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("access log read: %w", err)
	}
	if buf[len(buf)-1] != '\n' {
		return nil, errors.New("access log: the last record is incomplete (run conserva accesslog verify)")
	}
	buf = buf[:len(buf)-1]
	if i := bytes.LastIndexByte(buf, '\n'); i >= 0 {
		buf = buf[i+1:]
	} else if n < st.Size() {
		return nil, errors.New("access log: the last record is too long (run conserva accesslog verify)")
	}
	var r Record
	if err := json.Unmarshal(buf, &r); err != nil || r.Hash != r.Sum() {
		return nil, errors.New("access log: the last record is damaged (run conserva accesslog verify)")
	}
	return &r, nil
}

// Problem is one break in the log.
type Problem struct {
	Line    int    `json:"line"`
	Problem string `json:"problem"`
}

// Report is what Verify found.
type Report struct {
	Records  int       `json:"records"`
	Head     string    `json:"head,omitempty"` // hash of the last record: note it elsewhere to detect a cut tail
	Problems []Problem `json:"problems"`
}

// OK says whether the chain is whole.
func (r Report) OK() bool { return len(r.Problems) == 0 }

// Verify reads the log and checks every record: it parses, its hash is
// its own, it names the hash of the record before and the next sequence
// number. A missing file is an empty log.
func Verify(path string) (Report, error) {
	rep := Report{Problems: []Problem{}}
	prev, seq := Genesis, int64(0)
	err := scan(path, func(line int, r *Record, perr error) error {
		switch {
		case perr != nil:
			rep.Problems = append(rep.Problems, Problem{line, perr.Error()})
			prev = "" // whatever follows cannot be chained to it
			return nil
		case r.Hash != r.Sum():
			rep.Problems = append(rep.Problems, Problem{line, "the record does not match its hash (changed)"})
		case prev != "" && r.Prev != prev:
			rep.Problems = append(rep.Problems, Problem{line, "the record does not follow the one before (inserted, removed or changed)"})
		case seq != 0 && r.Seq != seq+1:
			rep.Problems = append(rep.Problems, Problem{line, fmt.Sprintf("sequence %d after %d", r.Seq, seq)})
		}
		rep.Records++
		prev, seq = r.Hash, r.Seq
		rep.Head = r.Hash
		return nil
	})
	return rep, err
}

var errStop = errors.New("stop")

// Read calls fn for every record that parses, in order.
func Read(path string, fn func(Record) error) error {
	err := scan(path, func(_ int, r *Record, perr error) error {
		if perr != nil {
			return nil
		}
		return fn(*r)
	})
	if errors.Is(err, errStop) {
		return nil
	}
	return err
}

func scan(path string, fn func(line int, r *Record, err error) error) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("access log: %w", err)
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, maxLine)
	for line := 1; ; line++ {
		data, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			for errors.Is(err, bufio.ErrBufferFull) {
				_, err = br.ReadSlice('\n')
			}
			if err := fn(line, nil, errors.New("the record is too long")); err != nil {
				return err
			}
			if errors.Is(err, io.EOF) {
				return nil
			}
			continue
		}
		if errors.Is(err, io.EOF) {
			if len(data) > 0 {
				return fn(line, nil, errors.New("the last record is incomplete (no end of line)"))
			}
			return nil
		}
		if err != nil {
			return fmt.Errorf("access log: %w", err)
		}
		var r Record
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&r); err != nil {
			if err := fn(line, nil, fmt.Errorf("the record does not parse: %s", strings.TrimSpace(err.Error()))); err != nil {
				return err
			}
			continue
		}
		// JSON keys match whatever their case: only the bytes json.Marshal
		// writes are the record, so that any changed byte is found.
		if again, _ := json.Marshal(r); !bytes.Equal(again, bytes.TrimSuffix(data, []byte("\n"))) {
			if err := fn(line, nil, errors.New("the record is not as it was written (changed)")); err != nil {
				return err
			}
			continue
		}
		if err := fn(line, &r, nil); err != nil {
			return err
		}
	}
}
