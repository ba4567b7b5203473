package archive

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/conserva/conserva/ers"
	"github.com/conserva/conserva/storage"
)

// ERSConfig is the [ers] section: when evidence records are due for renewal.
type ERSConfig struct {
	// RenewMargin: records are renewed (and audit warns) this long before
	// the newest archive timestamp's TSA certificate path expires, e.g. "2y".
	RenewMargin string `toml:"renew_margin"`
}

const defaultRenewMargin = "2y"

// renewMargin is the configured margin, parsed.
func (a *Archive) renewMargin() (storage.Retention, error) {
	s := firstNonEmpty(a.Config.ERS.RenewMargin, defaultRenewMargin)
	m, err := storage.ParseRetention(s)
	if err != nil {
		return m, fmt.Errorf("[ers] renew_margin: %w", err)
	}
	return m, nil
}

// ERSAudit is what audit found of the evidence records.
type ERSAudit struct {
	Checked int `json:"checked"` // records verified against their object
	Valid   int `json:"valid"`
	// Packages without any record yet (sealed before records existed, or
	// their seal's records still pending): the next seal adds them.
	Without []string `json:"without,omitempty"`
	// Due are the packages whose proof of time lapses within the renewal
	// margin: run conserva renew.
	Due []ERSDue `json:"due,omitempty"`
}

// ERSDue names records to renew.
type ERSDue struct {
	Package string    `json:"package"`
	Version int       `json:"version"` // the latest records, ers/<name>[.<version>].ers
	TSA     string    `json:"tsa"`     // of the newest archive timestamp
	Expires time.Time `json:"expires"` // when the proof lapses unless renewed
}

// ersItem is one record to check against its object.
type ersItem struct {
	id, pkg, name, key, version string // version: of the object, on a versioned store
	v                           int
}

