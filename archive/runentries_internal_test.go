package archive

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"

	"github.com/conserva/conserva/ingest"
	"github.com/conserva/conserva/pec"
	"github.com/conserva/conserva/versamento"
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

// A night of refusals beyond the summary's bound: the summary lists the
// first maxMessageProblems and counts the rest; the rapporto di versamento
// lists every one, in the order they came.
func TestRefusalsBeyondTheSummaryInTheRapporto(t *testing.T) {
	a, err := Open(filepath.Join(t.TempDir(), "archive"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	const n = maxMessageProblems + 5
	src := itemsSource{ingest.NewItem("ok.eml", -1, func() (io.ReadCloser, error) {
		return io.NopCloser(strings.NewReader("Subject: not PEC\r\n\r\nkept all the same\r\n")), nil
	})}
	for i := range n {
		src = append(src, ingest.NewItem(fmt.Sprintf("unreadable/%06d.eml", i), 10, func() (io.ReadCloser, error) {
			return nil, errors.New("permission denied")
		}))
	}
	sum, err := a.Ingest(context.Background(), []ingest.Source{src}, IngestOptions{Trust: pec.NewTrustStore(), Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Archived != 1 || sum.Errors != n || len(sum.Failures) != maxMessageProblems || sum.FailuresOmitted != 5 {
		t.Fatalf("archived %d, errors %d, listed %d, omitted %d; want 1, %d, %d, 5", sum.Archived, sum.Errors, len(sum.Failures), sum.FailuresOmitted, n, maxMessageProblems)
	}
	reps, err := a.Reports(context.Background())
	if err != nil || len(reps) != 1 || reps[0].Refused != n {
		t.Fatalf("reports %+v (%v), want one refusing %d", reps, err, n)
	}
	data, err := a.readAll(context.Background(), reps[0].Key)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := versamento.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Refused) != n {
		t.Fatalf("the rapporto lists %d refusals, want %d", len(rep.Refused), n)
	}
	for i, f := range rep.Refused { // one worker: they came in order
		if want := fmt.Sprintf("unreadable/%06d.eml", i); f.Source != want || !strings.Contains(f.Reason, "permission denied") {
			t.Fatalf("refusal %d: %+v, want %s", i, f, want)
		}
	}
}

// A refusal that cannot be kept makes the rapporto fail, never list fewer.
func TestRefusalsFailLoudly(t *testing.T) {
	r, err := newRefusals(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	r.add(Failure{Source: "a", Error: "x"})
	r.f.Close() // what is buffered can no longer be written
	r.add(Failure{Source: "b", Error: strings.Repeat("y", 64)})
	if r.count != 2 {
		t.Fatalf("count %d", r.count)
	}
	if err := r.each(func(Failure) error { return nil }); err == nil {
		t.Fatal("a list missing a refusal was read as whole")
	}
}

type itemsSource []ingest.Item

func (s itemsSource) String() string { return "test items" }
func (s itemsSource) Walk(ctx context.Context, fn func(ingest.Item) error) error {
	for _, it := range s {
		if err := fn(it); err != nil {
			return err
		}
	}
	return nil
}
