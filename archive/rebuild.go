package archive

import (
	"bufio"
	"context"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/beevik/etree"
	"github.com/conserva/conserva/catalog"
	"github.com/conserva/conserva/ingest"
	"github.com/conserva/conserva/internal/atomicfile"
	"github.com/conserva/conserva/pec"
	"github.com/conserva/conserva/storage"
	"github.com/conserva/conserva/timestamp"
)

// RebuildSummary is the outcome of a catalog rebuild.
type RebuildSummary struct {
	Messages   int `json:"messages"`
	Flagged    int `json:"flagged"`
	Packages   int `json:"packages"`
	Incomplete int `json:"incomplete_packages"` // a seal to resume: left pending
	// Damaged and Missing count records kept, marked, for objects whose
	// bytes are not what their name says and for objects gone from the store.
	Damaged int `json:"damaged"`
	Missing int `json:"missing"`
	// BrokenPackages are packages whose folder, signature or timestamp is
	// gone or wrong: their messages stay in them, marked.
	BrokenPackages int       `json:"broken_packages"`
	Errors         int       `json:"errors"`
	Previous       string    `json:"previous_catalog,omitempty"`
	CarriedFrom    string    `json:"carried_from,omitempty"` // the catalog sources and ingestion times came from
	Failures       []Failure `json:"failures,omitempty"`
	// FailuresOmitted counts the failures about single messages beyond the
	// first maxMessageProblems, which Failures lists (a warning says so);
	// Errors counts every one.
	FailuresOmitted int      `json:"failures_omitted,omitempty"`
	Warnings        []string `json:"warnings,omitempty"`

	messageFailures int // listed in Failures
}

// fail lists a failure: every one not about a single message, and at most
// maxMessageProblems about messages (a store that lost everything would
// list one per message); the rest are counted.
func (s *RebuildSummary) fail(f Failure) {
	if strings.HasPrefix(f.Source, "messages/") {
		if s.messageFailures >= maxMessageProblems {
			s.FailuresOmitted++
			return
		}
		s.messageFailures++
	}
	s.Failures = append(s.Failures, f)
}

// Rebuild makes a new catalog from the store alone: every message is read
// back, re-parsed and re-verified; package membership comes from the
// package indexes. It never hides damage: a damaged or missing object stays
// as a record marked so, a package whose folder or signature is gone keeps
// its messages (marked), and each is an error of the run. What the store
// cannot tell (sources, ingestion times, legal holds, earlier verdicts,
// audit history) is carried over from the old catalog, or when it is empty
// or unreadable from the newest readable catalog.db.old-*.
//
// The old catalog stays the live one until the new one is complete and
// durable: kill -9 at any moment leaves a working catalog.db.
func (a *Archive) Rebuild(ctx context.Context, trust *pec.TrustStore, progress func(int)) (RebuildSummary, error) {
	var sum RebuildSummary
	livePath := filepath.Join(a.Dir, "catalog.db")
	old, oldPath, closeOld := a.carrySource(&sum)
	defer closeOld()
	var j journal
	hasJournal := false
	if a.Catalog != nil {
		var err error
		if hasJournal, err = a.Catalog.getJSON(bucketMeta, journalKey, &j); err != nil {
			hasJournal = false
			sum.Warnings = append(sum.Warnings, "the interrupted seal's journal could not be read: "+err.Error())
		}
	}
	if old != nil && oldPath != livePath {
		sum.CarriedFrom = oldPath
	}
	newPath := livePath + ".rebuilding"
	_ = os.Remove(newPath) // a previous rebuild that died: start over
	cat, err := OpenCatalog(newPath, 5*time.Second)
	if err != nil {
		return sum, err
	}
	b := *a
	b.Catalog = cat
	err = b.rebuildInto(ctx, old, trust, progress, hasJournal, j, &sum)
	cat = b.Catalog // loaded anew from the spool (loadSpooled)
	if sum.FailuresOmitted > 0 {
		sum.Warnings = append(sum.Warnings, fmt.Sprintf("%d more failures about messages were found and not listed: only the first %d are (the store is badly damaged; the counts above include every one)", sum.FailuresOmitted, maxMessageProblems))
	}
	if err == nil && hasJournal {
		err = cat.putJSON(bucketMeta, journalKey, j)
	}
	if err == nil && old != nil {
		// What only the catalog knew: audit history, IMAP marks, web users, run history.
		for _, bk := range []catalog.Bucket{bucketAudits, bucketSources, bucketReports, bucketScarto, bucketUsers, bucketRuns} {
			if cerr := copyBucket(old, cat, bk); cerr != nil {
				sum.Warnings = append(sum.Warnings, fmt.Sprintf("%s not carried over: %v", bk, cerr))
			}
		}
	}
	if err != nil {
		cat.Close()
		return sum, err
	}
	if err := cat.Close(); err != nil {
		return sum, err
	}
	closeOld()
	return sum, a.swapCatalog(newPath, livePath, &sum)
}