// auditERS verifies the latest record of every package file and of every
// message in recs against the object's stored bytes and the pinned TSA
// roots, and names what must be renewed within the margin. Messages
// already named (damaged, missing) are not checked again: one problem per
// object.
func (a *Archive) auditERS(ctx context.Context, recs []*Record, found []Problem) (*ERSAudit, []Problem, []string) {
	named := map[string]bool{}
	for _, p := range found {
		if p.ID != "" {
			named[p.ID] = true
		}
	}
	out := &ERSAudit{}
	var probs []Problem
	var notes []string
	roots, err := a.verifyRoots()
	if err != nil {
		return out, []Problem{{Key: "packages/", Problem: fmt.Sprintf("evidence records cannot be checked: %v", err)}}, nil
	}
	margin, err := a.renewMargin()
	if err != nil {
		return out, []Problem{{Key: "conserva.toml", Problem: err.Error()}}, nil
	}
	now := time.Now()
	vf := &ers.Verifier{Roots: roots.TSAPool(), At: now}
	versions := map[string]int{}
	var items []ersItem
	err = a.Catalog.Packages(func(p PackageRecord) error {
		v, err := a.ersVersion(ctx, p.ID)
		if err != nil {
			probs = append(probs, Problem{Key: "packages/" + p.ID + "/ers/", Problem: fmt.Sprintf("unreadable: %v", err)})
			return nil
		}
		versions[p.ID] = v
		if v == 0 {
			out.Without = append(out.Without, p.ID)
			return nil
		}
		files := packageFiles
		// Format 2: the segment of the package's metadata has its record too.
		if ok, err := a.segmentExists(ctx, "packages/"+p.ID+"/"+metadataSegment); err != nil || ok {
			if err != nil {
				return err
			}
			files = append(files[:len(files):len(files)], metadataSegment)
		}
		for _, f := range files {
			items = append(items, ersItem{pkg: p.ID, name: f, key: "packages/" + p.ID + "/" + f, v: v})
		}
		return nil
	})
	if err != nil {
		return out, append(probs, Problem{Key: "catalog", Problem: err.Error()}), nil
	}
	for _, r := range recs {
		if v := versions[r.Package]; v > 0 && r.Package != "" && !named[r.ID] {
			items = append(items, ersItem{id: r.ID, pkg: r.Package, name: r.ID, key: r.Key, version: r.VersionID, v: v})
		}
	}
	expires := map[string]ers.Stamp{}
	var mu sync.Mutex
	next := make(chan ersItem)
	var wg sync.WaitGroup
	for range 2 * runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for it := range next {
				res, err := a.checkERS(ctx, vf, it)
				mu.Lock()
				out.Checked++
				if err != nil {
					probs = append(probs, Problem{ID: it.id, Key: ersKey(it.pkg, it.name, it.v), Problem: err.Error()})
				} else {
					out.Valid++
					if s, ok := expires[it.pkg]; !ok || res.Latest().NotAfter.Before(s.NotAfter) {
						expires[it.pkg] = res.Latest()
					}
				}
				mu.Unlock()
			}
		}()
	}
	for _, it := range items {
		if ctx.Err() != nil {
			break
		}
		next <- it
	}
	close(next)
	wg.Wait()
	due := margin.Until(now)
	for pkg, s := range expires {
		if s.NotAfter.Before(due) {
			out.Due = append(out.Due, ERSDue{Package: pkg, Version: versions[pkg], TSA: s.TSA, Expires: s.NotAfter.UTC()})
		}
	}
	sort.Slice(out.Due, func(i, j int) bool { return out.Due[i].Package < out.Due[j].Package })
	if len(out.Due) > 0 {
		first := out.Due[0]
		for _, d := range out.Due {
			if d.Expires.Before(first.Expires) {
				first = d
			}
		}
		notes = append(notes, fmt.Sprintf("RENEW: the evidence records of %d packages lose their proof of time within the renewal margin (%s), the first on %s (package %s, TSA %q): run conserva renew",
			len(out.Due), margin, first.Expires.Format("2006-01-02"), first.Package, first.TSA))
	}
	if len(out.Without) > 0 {
		notes = append(notes, fmt.Sprintf("%d packages have no evidence records yet (%s): the next conserva seal adds them", len(out.Without), strings.Join(out.Without, ", ")))
	}
	return out, probs, notes
}

// checkERS verifies one record against its object's stored bytes, saying
// in words what is wrong.
func (a *Archive) checkERS(ctx context.Context, vf *ers.Verifier, it ersItem) (*ers.Result, error) {
	// The latest version this object has: one left out of a renewal
	// (renew.go) keeps its older record.
	rec, err := a.readERS(ctx, ersKey(it.pkg, it.name, it.v))
	for v := it.v - 1; v >= 1 && errors.Is(err, storage.ErrNotFound); v-- {
		rec, err = a.readERS(ctx, ersKey(it.pkg, it.name, v))
	}
	if errors.Is(err, storage.ErrNotFound) {
		return nil, errors.New("evidence record missing from the store")
	}
	if err != nil {
		return nil, fmt.Errorf("evidence record unreadable: %v", err)
	}
	rc, err := storage.GetVersion(ctx, a.Store, it.key, it.version)
	if err != nil {
		return nil, fmt.Errorf("evidence record not checked: %s: %v", it.key, err)
	}
	defer rc.Close()
	res, err := vf.VerifyReader(ctx, rec, io.Reader(rc))
	switch {
	case err == nil:
		return res, nil
	case errors.Is(err, ers.ErrNotCovered):
		return nil, fmt.Errorf("the evidence record does not prove %s: the object changed since it was timestamped, or the record is another object's (%v)", it.key, err)
	case errors.Is(err, ers.ErrUntrusted):
		return nil, fmt.Errorf("evidence record untrusted: an archive timestamp is not from a TSA under the pinned roots (%v)", err)
	default:
		return nil, fmt.Errorf("evidence record invalid: %v", err)
	}
}
