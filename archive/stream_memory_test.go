package archive_test

import (
	"context"
	"testing"
	"time"

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
	ingestMany(t, a, n)
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
	// The list of 10,000 changes is about 2 MB; every record and every
	// changed one, as they were held, about 20 MB.
	if bound := uint64(10 << 20); peak > bound {
		t.Errorf("reverify of %d messages: heap peak %d KB over %d KB", n, peak>>10, bound>>10)
	}
}

// A disposal proposal reads the whole catalog to find dossiers whose every
// message may go; it holds only what it will propose, not every record.
func TestProposeScartoHoldsNoCatalog(t *testing.T) {
	if testing.Short() {
		t.Skip("ingests 10,000 messages")
	}
	_, a := setup(t)
	const n = 10000
	ingestMany(t, a, n)
	var p *archive.Proposal
	var err error
	peak := peakHeap(t, func() { p, err = a.ProposeScarto(context.Background(), time.Now().AddDate(20, 0, 0)) })
	if err != nil || p != nil {
		t.Fatalf("nothing sealed, nothing to propose: %+v %v", p, err)
	}
	// Every record, as the grouping by dossier held them: about 19 MB.
	if bound := uint64(8 << 20); peak > bound {
		t.Errorf("proposal over %d messages: heap peak %d KB over %d KB", n, peak>>10, bound>>10)
	}
}