// swapCatalog makes the complete new catalog the live one. The old file is
// first given a second name (a hard link: catalog.db stays in place), then
// the new one is renamed over catalog.db, atomically; each step is made
// durable before the next.
func (a *Archive) swapCatalog(newPath, livePath string, sum *RebuildSummary) error {
	if err := atomicfile.SyncFile(newPath); err != nil {
		return err
	}
	if _, err := os.Stat(livePath); err == nil {
		keep := livePath + ".old-" + time.Now().UTC().Format("20060102T150405Z")
		for i := 1; ; i++ {
			err := os.Link(livePath, keep)
			if err == nil {
				break
			}
			if !errors.Is(err, fs.ErrExist) || i > 100 {
				return fmt.Errorf("keeping the old catalog: %w", err)
			}
			keep = fmt.Sprintf("%s.old-%s-%d", livePath, time.Now().UTC().Format("20060102T150405Z"), i)
		}
		sum.Previous = keep
		if err := syncDir(a.Dir); err != nil {
			return err
		}
	}
	// The old catalog (if open) is closed only now: until the rename, the
	// lock keeps other processes on it.
	if err := os.Rename(newPath, livePath); err != nil {
		return err
	}
	if err := syncDir(a.Dir); err != nil {
		return err
	}
	if a.Catalog != nil {
		a.Catalog.Close()
	}
	var err error
	a.Catalog, err = OpenCatalog(livePath, 5*time.Second)
	return err
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// carrySource picks the catalog whose records are carried over: the live
// one when it holds records, else the newest readable catalog.db.old-*
// (a catalog lost or emptied must not lose sources a second time).
func (a *Archive) carrySource(sum *RebuildSummary) (*Catalog, string, func()) {
	live := filepath.Join(a.Dir, "catalog.db")
	if a.Catalog != nil {
		n, err := a.Catalog.Count()
		if err == nil && n > 0 {
			return a.Catalog, live, func() {}
		}
		if err != nil {
			sum.Warnings = append(sum.Warnings, "the old catalog cannot be read: "+err.Error())
		}
	}
	olds, _ := filepath.Glob(live + ".old-*")
	sort.Sort(sort.Reverse(sort.StringSlice(olds)))
	for _, p := range olds {
		c, err := openReadOnly(p)
		if err != nil {
			continue
		}
		if n, err := c.Count(); err == nil && n > 0 {
			sum.Warnings = append(sum.Warnings, "the live catalog is empty or unreadable: sources and ingestion times carried over from "+p)
			once := false
			return c, p, func() {
				if !once {
					once = true
					c.Close()
				}
			}
		}
		c.Close()
	}
	if a.Catalog != nil {
		return a.Catalog, live, func() {}
	}
	return nil, "", func() {}
}

// openReadOnly opens a catalog file without writing to it (a kept copy).
func openReadOnly(p string) (*Catalog, error) { return OpenCatalogReadOnly(p, time.Second) }

func copyBucket(from, to *Catalog, bucket catalog.Bucket) error {
	all, err := readBucket(from, bucket)
	if err != nil {
		return err
	}
	return writeBucket(to, bucket, all)
}

func readBucket(from *Catalog, bucket catalog.Bucket) ([]catalog.KV, error) {
	var all []catalog.KV
	err := from.Each(bucket, false, func(k, v []byte) error {
		all = append(all, catalog.KV{Key: append([]byte(nil), k...), Value: append([]byte(nil), v...)})
		return nil
	})
	return all, err
}

func writeBucket(to *Catalog, bucket catalog.Bucket, all []catalog.KV) error {
	return to.PutAll(bucket, all) // the runs bucket is made on first use
}

// rebuildInto fills a.Catalog (the new catalog) from the store, with what
// old (may be nil, may be damaged) knew.
func (a *Archive) rebuildInto(ctx context.Context, old *Catalog, trust *pec.TrustStore, progress func(int), hasJournal bool, j journal, sum *RebuildSummary) error {
	src := storeSource{store: a.Store}
	// The providers' anchors the archive kept judge as ingest did, with
	// whatever was given now: those the old catalog listed when it can be
	// read (a file dropped into the store is not trusted: audit names it),
	// else every kept file in the store, each named in the summary.
	var recoverErr error
	if old != nil {
		recoverErr = copyBucket(old, a.Catalog, bucketTrust)
	} else {
		recoverErr = a.recoverTrust(ctx)
		if files, err := a.TrustFiles(); err == nil {
			for _, f := range files {
				sum.Warnings = append(sum.Warnings, "no old catalog to confirm it: the provider trust file "+f.Key+" found in the store is used")
			}
		}
	}
	if err := recoverErr; err != nil {
		sum.Warnings = append(sum.Warnings, "the kept provider trust anchors could not be read: "+err.Error())
	} else if kept, files, err := a.ProviderTrust(ctx, ""); err != nil {
		sum.Warnings = append(sum.Warnings, "the kept provider trust anchors could not be read: "+err.Error())
	} else if kept != nil {
		merged := pec.NewTrustStore(kept.Anchors()...)
		if trust != nil {
			merged.Add(trust.Anchors()...)
		}
		trust = merged
		_ = files
	}
	// What ingest and the damaged objects would insert goes to a spool,
	// with the old catalog's origins; the catalog is loaded from it after.
	spool, err := newRecordSpool(a.Dir, old)
	if err != nil {
		return err
	}
	defer spool.close()
	a.Catalog.spool = spool
	ing, err := a.Ingest(ctx, []ingest.Source{src}, IngestOptions{Trust: trust, Progress: progress, NoStore: true})
	sum.Messages, sum.Flagged = ing.Archived+ing.Duplicates, ing.Flagged
	if err != nil {
		a.Catalog.spool = nil
		return err
	}
	// Objects that could not be read back, or whose bytes are not the ones
	// their name promises: kept as records marked damaged.
	var marked []*Record
	for _, f := range ing.Failures {
		key, ok := strings.CutPrefix(f.Source, "store:")
		id := strings.TrimSuffix(path.Base(key), ".eml")
		if !ok || !validID(id) || storage.MessageKey(id) != key {
			sum.Errors++
			sum.fail(f)
			continue
		}
		r := a.knownRecord(old, id)
		r.Damage = f.Error
		if !strings.HasPrefix(r.Damage, "damaged") {
			r.Damage = "unreadable: " + r.Damage
		}
		marked = append(marked, r)
		sum.Damaged++
		sum.Errors++
		sum.fail(Failure{Source: key, Error: r.Damage})
		if len(marked) == restoreChunk {
			// Written as found: a store whose every object is damaged is not held.
			if err := a.insertMarked(marked); err != nil {
				return err
			}
			marked = nil
		}
	}
	if err := a.insertMarked(marked); err != nil {
		return err
	}
	if err := a.loadSpooled(spool); err != nil {
		return err
	}
	if err := a.markMissing(old, sum); err != nil {
		return err
	}
	if err := a.restorePackages(ctx, old, hasJournal, j, sum); err != nil {
		return err
	}
	// Messages deleted at the end of their retention (scarto.go).
	return a.restoreDisposals(ctx, sum)
}

func validID(id string) bool {
	if len(id) != 64 {
		return false
	}
	_, err := hex.DecodeString(id)
	return err == nil && strings.ToLower(id) == id
}

// knownRecord is what the old catalog knew of a message (a copy), else a
// bare record naming it. Its package membership is decided again.
func (a *Archive) knownRecord(old *Catalog, id string) *Record {
	var r *Record
	if old != nil {
		r, _ = old.Get(id)
	}
	if r == nil {
		r = &Record{ID: id, Key: storage.MessageKey(id), Dossier: "sha256:" + id, Sources: []string{"store:" + storage.MessageKey(id)}, IngestedAt: time.Now().UTC()}
	}
	r.Package, r.PackageProblem = "", ""
	return r
}

func (a *Archive) insertMarked(recs []*Record) error {
	for _, r := range recs {
		r.Flagged = true
		r.FlagReason = r.Damage
	}
	if len(recs) == 0 {
		return nil
	}
	_, err := a.Catalog.Insert(recs)
	return err
}

// carryOrigins brings back into r (a record rebuilt from the store) what
// only the old catalog knew of it, o: sources, ingestion time, legal hold
// and earlier verdicts. Objects unknown to it keep "store:<key>" as source
// and the rebuild time.
func carryOrigins(r, o *Record, now time.Time) {
	r.Sources, r.IngestedAt, r.LegalHold = o.Sources, o.IngestedAt, o.LegalHold
	// The verdicts given before stay; the rebuild's own judgement
	// is added when it differs from the latest of them.
	rebuilt := r.History
	r.History = o.History
	if len(r.History) == 0 { // a catalog from before verdict histories
		r.History = []VerdictEvent{{At: o.IngestedAt, By: "ingest", Verdict: o.Signature, Reason: o.Reason, Signer: o.Signer}}
	}
	latest := r.History[len(r.History)-1]
	if r.Damage == "" && len(rebuilt) > 0 && (rebuilt[0].Verdict != latest.Verdict || rebuilt[0].Reason != latest.Reason) {
		ev := rebuilt[0]
		ev.At, ev.By = now, "rebuild"
		r.History = append(r.History, ev)
	}
}

// markMissing keeps every message the old catalog knew and the store no
// longer holds, as a record marked missing.
func (a *Archive) markMissing(old *Catalog, sum *RebuildSummary) error {
	if old == nil {
		return nil
	}
	var gone []*Record
	phantoms := 0
	flush := func() error {
		for _, r := range gone {
			sum.Missing++
			sum.Errors++
			sum.fail(Failure{Source: r.Key, Error: r.Damage})
		}
		err := a.insertMarked(gone)
		gone = gone[:0]
		return err
	}
	var werr error
	rel := releasing(a.Catalog)
	defer rel.release()
	err := old.Scan(func(o *Record) error {
		has, err := a.Catalog.Has(o.ID)
		rel.looked()
		if err != nil || has {
			return err
		}
		// A record whose id its own catalog does not index is damage of
		// that catalog (its id bytes changed), not a message it knew.
		if g, err := old.Get(o.ID); err == nil && g == nil {
			phantoms++
			return nil
		}
		r := *o
		r.Package, r.PackageProblem = "", ""
		r.Damage = "missing from the store"
		gone = append(gone, &r)
		if len(gone) == restoreChunk {
			// Written as found: a store that lost everything is not held.
			if werr = flush(); werr != nil {
				return werr
			}
		}
		return nil
	})
	if werr != nil {
		return werr
	}
	if err != nil {
		sum.Warnings = append(sum.Warnings, "the old catalog could not be read to the end: messages it alone knew of may not be marked missing: "+err.Error())
	}
	if phantoms > 0 {
		sum.Warnings = append(sum.Warnings, fmt.Sprintf("%d records of the old catalog are damaged (their id is not in its id index): not carried over", phantoms))
	}
	return flush()
}

// restorePackages records every package: membership from its signed
// index, checked like audit checks it. A package whose folder is gone or
// whose index, signature or timestamp is missing or wrong keeps its messages
// (from its index, or from the old catalog), each marked; only the folder
// the seal journal names, or one no catalog ever recorded and without its
// timestamp (an interrupted seal whose journal was lost), is left pending.
func (a *Archive) restorePackages(ctx context.Context, old *Catalog, hasJournal bool, j journal, sum *RebuildSummary) error {
	// Which files each folder holds, of those that make a package complete:
	// not every object (a package has two per message).
	files := map[string]*packageFolder{}
	err := a.Store.List(ctx, "packages/", func(i storage.Info) error {
		noteFolder(files, i.Key)
		return nil
	})
	if err != nil {
		return err
	}
	oldPkgs := map[string]PackageRecord{}
	if old != nil {
		if err := old.Packages(func(p PackageRecord) error { oldPkgs[p.ID] = p; return nil }); err != nil {
			sum.Warnings = append(sum.Warnings, "the old catalog's packages could not all be read: "+err.Error())
		}
	}
	ids := make([]string, 0, len(files)+len(oldPkgs))
	for id := range files {
		ids = append(ids, id)
	}
	for id := range oldPkgs {
		if files[id] == nil {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	for _, id := range ids {
		have := files[id]
		known, wasSealed := oldPkgs[id]
		complete := have != nil && have.index && have.p7s && have.tsr
		if hasJournal && id == j.ID && !wasSealed {
			sum.Incomplete++
			continue
		}
		if !complete && !wasSealed {
			sum.Incomplete++
			sum.Warnings = append(sum.Warnings, fmt.Sprintf("package %s has no timestamp and no catalog ever recorded it sealed: an interrupted seal, its messages stay pending", id))
			continue
		}
		problem := ""
		// One package's members (at most max_package_messages), never
		// every package's.
		var members []string
		p := PackageRecord{ID: id}
		if have == nil {
			problem = "package " + id + " is missing from the store"
		} else {
			probs, _ := a.auditPackageEach(ctx, id, nil, nil, func(m string) { members = append(members, m) })
			// What the validation data say of the chains (validation.go)
			// is audit's to name; a missing or damaged file still breaks.
			probs = slices.DeleteFunc(probs, func(p Problem) bool { return p.Key == "packages/"+id+"/"+validationDir })
			if len(probs) > 0 {
				problem = fmt.Sprintf("package %s is broken: %s: %s", id, probs[0].Key, probs[0].Problem)
			}
			if rp, err := a.readPackage(ctx, id); err == nil {
				p = rp
			} else if problem == "" {
				problem = fmt.Sprintf("package %s is broken: %v", id, err)
			}
		}
		// The renewals only the catalog remembers (a deleted one is named).
		p.Renewed = max(p.Renewed, known.Renewed)
		if wasSealed && (len(members) == 0 || problem != "") {
			p = known
			if len(members) == 0 && old != nil {
				_ = old.Scan(func(r *Record) error {
					if r.Package == id {
						members = append(members, r.ID)
					}
					return nil
				})
			}
		}
		sort.Strings(members)
		members = slices.Compact(members)
		if err := a.sealRestored(p, members, problem, sum); err != nil {
			return err
		}
		if problem != "" {
			sum.BrokenPackages++
			sum.Errors++
			sum.fail(Failure{Source: "packages/" + id + "/", Error: problem})
		}
		sum.Packages++
	}
	return nil
}

// sealRestored records package p with its members. A member the store
// lacks gets a record marked missing; a member already in another package
// is an error named (a message is never in two packages), kept in the
// first: the rebuilt records start in no package, so one already in one
// was put there by a package restored before. A few thousand records per
// transaction: a write transaction holds every page it changes.
func (a *Archive) sealRestored(p PackageRecord, members []string, problem string, sum *RebuildSummary) error {
	var missing []*Record
	rel := releasing(a.Catalog)
	defer rel.release()
	for _, id := range members {
		if !validID(id) {
			continue
		}
		has, err := a.Catalog.Has(id)
		rel.looked()
		if err != nil {
			return err
		} else if !has {
			r := &Record{ID: id, Key: storage.MessageKey(id), Dossier: "sha256:" + id, Damage: "missing from the store", IngestedAt: time.Now().UTC()}
			missing = append(missing, r)
			sum.Missing++
			sum.Errors++
			sum.fail(Failure{Source: r.Key, Error: "listed in package " + p.ID + " but missing from the store"})
		}
		if len(missing) == restoreChunk {
			if err := a.insertMarked(missing); err != nil {
				return err
			}
			missing = missing[:0]
		}
	}
	if err := a.insertMarked(missing); err != nil {
		return err
	}
	var bytes int64
	n := 0
	for chunk := range slices.Chunk(members, restoreChunk) {
		err := a.Catalog.Update(func(get func(string) (*Record, error), put func(*Record) error) error {
			for _, id := range chunk {
				r, err := get(id)
				if err != nil || r == nil {
					continue
				}
				if r.Package != "" && r.Package != p.ID {
					sum.Errors++
					sum.fail(Failure{Source: r.Key, Error: fmt.Sprintf("listed in two packages: %s and %s", r.Package, p.ID)})
					continue
				}
				r.Package, r.PackageProblem = p.ID, problem
				if err := put(r); err != nil {
					return err
				}
				n++
				bytes += r.Size
			}
			return nil
		})
		if err != nil {
			return err
		}
		_ = a.Catalog.ReleaseMapped() // memory only
	}
	if p.Messages == 0 {
		p.Messages, p.Bytes = n, bytes
	}
	return a.Catalog.putJSON(bucketPackages, p.ID, p)
}

// restoreChunk is how many records a rebuild writes per transaction.
const restoreChunk = 500

// readPackage reads what a package record holds from the package's
// index (read token by token) and timestamp; its messages' count and bytes
// are those of its members the catalog holds.
func (a *Archive) readPackage(ctx context.Context, id string) (PackageRecord, error) {
	prefix := "packages/" + id + "/"
	read := func(name string) ([]byte, error) {
		rc, err := a.readEvidence(ctx, prefix+name)
		if err != nil {
			return nil, err
		}
		defer rc.Close()
		return io.ReadAll(rc)
	}
	open := func() (io.ReadCloser, error) { return a.readEvidence(ctx, prefix+"index.xml") }
	rc, err := open()
	if err != nil {
		return PackageRecord{}, err
	}
	p := PackageRecord{ID: id}
	err = packageInfo(bufio.NewReaderSize(rc, 64<<10), &p)
	rc.Close()
	if err != nil {
		return PackageRecord{}, fmt.Errorf("index.xml: %w", err)
	}
	tsr, err := read("index.xml.p7s.tsr")
	if err != nil {
		return PackageRecord{}, err
	}
	tok, err := timestamp.Parse(tsr)
	if err != nil {
		return PackageRecord{}, err
	}
	p.Timestamp = tok.Time.UTC()
	// Counted as the index is read: a package's ids are not held twice.
	rel := releasing(a.Catalog)
	defer rel.release()
	counted := PackageRecord{}
	var getErr error
	_, err = eachIndexFileFrom(open, func(f indexFile) error {
		if !strings.HasPrefix(f.Path, "messages/") {
			return nil
		}
		r, err := a.Catalog.Get(f.SHA256)
		rel.looked()
		if err != nil {
			getErr = err
			return err
		}
		if r != nil { // else listed but gone from the store: audit's business
			counted.Messages++
			counted.Bytes += r.Size
		}
		return nil
	})
	if getErr != nil {
		return PackageRecord{}, getErr
	}
	if err != nil {
		return PackageRecord{}, err
	}
	p.Messages, p.Bytes = counted.Messages, counted.Bytes
	return p, nil
}

// packageInfo reads PackageInfo's Created and Warning from an index.
func packageInfo(index io.Reader, p *PackageRecord) error {
	dec := xml.NewDecoder(index)
	var stack []string
	created := false
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			inInfo := len(stack) > 0 && stack[len(stack)-1] == "PackageInfo"
			if inInfo && t.Name.Local == "Warning" {
				p.Development = true
			}
			stack = append(stack, t.Name.Local)
		case xml.CharData:
			if n := len(stack); !created && n >= 2 && stack[n-1] == "Created" && stack[n-2] == "PackageInfo" {
				p.Created, _ = time.Parse(time.RFC3339, strings.TrimSpace(string(t)))
				created = true
			}
		case xml.EndElement:
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
		}
	}
}

// storeSource walks the messages of a store as an ingest source.
type storeSource struct{ store storage.Store }

func (s storeSource) String() string { return "store" }

func (s storeSource) Walk(ctx context.Context, fn func(ingest.Item) error) error {
	return s.store.List(ctx, "messages/", func(i storage.Info) error {
		key, version := i.Key, i.VersionID
		it := ingest.NewItem("store:"+key, i.Size, func() (io.ReadCloser, error) { return storage.GetVersion(ctx, s.store, key, version) })
		it.Version = version
		// The object's name is its hash.
		it.WantSHA256 = strings.TrimSuffix(path.Base(key), ".eml")
		return fn(it)
	})
}

// readEvidence reads the first version of an object (on S3 a newer version
// or a delete marker may sit on top of it).
// A file of a package of format 2 is read from its segment (segments.go).
func (a *Archive) readEvidence(ctx context.Context, key string) (io.ReadCloser, error) {
	if seg, member, ok := segmentOf(key); ok {
		rc, err := a.readMember(ctx, key, seg, member)
		if !errors.Is(err, errNoSegment) {
			return rc, err
		}
	}
	return storage.ReadEvidence(ctx, a.Store, key)
}

func parseXML(r io.Reader) (*etree.Document, error) {
	doc := etree.NewDocument()
	_, err := doc.ReadFrom(r)
	return doc, err
}
