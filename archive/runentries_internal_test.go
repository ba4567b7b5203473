package archive

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"runtime"
	"sort"
	"testing"
)

// A run's list of messages stays on disk: 150,000 entries (past the
// in-memory bound, so runs spill and merge) come back whole, in id order,
// while the heap holds a few MB, not the tens a list of them took.
func TestRunEntriesOnDisk(t *testing.T) {
	if testing.Short() {
		t.Skip("150,000 entries")
	}
	const n = 150000
	s, err := newRunEntries(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	entry := func(i int) runEntry {
		h := sha256.Sum256(fmt.Appendf(nil, "message %d", i))
		return runEntry{ID: hex.EncodeToString(h[:]), Source: fmt.Sprintf("/var/mail/pec/cur/%09d.eml", i), Kind: "posta-certificata",
			Verdict: "valid", Reason: "signature matches the content; chain to trust anchor \"Example CA\" valid at signing time", Flagged: i%7 == 0}
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	want := map[string]runEntry{}
	var ids []string
	flagged := 0
	for i := range n {
		e := entry(i)
		s.add(e)
		if e.Flagged {
			flagged++
		}
		if i%1000 == 0 { // a sample to compare whole; every id is checked for order and number
			want[e.ID] = e
		}
		ids = append(ids, e.ID)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	held := int64(after.HeapAlloc) - int64(before.HeapAlloc) - int64(len(ids))*(16+64) // less the test's own list of ids
	if held > 8<<20 {
		t.Errorf("%d entries held %d MB of heap, want under 8", n, held>>20)
	}
	if s.count != n || s.flagged != flagged {
		t.Fatalf("counted %d (%d flagged), want %d (%d)", s.count, s.flagged, n, flagged)
	}
	sort.Strings(ids)
	i := 0
	err = s.each(func(e runEntry) error {
		if i >= len(ids) || e.ID != ids[i] {
			return fmt.Errorf("entry %d: %s, want %s", i, e.ID, ids[i])
		}
		if w, ok := want[e.ID]; ok && w != e {
			return fmt.Errorf("entry %s came back as %+v, want %+v", e.ID, e, w)
		}
		i++
		return nil
	})
	if err != nil || i != n {
		t.Fatalf("read back %d of %d: %v", i, n, err)
	}
}

// An entry that cannot be kept makes the list fail when read, never
// shorter in silence; the count stays that of the run.
func TestRunEntriesFailLoudly(t *testing.T) {
	s, err := newRunEntries(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	h := sha256.Sum256([]byte("x"))
	s.add(runEntry{ID: hex.EncodeToString(h[:])})
	s.add(runEntry{ID: "not an id"})
	s.add(runEntry{ID: hex.EncodeToString(h[:])})
	if s.count != 3 {
		t.Fatalf("count %d", s.count)
	}
	if err := s.each(func(runEntry) error { return nil }); err == nil {
		t.Fatal("a list missing an entry was read as whole")
	}
}
