// Package catalogfmt is the byte layout of the catalog's records and index
// keys (format 2, docs/FORMAT.md): records are numbered in the order they
// are catalogued, stored under their number and compressed against a
// dictionary of what every record repeats; index keys are the indexed
// value, the record's date and its number, so that a lookup reads its hits
// in date order and can start at a date.
package catalogfmt

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
	"unicode"
)

// Version is the catalog format this package writes.
const Version = "2"

// packed marks a compressed record; a record of format 1 is plain JSON
// and begins with '{'.
const packed = 0x02

// MaxRecord bounds a decompressed record: a damaged value never makes the
// reader allocate more (records are capped well below it, bounded.go).
const MaxRecord = 4 << 20

// dict holds what records repeat: field names and common values. Changing
// it makes every stored record unreadable: add a new dictionary under a
// new marker byte instead.
var dict = []byte(`{"id":"","key":"","size":,"kind":"posta-certificata","receipt_type":"completa","signature":"valid","reason":"signature matches the content; chain to trust anchor \"","signer":"Posta Certificata ","signed_at":"T:00Z","time_source":"signingTime","message_id":"<opec","ref_message_id":"<","identificativo":"opec","msgid":"<@pec.","from":"@pec.it","to":["@pec.it"],"subject":"POSTA CERTIFICATA: ","date":"20","errore":"nessuno","recipient":"","dossier":"","sources":["imaps://;UIDVALIDITY=;UID="],"ingested_at":"20","package":"","flagged":false,"history":[{"at":"20","by":"ingest","verdict":"valid","reason":"signature matches the content; chain to trust anchor \"\" valid at (signingTime); legacy algorithms accepted: SHA-1 message digest","signer":"Posta Certificata ","trust":[""]}],"attachments":[{"name":"","type":"application/pdf","size":,"sha256":""}],"flow":"E","class":{"tipo_registro":"Nessuno"},"class_history":[{"by":"ingest","class":{"tipo_registro":"Nessuno"}}]} accettazione avvenuta-consegna presa-in-carico non-accettazione errore-consegna not-pec invalid untrusted absent ACCETTAZIONE: CONSEGNA: AVVENUTA CONSEGNA: `)

var readers = sync.Pool{New: func() any { return flate.NewReaderDict(bytes.NewReader(nil), dict) }}

// packLevel: on 30,000 real records, level 2 packs one in 29 µs against
// level 6's 36, for 1.5 % more bytes (410 against 404); level 1 ignores
// most of the dictionary (twice the size). Any level reads back the same:
// the level is not part of the format.
const packLevel = 2

// packers keeps compressors from one record to the next. Not a
// sync.Pool: a collection empties that, and an ingest's heap, held at its
// limit, is collected every few hundred records: each record made a new
// compressor (about 1 MB, its dictionary hashed again), which made the
// next collection come sooner. A few are kept: one per writer of the
// catalog at a time, and parallel loads make more and drop them.
var packers = make(chan *packer, 2)

func getPacker() *packer {
	select {
	case p := <-packers:
		return p
	default:
	}
	p := &packer{}
	w, err := flate.NewWriterDict(&p.out, packLevel, dict)
	if err != nil {
		panic(err) // only for a bad level, a constant here
	}
	p.w = w
	return p
}

func putPacker(p *packer) {
	select {
	case packers <- p:
	default:
	}
}

// packer is a compressor with the slice it appends to.
type packer struct {
	w   *flate.Writer
	out appender
}

// appender is an io.Writer appending to a slice.
type appender struct{ b []byte }

func (a *appender) Write(p []byte) (int, error) {
	a.b = append(a.b, p...)
	return len(p), nil
}

// Pack compresses a record's JSON.
func Pack(data []byte) []byte { return AppendPack(make([]byte, 0, len(data)/3+16), data) }

// AppendPack appends Pack(data) to dst.
func AppendPack(dst, data []byte) []byte {
	p := getPacker()
	p.out.b = append(dst, packed)
	p.w.Reset(&p.out)
	p.w.Write(data) // appends do not fail
	p.w.Close()
	out := p.out.b
	p.out.b = nil
	putPacker(p)
	return out
}

// ErrFormat: a value is neither a packed record nor JSON.
var ErrFormat = errors.New("not a catalog record")

