package archive

// The web interface's access log (package accesslog) sealed with the
// packages: each seal cuts the records not yet sealed into a segment,
// packages/<id>/accesslog/<first>-<last>-<sha256>.jsonl, listed in the
// signed index (so covered by the signature, the timestamp and the
// package's evidence records). The catalog remembers how far the log is
// sealed; the store alone says it too (the segments' names), so a rebuilt
// catalog loses nothing.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/conserva/conserva/accesslog"
	"github.com/conserva/conserva/sip"
	"github.com/conserva/conserva/storage"
)

// accessLogMarkKey (bucket meta) holds the accesslog.Mark sealed so far.
const accessLogMarkKey = "accesslog-sealed"

// AccessLogPath is the live access log of the archive.
func (a *Archive) AccessLogPath() string { return filepath.Join(a.Dir, accesslog.FileName) }

// AccessLogMark is how far the access log is sealed: as the catalog
// remembers it, else as the sealed segments say.
func (a *Archive) AccessLogMark(ctx context.Context) (accesslog.Mark, error) {
	var m accesslog.Mark
	found, err := a.Catalog.getJSON(bucketMeta, accessLogMarkKey, &m)
	if err != nil || found {
		return m, err
	}
	sealed, err := a.sealedAccessLog(ctx)
	if err != nil || len(sealed) == 0 {
		return m, err
	}
	_, m, err = accesslog.CheckSealed(a.AccessLogPath(), sealed)
	return m, err
}

// cutAccessLog puts the records not yet sealed into the journal of the
// next package. A log whose sealed part changed is not sealed further
// (audit names it); the messages are sealed all the same.
func (a *Archive) cutAccessLog(ctx context.Context, j *journal) {
	if st, err := os.Stat(a.AccessLogPath()); err != nil || st.Size() == 0 {
		return // no web interface: the store is not even listed for segments
	}
	m, err := a.AccessLogMark(ctx)
	if err == nil {
		var seg accesslog.Segment
		if seg, _, err = accesslog.Cut(a.AccessLogPath(), m); err == nil && seg.Last > 0 {
			j.AccessLog = &seg
		}
	}
	if err != nil {
		a.Log.Warn("the access log is not sealed by this run", "err", err)
	}
}

// sealAccessLog stores the journal's segment in the package (or finds it
// stored by an interrupted run) and returns it as the index lists it.
func (a *Archive) sealAccessLog(ctx context.Context, prefix string, j *journal) ([]sip.File, error) {
	seg := j.AccessLog
	if seg == nil {
		return nil, nil
	}
	key := prefix + "accesslog/" + seg.Name()
	data, err := a.reuseOr(ctx, key, func() ([]byte, error) { return accesslog.ReadSegment(a.AccessLogPath(), *seg) })
	if err != nil {
		if _, serr := a.Store.Stat(ctx, prefix+"index.xml"); !errors.Is(serr, storage.ErrNotFound) {
			return nil, err
		}
		// Not listed anywhere yet: the package goes without it, and the
		// next seal tries again from the mark.
		a.Log.Warn("the access log is not sealed by this run", "err", err)
		j.AccessLog = nil
		return nil, a.Catalog.putJSON(bucketMeta, journalKey, j)
	}
	return []sip.File{{ID: fmt.Sprintf("accesslog-%d-%d", seg.First, seg.Last), Path: key, SHA256: seg.SHA256,
		Format: "application/jsonl", Extension: "jsonl", Size: int64(len(data))}}, nil
}

// markAccessLogSealed records the journal's segment as sealed, once its
// package is complete (before the package is marked sealed: a seal killed
// in between resumes the same journal, and marking again changes nothing).
func (a *Archive) markAccessLogSealed(j *journal) error {
	if j.AccessLog == nil {
		return nil
	}
	return a.Catalog.putJSON(bucketMeta, accessLogMarkKey, j.AccessLog.End())
}

// sealedAccessLog reads every segment the catalogued packages hold.
func (a *Archive) sealedAccessLog(ctx context.Context) ([]accesslog.Sealed, error) {
	var ids []string
	if err := a.Catalog.Packages(func(p PackageRecord) error { ids = append(ids, p.ID); return nil }); err != nil {
		return nil, err
	}
	var out []accesslog.Sealed
	for _, id := range ids {
		err := a.Store.List(ctx, "packages/"+id+"/accesslog/", func(i storage.Info) error {
			out = append(out, accesslog.Sealed{Key: i.Key, Name: path.Base(i.Key)})
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("listing the store: %w", err)
		}
	}
	for i := range out {
		data, err := a.readBounded(ctx, out[i].Key, accesslog.MaxSegment)
		if err != nil {
			return nil, err
		}
		out[i].Data = data
	}
	return out, nil
}

func (a *Archive) readBounded(ctx context.Context, key string, max int64) ([]byte, error) {
	rc, err := a.readEvidence(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, max+1))
	if err == nil && int64(len(data)) > max {
		err = fmt.Errorf("%s: larger than %d bytes", key, max)
	}
	return data, err
}

// AccessLogCheck is what CheckAccessLog found.
type AccessLogCheck struct {
	Chain    accesslog.Report    `json:"chain"`
	Segments int                 `json:"segments"`
	Sealed   accesslog.Mark      `json:"sealed"`   // as the sealed segments say
	Unsealed int64               `json:"unsealed"` // records after them
	Problems []accesslog.Problem `json:"problems"` // chain and sealed segments
}

