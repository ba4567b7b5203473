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

// ersPass checks the evidence records of an audit: each sealed message's
// as the sweep reads the message back (message, called by its workers),
// then every package file's (finish). Nothing is held per message: a list
// of the sealed records took 90 MB at 100,000 messages.
type ersPass struct {
	a        *Archive
	vf       *ers.Verifier
	margin   storage.Retention
	now      time.Time
	versions map[string]int // the latest records of each catalogued package (0: none)
	files    []ersItem      // the package files' records
	sink     *problemSink
	off      bool // the setup failed (named): nothing is checked

	mu      sync.Mutex
	out     ERSAudit
	expires map[string]ers.Stamp // the earliest lapse of each package's records
}

// newERSPass finds which packages have records and what their files are;
// what stops the check is named in sink.
func (a *Archive) newERSPass(ctx context.Context, sink *problemSink) *ersPass {
	p := &ersPass{a: a, sink: sink, now: time.Now(), versions: map[string]int{}, expires: map[string]ers.Stamp{}}
	roots, err := a.verifyRoots()
	if err != nil {
		sink.add(Problem{Key: "packages/", Problem: fmt.Sprintf("evidence records cannot be checked: %v", err)})
		p.off = true
		return p
	}
	if p.margin, err = a.renewMargin(); err != nil {
		sink.add(Problem{Key: "conserva.toml", Problem: err.Error()})
		p.off = true
		return p
	}
	p.vf = &ers.Verifier{Roots: roots.TSAPool(), At: p.now}
	err = a.Catalog.Packages(func(pr PackageRecord) error {
		v, err := a.ersVersion(ctx, pr.ID)
		if err != nil {
			sink.add(Problem{Key: "packages/" + pr.ID + "/ers/", Problem: fmt.Sprintf("unreadable: %v", err)})
			return nil
		}
		p.versions[pr.ID] = v
		if v < pr.Renewed {
			sink.add(Problem{Key: ersSegmentKey(pr.ID, v+1), Problem: fmt.Sprintf("missing from the store: a renewal wrote the evidence records of package %s up to version %d, the store holds them up to version %d", pr.ID, pr.Renewed, v)})
		}
		if v == 0 {
			p.out.Without = append(p.out.Without, pr.ID)
			return nil
		}
		files := packageFiles
		// Format 2: the segment of the package's metadata has its record too.
		if ok, err := a.segmentExists(ctx, "packages/"+pr.ID+"/"+metadataSegment); err != nil || ok {
			if err != nil {
				return err
			}
			files = append(files[:len(files):len(files)], metadataSegment)
		}
		for _, f := range files {
			p.files = append(p.files, ersItem{pkg: pr.ID, name: f, key: "packages/" + pr.ID + "/" + f, v: v})
		}
		return nil
	})
	if err != nil {
		sink.add(Problem{Key: "catalog", Problem: err.Error()})
		p.off = true
	}
	return p
}

// message verifies the latest record of a sealed message read back
// intact (one problem per object: a message already named is not checked
// again).
func (p *ersPass) message(ctx context.Context, r *Record) {
	if p == nil || p.off || r.Package == "" {
		return
	}
	if v := p.versions[r.Package]; v > 0 {
		p.check(ctx, ersItem{id: r.ID, pkg: r.Package, name: r.ID, key: r.Key, version: r.VersionID, v: v})
	}
}

func (p *ersPass) check(ctx context.Context, it ersItem) {
	res, err := p.a.checkERS(ctx, p.vf, it)
	if err != nil {
		p.sink.add(Problem{ID: it.id, Key: ersKey(it.pkg, it.name, it.v), Problem: err.Error()})
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.out.Checked++
	if err == nil {
		p.out.Valid++
		if s, ok := p.expires[it.pkg]; !ok || res.Latest().NotAfter.Before(s.NotAfter) {
			p.expires[it.pkg] = res.Latest()
		}
	}
}

// finish verifies the records of every package file and names what must
// be renewed within the margin.
func (p *ersPass) finish(ctx context.Context) (*ERSAudit, []string) {
	if p.off {
		return &p.out, nil
	}
	next := make(chan ersItem)
	var wg sync.WaitGroup
	for range 2 * runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for it := range next {
				p.check(ctx, it)
			}
		}()
	}
	for _, it := range p.files {
		if ctx.Err() != nil {
			break
		}
		next <- it
	}
	close(next)
	wg.Wait()
	out := &p.out
	var notes []string
	due := p.margin.Until(p.now)
	for pkg, s := range p.expires {
		if s.NotAfter.Before(due) {
			out.Due = append(out.Due, ERSDue{Package: pkg, Version: p.versions[pkg], TSA: s.TSA, Expires: s.NotAfter.UTC()})
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
			len(out.Due), p.margin, first.Expires.Format("2006-01-02"), first.Package, first.TSA))
	}
	if len(out.Without) > 0 {
		notes = append(notes, fmt.Sprintf("%d packages have no evidence records yet (%s): the next conserva seal adds them", len(out.Without), strings.Join(out.Without, ", ")))
	}
	return out, notes
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