// Unpack returns a record's JSON from a packed value; a value of format 1
// (plain JSON) is returned as it is.
func Unpack(v []byte) ([]byte, error) {
	if len(v) > 0 && v[0] == '{' {
		return v, nil
	}
	if len(v) == 0 || v[0] != packed {
		return nil, ErrFormat
	}
	r := readers.Get().(io.ReadCloser)
	defer readers.Put(r)
	if err := r.(flate.Resetter).Reset(bytes.NewReader(v[1:]), dict); err != nil {
		return nil, err
	}
	// Records compress about 5:1: one allocation of that size mostly does.
	out := bytes.NewBuffer(make([]byte, 0, 6*len(v)+64))
	if _, err := out.ReadFrom(io.LimitReader(r, MaxRecord+1)); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrFormat, err)
	}
	if out.Len() > MaxRecord {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrFormat, MaxRecord)
	}
	return out.Bytes(), nil
}

// SeqKey is the key of record number seq.
func SeqKey(seq uint64) []byte { return binary.BigEndian.AppendUint64(nil, seq) }

// Seq reads a SeqKey.
func Seq(k []byte) (uint64, bool) {
	if len(k) != 8 {
		return 0, false
	}
	return binary.BigEndian.Uint64(k), true
}

// Stamp is a date as index keys order it: seconds since 1970, 0 for no
// date or one before 1970, the largest for one after 2106.
func Stamp(t *time.Time) uint32 {
	if t == nil || t.Unix() < 0 {
		return 0
	}
	return uint32(min(t.Unix(), 1<<32-1))
}

// StampOf is Stamp of a time that is always there.
func StampOf(t time.Time) uint32 { return Stamp(&t) }

// Value cleans an index value: NUL separates it from the date, so none
// stays inside.
func Value(v string) string { return strings.ReplaceAll(v, "\x00", " ") }

// IndexKey is value, NUL, the date (4 bytes) and the record's number
// (its significant bytes only: the rest of the key).
func IndexKey(value string, stamp uint32, seq uint64) []byte {
	return AppendIndexKey(make([]byte, 0, len(value)+1+4+8), value, stamp, seq)
}

// AppendIndexKey appends IndexKey(value, stamp, seq) to k.
func AppendIndexKey(k []byte, value string, stamp uint32, seq uint64) []byte {
	start := len(k)
	k = append(k, value...)
	for i := bytes.IndexByte(k[start:], 0); i >= 0; i = bytes.IndexByte(k[start:], 0) {
		k[start+i] = ' ' // Value, without its copy
	}
	k = append(k, 0)
	k = binary.BigEndian.AppendUint32(k, stamp)
	var s [8]byte
	binary.BigEndian.PutUint64(s[:], seq)
	i := 0
	for i < 7 && s[i] == 0 {
		i++
	}
	return append(k, s[i:]...)
}

// Prefix is the start of every key of value, at or after stamp.
func Prefix(value string, stamp uint32) []byte {
	k := append([]byte(Value(value)), 0)
	return binary.BigEndian.AppendUint32(k, stamp)
}

// ParseIndexKey splits an index key.
func ParseIndexKey(k []byte) (value []byte, stamp uint32, seq uint64, ok bool) {
	i := bytes.IndexByte(k, 0)
	if i < 0 || len(k) < i+1+4+1 || len(k) > i+1+4+8 {
		return nil, 0, 0, false
	}
	stamp = binary.BigEndian.Uint32(k[i+1:])
	for _, b := range k[i+5:] {
		seq = seq<<8 | uint64(b)
	}
	return k[:i], stamp, seq, true
}

// Limits of the subject index: the words a subject is found by.
const (
	MinWord  = 2
	MaxWord  = 48 // bytes; longer words are indexed by their start
	MaxWords = 24 // per subject
)

// Words are the distinct words of a text, lower-cased, in order: runs of
// letters and digits, of at least MinWord characters.
func Words(text string) []string {
	var out []string
	seen := map[string]bool{}
	for _, w := range strings.FieldsFunc(strings.ToLower(text), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
		if len([]rune(w)) < MinWord {
			continue
		}
		w = cut(w, MaxWord)
		if !seen[w] {
			seen[w] = true
			out = append(out, w)
			if len(out) == MaxWords {
				break
			}
		}
	}
	return out
}

// cut shortens s to at most n bytes without splitting a character.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8Start(s[n]) {
		n--
	}
	return s[:n]
}

func utf8Start(b byte) bool { return b&0xC0 != 0x80 }
