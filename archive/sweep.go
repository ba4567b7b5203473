package archive

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"iter"
	"math/rand/v2"
	"os"
	"path"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/conserva/conserva/internal/extsort"
	"github.com/conserva/conserva/pec"
	"github.com/conserva/conserva/storage"
)

// Audit and catalog check compare the store's listing, the catalog and the
// package indexes in one pass in id order: the listing comes in key order
// (messages/<aa>/<id>.eml is id order), the catalog from its id index, and
// which package lists which message from an external sort of the indexes.
// Nothing held grows with the number of messages, except the problems
// about messages, kept up to maxMessageProblems and counted beyond.

// maxMessageProblems bounds the problems about single messages a run keeps
// (a badly damaged archive can have one per message); the rest are counted.
const maxMessageProblems = 10000

// membersInMemory bounds the (message, package) pairs sorted in memory
// before a run is spilled to a temporary file: 36 bytes each.
const membersInMemory = 1 << 16

// problemSink gathers the problems of a run: every one not about a single
// message, and at most max about messages; duplicates are kept once.
type problemSink struct {
	mu       sync.Mutex
	max      int
	kept     []Problem
	seen     map[Problem]bool
	messages int // kept about messages
	omitted  int
	last     Problem // the last omitted
}

func newProblemSink(max int) *problemSink {
	return &problemSink{max: max, seen: map[Problem]bool{}}
}

func (s *problemSink) add(p Problem) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.seen[p] {
		return
	}
	if p.ID != "" || strings.HasPrefix(p.Key, "messages/") {
		if s.messages >= s.max {
			// Not remembered (that would hold one per message): only a
			// repeat of the last one is known as such.
			if p != s.last {
				s.omitted++
				s.last = p
			}
			return
		}
		s.messages++
	}
	s.seen[p] = true
	s.kept = append(s.kept, p)
}

func (s *problemSink) bad(id, key, format string, args ...any) {
	s.add(Problem{ID: id, Key: key, Problem: fmt.Sprintf(format, args...)})
}

// note says how many problems were counted but not kept.
func (s *problemSink) note() string {
	if s.omitted == 0 {
		return ""
	}
	return fmt.Sprintf("%d more problems about messages were found and not listed: only the first %d are (the archive is badly damaged; the counts above include every one)", s.omitted, s.max)
}

