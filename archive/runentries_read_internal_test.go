package archive

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
)

// Entries longer than one read of the list (a long path, a long reason),
// beside short ones and empty fields, come back exactly as added.
func TestRunEntriesLongAndShort(t *testing.T) {
	s, err := newRunEntries(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	want := map[string]runEntry{}
	for i := range 50 {
		h := sha256.Sum256(fmt.Appendf(nil, "%d", i))
		e := runEntry{ID: hex.EncodeToString(h[:]), Source: strings.Repeat("d/", i*i) + "m.eml", Kind: "posta-certificata", Verdict: "invalid",
			Reason: strings.Repeat("à", i*40), Flagged: i%2 == 0}
		if i == 7 {
			e.Source, e.Kind, e.Verdict, e.Reason = "", "", "", ""
		}
		s.add(e)
		want[e.ID] = e
	}
	n := 0
	err = s.each(func(e runEntry) error {
		if w := want[e.ID]; w != e {
			return fmt.Errorf("entry %s came back as %+v, want %+v", e.ID, e, w)
		}
		n++
		return nil
	})
	if err != nil || n != len(want) {
		t.Fatalf("read back %d of %d: %v", n, len(want), err)
	}
}

// A damaged list is an error, never an entry made up.
func TestRunEntriesDamaged(t *testing.T) {
	s, err := newRunEntries(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	h := sha256.Sum256([]byte("x"))
	s.add(runEntry{ID: hex.EncodeToString(h[:]), Source: "a.eml", Kind: "posta-certificata", Verdict: "valid"})
	if err := s.w.Flush(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.f.WriteAt([]byte{0xff}, 4); err != nil { // the first length, past the entry
		t.Fatal(err)
	}
	if err := s.each(func(runEntry) error { return nil }); err == nil || !strings.Contains(err.Error(), "damaged") {
		t.Fatalf("a damaged entry was read: %v", err)
	}
}

func BenchmarkRunEntries(b *testing.B) {
	const n = 10000
	entries := make([]runEntry, n)
	for i := range entries {
		h := sha256.Sum256(fmt.Appendf(nil, "message %d", i))
		entries[i] = runEntry{ID: hex.EncodeToString(h[:]), Source: fmt.Sprintf("/var/mail/pec/cur/%09d.eml", i), Kind: "posta-certificata",
			Verdict: "valid", Reason: "signature matches the content; chain to trust anchor \"Example CA\" valid at signing time"}
	}
	dir := b.TempDir()
	b.ReportAllocs()
	for b.Loop() {
		s, err := newRunEntries(dir)
		if err != nil {
			b.Fatal(err)
		}
		for _, e := range entries {
			s.add(e)
		}
		if err := s.each(func(runEntry) error { return nil }); err != nil {
			b.Fatal(err)
		}
		s.close()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/entry")
}