// OK says whether the log is whole and equal to what was sealed.
func (c AccessLogCheck) OK() bool { return len(c.Problems) == 0 }

// CheckAccessLog checks the access log's hash chain and compares every
// sealed segment with the live log, naming each record that differs, is
// missing or was cut off. With packages set it also checks that each
// segment is listed, with its hash, in the signed index of its package
// and that the package's signature and timestamp verify against the
// pinned roots (audit checks every package so already).
func (a *Archive) CheckAccessLog(ctx context.Context, packages bool) (AccessLogCheck, error) {
	var c AccessLogCheck
	var err error
	logPath := a.AccessLogPath()
	if c.Chain, err = accesslog.Verify(logPath); err != nil {
		return c, err
	}
	c.Problems = append([]accesslog.Problem{}, c.Chain.Problems...)
	sealed, err := a.sealedAccessLog(ctx)
	if err != nil {
		return c, err
	}
	c.Segments = len(sealed)
	if packages {
		c.Problems = append(c.Problems, a.checkSegmentPackages(ctx, sealed)...)
	}
	probs, mark, err := accesslog.CheckSealed(logPath, sealed)
	if err != nil {
		return c, err
	}
	c.Problems, c.Sealed = append(c.Problems, probs...), mark
	var remembered accesslog.Mark
	if found, err := a.Catalog.getJSON(bucketMeta, accessLogMarkKey, &remembered); err != nil {
		return c, err
	} else if found && remembered.Line > mark.Line {
		// The last segment (or more) is gone from the store.
		c.Problems = append(c.Problems, accesslog.Problem{Line: int(mark.Line + 1), Problem: fmt.Sprintf("the catalog says records up to %d are sealed, the packages hold records up to %d only (a segment is missing)", remembered.Line, mark.Line)})
	}
	if c.Unsealed, err = accesslog.Unsealed(logPath, mark); err != nil {
		return c, err
	}
	sort.SliceStable(c.Problems, func(i, j int) bool { return c.Problems[i].Line < c.Problems[j].Line })
	return c, nil
}

// checkSegmentPackages checks each segment against the signed index of
// its package, and that package's signature and timestamp.
func (a *Archive) checkSegmentPackages(ctx context.Context, sealed []accesslog.Sealed) []accesslog.Problem {
	var probs []accesslog.Problem
	byPkg := map[string][]accesslog.Sealed{}
	var ids []string
	for _, s := range sealed {
		id := path.Base(path.Dir(path.Dir(s.Key)))
		if byPkg[id] == nil {
			ids = append(ids, id)
		}
		byPkg[id] = append(byPkg[id], s)
	}
	for _, id := range ids {
		first := int64(0)
		if seg, err := accesslog.ParseSegmentName(byPkg[id][0].Name); err == nil {
			first = seg.First
		}
		bad := func(format string, args ...any) {
			probs = append(probs, accesslog.Problem{Line: int(first), Problem: fmt.Sprintf(format, args...)})
		}
		index, err := a.readAll(ctx, "packages/"+id+"/index.xml")
		if err != nil {
			bad("packages/%s/index.xml: %v", id, err)
			continue
		}
		// Only the log's segments, read token by token (an index lists
		// every message and metadata file too).
		listed := map[string]string{}
		err = eachIndexFile(index, func(f indexFile) error {
			if strings.Contains(f.Path, "/accesslog/") {
				listed[f.Path] = f.SHA256
			}
			return nil
		})
		if err != nil {
			bad("packages/%s/index.xml: %v", id, err)
			continue
		}
		for _, s := range byPkg[id] {
			seg, err := accesslog.ParseSegmentName(s.Name)
			switch {
			case err != nil:
				bad("%s: %v", s.Key, err)
			case listed[s.Key] == "":
				bad("%s is not listed in the signed index of package %s", s.Key, id)
			case listed[s.Key] != seg.SHA256 || hexSum(s.Data) != seg.SHA256:
				bad("%s does not match the hash in the signed index of package %s (altered)", s.Key, id)
			}
		}
		// Signature and timestamp only: an empty (not nil) metaOf leaves
		// out the package's other files.
		_, ps, _ := a.auditPackage(ctx, id, map[string][]byte{"index.xml": index}, map[string]bool{})
		for _, p := range ps {
			bad("%s (package %s holding sealed access log records): %s", p.Key, id, p.Problem)
		}
	}
	return probs
}

// auditAccessLog is audit's part: the chain and the sealed segments
// against the live log (each package is checked by audit already).
func (a *Archive) auditAccessLog(ctx context.Context) (*AccessLogCheck, []Problem) {
	c, err := a.CheckAccessLog(ctx, false)
	if err != nil {
		return nil, []Problem{{Key: accesslog.FileName, Problem: err.Error()}}
	}
	var probs []Problem
	for _, p := range c.Problems {
		probs = append(probs, Problem{Key: fmt.Sprintf("%s:%d", accesslog.FileName, p.Line), Problem: p.Problem})
	}
	return &c, probs
}

// AccessLogSealed is how far the catalog says the access log is sealed
// (the zero Mark when it says nothing): cheap, for pages.
func (a *Archive) AccessLogSealed() (accesslog.Mark, error) {
	var m accesslog.Mark
	_, err := a.Catalog.getJSON(bucketMeta, accessLogMarkKey, &m)
	return m, err
}
