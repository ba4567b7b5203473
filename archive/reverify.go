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
	At       time.Time    `json:"at"`
	Checked  int          `json:"checked"`
	Changed  []Reverified `json:"changed"`
	Flagged  int          `json:"flagged"` // flagged after the run, among those checked
	Trust    []TrustFile  `json:"trust"`
	Problems []Problem    `json:"problems"`
}

// Reverified is a message whose verdict changed.
type Reverified struct {
	ID     string      `json:"id"`
	From   pec.Verdict `json:"from"`
	To     pec.Verdict `json:"to"`
	Reason string      `json:"reason"`
}

// Reverify judges the provider signatures of catalogued messages again
// (all, or those in ids) against trust, e.g. after a provider CA was
// added. A changed verdict is recorded beside the earlier ones, with its
// time and the trust files used; the earlier ones stay.
func (a *Archive) Reverify(ctx context.Context, trust *pec.TrustStore, files []TrustFile, ids []string, progress func(int)) (ReverifySummary, error) {
	sum := ReverifySummary{At: time.Now().UTC(), Trust: files, Changed: []Reverified{}, Problems: []Problem{}}
	var recs []*Record
	if len(ids) > 0 {
		var err error
		if recs, err = a.Catalog.records(ids); err != nil {
			return sum, err
		}
	} else if err := a.Catalog.Scan(func(r *Record) error { recs = append(recs, r); return nil }); err != nil {
		return sum, err
	}
	hashes := TrustHashes(files)
	lim := a.Limits()
	type result struct {
		r   *Record
		v   pec.Verification
		err error
	}
	next := make(chan *Record)
	results := make(chan result)
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
	go func() {
		defer close(next)
		for _, r := range recs {
			if ctx.Err() != nil {
				return
			}
			next <- r
		}
	}()
	go func() { wg.Wait(); close(results) }()
	var changed []*Record
	for res := range results {
		sum.Checked++
		if progress != nil {
			progress(sum.Checked)
		}
		r := res.r
		if res.err != nil {
			sum.Problems = append(sum.Problems, Problem{ID: r.ID, Key: r.Key, Problem: res.err.Error()})
			continue
		}
		if res.v.Verdict != r.Signature || res.v.Reason != r.Reason {
			sum.Changed = append(sum.Changed, Reverified{ID: r.ID, From: r.Signature, To: res.v.Verdict, Reason: res.v.Reason})
			r.History = append(r.History, VerdictEvent{At: sum.At, By: "reverify", Verdict: res.v.Verdict, Reason: res.v.Reason, Signer: res.v.Signer, Trust: hashes})
			r.setVerdict(res.v.Verdict, res.v.Reason)
			r.Signer, r.SignedAt, r.TimeSource = res.v.Signer, res.v.SignedAt, res.v.TimeSource
			changed = append(changed, r)
		}
		if r.Flagged {
			sum.Flagged++
		}
	}
	if err := ctx.Err(); err != nil {
		return sum, err
	}
	for len(changed) > 0 {
		n := min(len(changed), 512)
		batch := changed[:n]
		changed = changed[n:]
		err := a.Catalog.Update(func(_ func(string) (*Record, error), put func(*Record) error) error {
			for _, r := range batch {
				if err := put(r); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return sum, err
		}
	}
	return sum, nil
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
