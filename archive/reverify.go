package archive

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/conserva/conserva/pec"
	"github.com/conserva/conserva/storage"
)

// ReverifySummary is the outcome of a re-verification run.
type ReverifySummary struct {
	At      time.Time    `json:"at"`
	Checked int          `json:"checked"`
	Changed []Reverified `json:"changed"`
	// ChangedOmitted counts changed verdicts beyond the first
	// maxMessageProblems, which Changed lists (each is still recorded in
	// its message's history).
	ChangedOmitted int         `json:"changed_omitted,omitempty"`
	Flagged        int         `json:"flagged"` // flagged after the run, among those checked
	Trust          []TrustFile `json:"trust"`
	Problems       []Problem   `json:"problems"`
	// ProblemsOmitted counts messages that could not be read back beyond
	// the first maxMessageProblems.
	ProblemsOmitted int `json:"problems_omitted,omitempty"`
}

// ChangedCount is the number of verdicts the run changed, listed or not.
func (s ReverifySummary) ChangedCount() int { return len(s.Changed) + s.ChangedOmitted }

// Reverified is a message whose verdict changed.
type Reverified struct {
	ID     string      `json:"id"`
	From   pec.Verdict `json:"from"`
	To     pec.Verdict `json:"to"`
	Reason string      `json:"reason"`
}

// reverifyBatch is how many changed records are written in one catalog
// transaction.
const reverifyBatch = 512

// Reverify judges the provider signatures of catalogued messages again
// (all, or those in ids) against trust, e.g. after a provider CA was
// added. A changed verdict is recorded beside the earlier ones, with its
// time and the trust files used; the earlier ones stay.
//
// The records stream from the catalog in id order and changed ones are
// written a batch at a time: memory does not grow with the archive.
func (a *Archive) Reverify(ctx context.Context, trust *pec.TrustStore, files []TrustFile, ids []string, progress func(int)) (ReverifySummary, error) {
	sum := ReverifySummary{At: time.Now().UTC(), Trust: files, Changed: []Reverified{}, Problems: []Problem{}}
	source := a.Catalog.ByID()
	if len(ids) > 0 {
		recs, err := a.Catalog.records(ids)
		if err != nil {
			return sum, err
		}
		source = func(yield func(*Record, error) bool) {
			for _, r := range recs {
				if !yield(r, nil) {
					return
				}
			}
		}
	}
	hashes := TrustHashes(files)
	lim := a.Limits()
	type result struct {
		r   *Record
		v   pec.Verification
		err error
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	next := make(chan *Record, 64)
	results := make(chan result, 64)
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range next {
				if r.Size > lim.MaxSize {
					// Never parsed: its verdict stays "not verified".
					results <- result{r: r, v: pec.Verification{Verdict: r.Signature, Reason: r.Reason, Signer: r.Signer, SignedAt: r.SignedAt, TimeSource: r.TimeSource}}
					continue
				}
				v, err := a.reverifyStored(ctx, r, lim, trust)
				results <- result{r: r, v: v, err: err}
			}
		}()
	}
	var sourceErr error
	go func() {
		defer close(next)
		for r, err := range source {
			if err != nil {
				sourceErr = err
				return
			}
			select {
			case next <- r:
			case <-ctx.Done():
				return
			}
		}
	}()
	go func() { wg.Wait(); close(results) }()
	// apply records a new verdict on a record, beside the earlier ones.
	apply := func(r *Record, v pec.Verification) {
		r.History = append(r.History, VerdictEvent{At: sum.At, By: "reverify", Verdict: v.Verdict, Reason: v.Reason, Signer: v.Signer, Trust: hashes})
		r.SetVerdict(v.Verdict, v.Reason)
		r.Signer, r.SignedAt, r.TimeSource = v.Signer, v.SignedAt, v.TimeSource
	}
	var changed []result
	var writeErr error
	write := func() {
		if len(changed) == 0 || writeErr != nil {
			return
		}
		// Applied to the record as it is now: an ingest or a hold may
		// have changed it since it was read.
		writeErr = a.Catalog.Update(func(get func(string) (*Record, error), put func(*Record) error) error {
			for _, c := range changed {
				cur, err := get(c.r.ID)
				if err != nil {
					return err
				}
				if cur == nil {
					continue
				}
				apply(cur, c.v)
				if err := put(cur); err != nil {
					return err
				}
			}
			return nil
		})
		if writeErr != nil {
			cancel() // the workers and the reader stop; results drain below
		}
		changed = changed[:0]
	}
	for res := range results {
		if writeErr != nil {
			continue
		}
		sum.Checked++
		if progress != nil {
			progress(sum.Checked)
		}
		r := res.r
		if res.err != nil {
			if len(sum.Problems) < maxMessageProblems {
				sum.Problems = append(sum.Problems, Problem{ID: r.ID, Key: r.Key, Problem: res.err.Error()})
			} else {
				sum.ProblemsOmitted++
			}
			continue
		}
		if res.v.Verdict != r.Signature || res.v.Reason != r.Reason {
			if len(sum.Changed) < maxMessageProblems {
				sum.Changed = append(sum.Changed, Reverified{ID: r.ID, From: r.Signature, To: res.v.Verdict, Reason: res.v.Reason})
			} else {
				sum.ChangedOmitted++
			}
			apply(r, res.v)
			changed = append(changed, res)
			if len(changed) == reverifyBatch {
				write()
			}
		}
		if r.Flagged {
			sum.Flagged++
		}
	}
	if writeErr != nil {
		return sum, writeErr
	}
	if sourceErr != nil {
		return sum, sourceErr
	}
	if err := ctx.Err(); err != nil {
		return sum, err
	}
	write()
	return sum, writeErr
}

// reverifyStored judges a stored message's signature again, reading it in
// bounded memory.
func (a *Archive) reverifyStored(ctx context.Context, r *Record, lim pec.Limits, trust *pec.TrustStore) (pec.Verification, error) {
	rc, err := storage.GetVersion(ctx, a.Store, r.Key, r.VersionID)
	if err != nil {
		return pec.Verification{}, err
	}
	m, held, err := a.parseStored(rc, r.Size, lim)
	rc.Close()
	if err != nil {
		return pec.Verification{}, err
	}
	defer held.Close()
	if m.SHA256 != r.ID {
		return pec.Verification{}, fmt.Errorf("damaged: content hashes to %s", m.SHA256)
	}
	return m.Verify(trust), nil
}
