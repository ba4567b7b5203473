package archive_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/conserva/conserva/archive"
	"github.com/conserva/conserva/pec"
)

// Reverify streams the catalog: it holds neither every record nor every
// changed one, and lists the first 10,000 changed verdicts, counting the
// rest (each one is still in its message's history).
func TestReverifyStreamsAndCapsItsList(t *testing.T) {
	if testing.Short() {
		t.Skip("ingests 10,050 messages")
	}
	_, a := setup(t)
	const n, listed = 10050, 10000
	var mbox strings.Builder
	for i := range n {
		fmt.Fprintf(&mbox, "From sender@example.it Mon Nov 30 10:00:00 2026\nFrom: sender@example.it\nTo: r@example.it\nSubject: pratica %d, una descrizione abbastanza lunga da pesare\nMessage-ID: <%d@example.it>\n\nmessage %d\n\n", i, i, i)
	}
	file := filepath.Join(t.TempDir(), "many.mbox")
	if err := os.WriteFile(file, []byte(mbox.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	if sum := run(t, a, pec.NewTrustStore(), file); sum.Archived != n {
		t.Fatalf("archived %d of %d", sum.Archived, n)
	}
	// A verdict every message's bytes contradict: reverify changes them all.
	var ids []string
	if err := a.Catalog.Scan(func(r *archive.Record) error { ids = append(ids, r.ID); return nil }); err != nil {
		t.Fatal(err)
	}
	err := a.Catalog.Update(func(get func(string) (*archive.Record, error), put func(*archive.Record) error) error {
		for _, id := range ids {
			r, err := get(id)
			if err != nil {
				return err
			}
			r.Signature, r.Reason, r.Flagged, r.FlagReason = pec.Valid, "", false, ""
			if err := put(r); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var sum archive.ReverifySummary
	peak := peakHeap(t, func() { sum, err = a.Reverify(context.Background(), pec.NewTrustStore(), nil, nil, nil) })
	if err != nil || sum.Checked != n || len(sum.Problems) != 0 {
		t.Fatalf("reverify: %v, checked %d, problems %v", err, sum.Checked, sum.Problems)
	}
	if len(sum.Changed) != listed || sum.ChangedOmitted != n-listed || sum.ChangedCount() != n {
		t.Fatalf("changed: %d listed, %d omitted, want %d and %d", len(sum.Changed), sum.ChangedOmitted, listed, n-listed)
	}
	changed := 0
	err = a.Catalog.Scan(func(r *archive.Record) error {
		if h := r.History; r.Signature == pec.Absent && len(h) > 0 && h[len(h)-1].By == "reverify" {
			changed++
		}
		return nil
	})
	if err != nil || changed != n {
		t.Fatalf("%d of %d records carry the new verdict and its history (%v)", changed, n, err)
	}
	// The list of 10,000 changes is about 2 MB; every record, as the
	// whole-catalog read held them, about twice that again.
	if bound := uint64(5 << 20); peak > bound {
		t.Errorf("reverify of %d messages: heap peak %d KB over %d KB", n, peak>>10, bound>>10)
	}
}