// sorted returns the problems kept, by key, and how many were not.
func (s *problemSink) sorted() ([]Problem, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := append([]Problem{}, s.kept...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, s.omitted
}

// packageFolder is what the store holds of a package folder.
type packageFolder struct{ index, p7s, tsr bool }

// noteFolder records, from a store key packages/<id>/<name>, which of the
// three files that make a package complete its folder holds.
func noteFolder(folders map[string]*packageFolder, key string) {
	parts := strings.SplitN(key, "/", 3)
	if len(parts) != 3 {
		return
	}
	f := folders[parts[1]]
	if f == nil {
		f = &packageFolder{}
		folders[parts[1]] = f
	}
	switch parts[2] {
	case "index.xml":
		f.index = true
	case "index.xml.p7s":
		f.p7s = true
	case "index.xml.p7s.tsr":
		f.tsr = true
	}
}

// packageSet is what the package pass found: which packages the store
// and the catalog hold, and which message each signed index lists.
type packageSet struct {
	folders    map[string]*packageFolder
	catalogued map[string]bool
	names      []string        // the packages whose index was read; members refer to them by position
	members    *extsort.Sorter // raw id (32 bytes) + position in names (4 bytes, big-endian)
}

// packagePass lists the package folders, reads every relevant package's
// index (with audit, checks each catalogued package as auditPackage does,
// counting them in audited) and sorts who lists what.
func (a *Archive) packagePass(ctx context.Context, audit bool, sink *problemSink, audited *int, notes *[]string) (*packageSet, error) {
	tmp := a.SpoolDir() // the archive's own disk
	if os.MkdirAll(tmp, 0o700) != nil {
		tmp = ""
	}
	ps := &packageSet{folders: map[string]*packageFolder{}, catalogued: map[string]bool{},
		members: extsort.New(tmp, 36, membersInMemory)}
	err := a.Store.List(ctx, "packages/", func(i storage.Info) error {
		if strings.Count(i.Key, "/") < 2 {
			sink.bad("", i.Key, "an object the archive never writes")
			return nil
		}
		noteFolder(ps.folders, i.Key)
		return nil
	})
	if err != nil {
		ps.members.Close()
		return nil, fmt.Errorf("listing the store: %w", err)
	}
	var cat []PackageRecord
	if err := a.Catalog.Packages(func(p PackageRecord) error { cat = append(cat, p); ps.catalogued[p.ID] = true; return nil }); err != nil {
		ps.members.Close()
		return nil, err
	}
	var j journal
	hasJournal, err := a.Catalog.getJSON(bucketMeta, journalKey, &j)
	if err != nil {
		ps.members.Close()
		return nil, err
	}
	var addErr error
	lister := func(id string) func(string) {
		pos := uint32(len(ps.names))
		ps.names = append(ps.names, id)
		rec := make([]byte, 36)
		return func(m string) {
			raw, ok := rawID(m)
			if !ok || !validID(m) {
				sink.bad("", id, "a signed index lists %.80q, which is not a SHA-256", m)
				return
			}
			copy(rec, raw)
			binary.BigEndian.PutUint32(rec[32:], pos)
			if err := ps.members.Add(rec); err != nil && addErr == nil {
				addErr = err
			}
		}
	}
	if audit {
		// Every catalogued package checked: signature, timestamp, metadata.
		for _, p := range cat {
			*audited++
			var member func(string)
			if ps.folders[p.ID] != nil {
				member = lister(p.ID)
			} else {
				member = func(string) {}
			}
			probs, check := a.auditPackageEach(ctx, p.ID, nil, nil, member)
			// Its metadata were read: their segment's index (some 15 MB
			// at 100,000 messages) is not kept through the pass.
			a.segs.forget("packages/" + p.ID + "/" + metadataSegment)
			for _, pr := range probs {
				sink.add(pr)
			}
			for _, pr := range auditPackageRecord(p, check) {
				sink.add(pr)
			}
		}
	}
	ids := make([]string, 0, len(ps.folders))
	for id := range ps.folders {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		have := ps.folders[id]
		prefix := "packages/" + id + "/"
		catalogued := ps.catalogued[id]
		sealing := hasJournal && j.ID == id && !catalogued
		complete := have.index && have.p7s && have.tsr
		switch {
		case sealing:
			continue // the seal in progress: its members are pending
		case !catalogued && !complete && a.abandoned(id):
			// Begun with another signer or TSA, its messages sealed under a
			// new id (seal.go settle): kept, as everything stored is.
			*notes = append(*notes, fmt.Sprintf("%s: an incomplete package abandoned when the seal was resumed with another signer or TSA", prefix))
		case !catalogued && complete:
			sink.bad("", prefix, "a sealed package the catalog does not know: run conserva catalog rebuild")
		case !catalogued:
			sink.bad("", prefix, "an incomplete package (no timestamp) and no seal in progress")
			continue
		}
		if catalogued && audit {
			continue // its index was read above
		}
		a.indexMembersEach(ctx, prefix, lister(id))
	}
	for id := range ps.catalogued {
		if ps.folders[id] == nil {
			sink.bad("", "packages/"+id+"/", "a package the catalog records, missing from the store")
		}
	}
	if addErr != nil {
		ps.members.Close()
		return nil, addErr
	}
	return ps, nil
}

// listed yields, in id order, each message id the indexes list and the
// packages listing it (sorted, once each).
func (ps *packageSet) listed(errp *error) iter.Seq2[string, []string] {
	return func(yield func(string, []string) bool) {
		var cur []byte
		var pkgs []string
		flush := func() bool {
			sort.Strings(pkgs)
			return yield(hex.EncodeToString(cur), slices.Compact(pkgs))
		}
		err := ps.members.Each(func(rec []byte) error {
			if cur != nil && !bytes.Equal(cur, rec[:32]) {
				if !flush() {
					return errStopIter
				}
				pkgs = nil
			}
			cur = append(cur[:0], rec[:32]...)
			pkgs = append(pkgs, ps.names[binary.BigEndian.Uint32(rec[32:])])
			return nil
		})
		switch {
		case err == nil && cur != nil:
			flush()
		case err != nil && err != errStopIter:
			*errp = err
		}
	}
}

// storedMessages yields the message objects of the store in id order;
// an object under a key the archive never writes is named and skipped.
func (a *Archive) storedMessages(ctx context.Context, sink *problemSink, errp *error) iter.Seq2[string, storage.Info] {
	return func(yield func(string, storage.Info) bool) {
		prev := ""
		err := a.Store.List(ctx, "messages/", func(i storage.Info) error {
			id := strings.TrimSuffix(path.Base(i.Key), ".eml")
			if !validID(id) || storage.MessageKey(id) != i.Key {
				sink.bad("", i.Key, "an object the archive never writes (not messages/<aa>/<sha256>.eml)")
				return nil
			}
			if id <= prev {
				// The merge below relies on it: never compare out of order.
				return fmt.Errorf("the store listed %s out of key order", i.Key)
			}
			prev = id
			if !yield(id, i) {
				return errStopIter
			}
			return nil
		})
		if err != nil && err != errStopIter {
			*errp = fmt.Errorf("listing the store: %w", err)
		}
	}
}

// sweepEntry is one message id as the store, the catalog and the package
// indexes see it, with the problems the comparison found.
type sweepEntry struct {
	id     string
	stored *storage.Info
	rec    *Record
	listed []string // the packages whose signed index lists it
	probs  []Problem
}

func (e *sweepEntry) bad(id, key, format string, args ...any) {
	p := Problem{ID: id, Key: key, Problem: fmt.Sprintf(format, args...)}
	if !slices.Contains(e.probs, p) {
		e.probs = append(e.probs, p)
	}
}

// compare names what the store, the catalog and the indexes disagree on
// about one id (what reconcile always checked, record by record).
func (e *sweepEntry) compare(ps *packageSet) {
	id, key, r := e.id, storage.MessageKey(e.id), e.rec
	if e.stored != nil {
		switch {
		case r == nil:
			e.bad(id, key, "stored but not catalogued")
		case r.VersionID != "" && e.stored.VersionID != "" && r.VersionID != e.stored.VersionID:
			e.bad(id, key, "catalogued as version %s, but the store's evidence (first) version is %s", r.VersionID, e.stored.VersionID)
		}
	}
	if r != nil {
		if r.Damage != "" {
			e.bad(r.ID, r.Key, "marked in the catalog: %s", r.Damage)
		} else if e.stored == nil && r.Disposed == "" { // disposed of: scarto.go
			e.bad(r.ID, r.Key, "missing from the store")
		}
		if r.PackageProblem != "" {
			e.bad(r.ID, r.Key, "%s", r.PackageProblem)
		}
	}
	if pkgs := e.listed; len(pkgs) > 0 {
		if len(pkgs) > 1 {
			e.bad(id, key, "listed in %d packages: %s", len(pkgs), strings.Join(pkgs, ", "))
		}
		switch {
		case r == nil:
			if e.stored == nil {
				e.bad(id, key, "listed in package %s but missing from the store", pkgs[0])
			}
		case r.Package == "":
			e.bad(id, key, "listed in the signed index of package %s, but the catalog has it in no package (the next seal would put it in a second one)", pkgs[0])
		case !slices.Contains(pkgs, r.Package):
			e.bad(id, key, "catalogued in package %s, but listed in the signed index of %s", r.Package, strings.Join(pkgs, ", "))
		}
	}
	if r != nil && r.Package != "" && ps.folders[r.Package] != nil && !slices.Contains(e.listed, r.Package) && r.PackageProblem == "" {
		e.bad(r.ID, r.Key, "not listed in the signed index of its package %s", r.Package)
	}
}

// sweepOptions say what the pass does with each record it reads back.
type sweepOptions struct {
	audit    bool // read back and hash (audit), besides re-verifying
	sample   int  // read back and re-verify N records chosen at random, not all
	trust    *pec.TrustStore
	progress func(int)
	ers      *ersPass // with audit: each sealed record read back intact has its evidence record checked
}

type sweepResult struct {
	stored, catalogued, reverified, objects, ok, unsealed int
	bytes                                                 int64
}

// sweep merges the store's listing, the catalog and the package indexes in
// id order, names every disagreement, and reads back (audit) and
// re-verifies every record or a sample of them.
func (a *Archive) sweep(ctx context.Context, ps *packageSet, opts sweepOptions, sink *problemSink) (sweepResult, error) {
	var res sweepResult
	var mu sync.Mutex
	lim := a.Limits()
	done := 0
	check := func(e *sweepEntry) {
		r := e.rec
		var n int64
		var readBack *Problem
		if opts.audit {
			n, readBack = a.auditMessage(ctx, r, ps.catalogued[r.Package] && slices.Contains(e.listed, r.Package))
			if readBack != nil {
				e.bad(readBack.ID, readBack.Key, "%s", readBack.Problem)
			}
		}
		reverified := r.Damage == ""
		if reverified {
			for _, d := range a.reverifyOne(ctx, r, opts.trust, lim) {
				e.bad(r.ID, r.Key, "%s", d)
			}
		}
		if opts.audit && len(e.probs) == 0 {
			opts.ers.message(ctx, r)
		}
		mu.Lock()
		defer mu.Unlock()
		for _, p := range e.probs {
			sink.add(p)
		}
		if reverified {
			res.reverified++
		}
		if opts.audit {
			res.objects++
			res.bytes += n
			if readBack == nil {
				res.ok++
			}
			if r.Package == "" {
				res.unsealed++
			}
		}
		if opts.audit || reverified {
			done++
			if opts.progress != nil {
				opts.progress(done)
			}
		}
	}
	jobs := make(chan *sweepEntry)
	var wg sync.WaitGroup
	workers := runtime.GOMAXPROCS(0)
	if opts.audit {
		workers *= 2 // reads wait on the disk or the network
	}
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for e := range jobs {
				check(e)
			}
		}()
	}
	emit := func(e *sweepEntry) {
		for _, p := range e.probs {
			sink.add(p)
		}
	}
	var storeErr, listErr error
	nextS, stopS := iter.Pull2(a.storedMessages(ctx, sink, &storeErr))
	defer stopS()
	nextC, stopC := iter.Pull2(a.Catalog.ByID())
	defer stopC()
	nextL, stopL := iter.Pull2(ps.listed(&listErr))
	defer stopL()
	sid, sinfo, sok := nextS()
	crec, cerr, cok := nextC()
	lid, lpkgs, lok := nextL()
	var reservoir []*sweepEntry
	seen := 0
	var err error
	for (sok || cok || lok) && ctx.Err() == nil {
		if cok && cerr != nil {
			err = cerr
			break
		}
		id := ""
		for _, h := range []struct {
			ok bool
			id string
		}{{sok, sid}, {cok && crec != nil, idOf(crec)}, {lok, lid}} {
			if h.ok && (id == "" || h.id < id) {
				id = h.id
			}
		}
		e := &sweepEntry{id: id}
		if sok && sid == id {
			info := sinfo
			e.stored = &info
			res.stored++
			sid, sinfo, sok = nextS()
		}
		if cok && crec != nil && crec.ID == id {
			e.rec = crec
			res.catalogued++
			crec, cerr, cok = nextC()
		}
		if lok && lid == id {
			e.listed = lpkgs
			lid, lpkgs, lok = nextL()
		}
		e.compare(ps)
		switch {
		case e.rec == nil:
			emit(e)
		case opts.sample <= 0:
			jobs <- e
		default:
			// Reservoir sampling: every record equally likely, N held.
			seen++
			if len(reservoir) < opts.sample {
				reservoir = append(reservoir, e)
			} else if k := rand.IntN(seen); k < opts.sample {
				emit(reservoir[k])
				reservoir[k] = e
			} else {
				emit(e)
			}
		}
	}
	for _, e := range reservoir {
		if ctx.Err() != nil {
			break
		}
		jobs <- e
	}
	close(jobs)
	wg.Wait()
	if err == nil {
		err = storeErr
	}
	if err == nil {
		err = listErr
	}
	return res, err
}

func idOf(r *Record) string {
	if r == nil {
		return ""
	}
	return r.ID
}
