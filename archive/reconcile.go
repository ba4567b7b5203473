package archive

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"path"
	"reflect"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/conserva/conserva/pec"
	"github.com/conserva/conserva/storage"
	bolt "go.etcd.io/bbolt"
)

// The catalog, the store and the signed package indexes are three records
// of the same truth. Reconciliation ties them together: every object the
// store holds is catalogued, every catalogued message is stored, every
// message is in at most one package and in the one the catalog says, every
// sealed package is catalogued, and every record says what re-parsing and
// re-verifying its bytes says.

// CheckOptions tune a catalog check.
type CheckOptions struct {
	// Sample re-verifies N records chosen at random instead of all (the
	// listing and package comparisons always cover everything).
	Sample int
	// Trust anchors for re-verification. Without them a "valid" record is
	// accepted where re-verification can only say "untrusted".
	Trust *pec.TrustStore
	// Progress, when set, is called with the number of records re-verified.
	Progress func(done int)
}

// CheckReport is the outcome of `conserva catalog check`.
type CheckReport struct {
	Started    time.Time `json:"started"`
	Finished   time.Time `json:"finished"`
	Scope      string    `json:"scope"`      // of the re-verification: "all" or "sample of N"
	Stored     int       `json:"stored"`     // message objects in the store
	Catalogued int       `json:"catalogued"` // records in the catalog
	Packages   int       `json:"packages"`   // package folders in the store
	Reverified int       `json:"reverified"` // records compared with their re-parsed bytes
	Notes      []string  `json:"notes,omitempty"`
	Problems   []Problem `json:"problems"`
}

// CheckCatalog reconciles the catalog with the store and the package
// indexes (the same checks audit runs, without reading every object back
// for its hash, nor checking signatures and retention).
func (a *Archive) CheckCatalog(ctx context.Context, opts CheckOptions) (CheckReport, error) {
	rep := CheckReport{Started: time.Now().UTC(), Scope: "all", Problems: []Problem{}}
	var all []*Record
	if err := a.Catalog.Scan(func(r *Record) error { all = append(all, r); return nil }); err != nil {
		return rep, err
	}
	sample := all
	if opts.Sample > 0 && opts.Sample < len(all) {
		sample = append([]*Record(nil), all...)
		rand.Shuffle(len(sample), func(i, j int) { sample[i], sample[j] = sample[j], sample[i] })
		sample = sample[:opts.Sample]
		rep.Scope = fmt.Sprintf("sample of %d", opts.Sample)
	}
	res, err := a.reconcile(ctx, all, sample, nil, opts.Trust, opts.Progress)
	rep.Stored, rep.Catalogued, rep.Packages, rep.Reverified, rep.Notes = res.stored, len(all), res.packages, res.reverified, res.notes
	rep.Problems = mergeProblems(rep.Problems, res.problems)
	rep.Problems = mergeProblems(rep.Problems, a.auditTrust(ctx))
	sort.SliceStable(rep.Problems, func(i, j int) bool { return rep.Problems[i].Key < rep.Problems[j].Key })
	rep.Finished = time.Now().UTC()
	return rep, err
}

type reconciliation struct {
	stored, packages, reverified int
	notes                        []string
	problems                     []Problem
}

// reconcile compares all (every record) with the store's listing and the
// package indexes, and re-verifies sample. members holds the ids listed by
// package indexes already read (audit reads them to check signatures);
// the other packages' indexes are read here.
func (a *Archive) reconcile(ctx context.Context, all, sample []*Record, members map[string]map[string]bool, trust *pec.TrustStore, progress func(int)) (reconciliation, error) {
	var res reconciliation
	bad := func(id, key, format string, args ...any) {
		res.problems = append(res.problems, Problem{ID: id, Key: key, Problem: fmt.Sprintf(format, args...)})
	}
	res.problems = append(res.problems, a.Catalog.checkPages()...)

	// The store: every message object.
	stored := map[string]storage.Info{}
	err := a.Store.List(ctx, "messages/", func(i storage.Info) error {
		stored[i.Key] = i
		return nil
	})
	if err != nil {
		return res, fmt.Errorf("listing the store: %w", err)
	}
	res.stored = len(stored)
	byID := make(map[string]*Record, len(all))
	for _, r := range all {
		byID[r.ID] = r
	}
	if len(all) == 0 && len(stored) > 0 {
		bad("", "catalog.db", "the catalog is empty but the store holds %d messages: run conserva catalog rebuild", len(stored))
	}
	for key, info := range stored {
		id := strings.TrimSuffix(path.Base(key), ".eml")
		if !validID(id) || storage.MessageKey(id) != key {
			bad("", key, "an object the archive never writes (not messages/<aa>/<sha256>.eml)")
			continue
		}
		r := byID[id]
		switch {
		case r == nil:
			bad(id, key, "stored but not catalogued")
		case r.VersionID != "" && info.VersionID != "" && r.VersionID != info.VersionID:
			bad(id, key, "catalogued as version %s, but the store's evidence (first) version is %s", r.VersionID, info.VersionID)
		}
	}
	for _, r := range all {
		if r.Damage != "" {
			bad(r.ID, r.Key, "marked in the catalog: %s", r.Damage)
		} else if _, ok := stored[r.Key]; !ok && r.Disposed == "" { // disposed of: scarto.go
			bad(r.ID, r.Key, "missing from the store")
		}
		if r.PackageProblem != "" {
			bad(r.ID, r.Key, "%s", r.PackageProblem)
		}
	}

	if err := a.reconcileVersions(ctx, bad); err != nil {
		return res, err
	}

	// The packages: folders in the store, the catalog's, and who lists what.
	if err := a.reconcilePackages(ctx, byID, stored, members, bad, &res); err != nil {
		return res, err
	}

	// The records: what the catalog says against what the bytes say.
	if trust.Len() == 0 {
		res.notes = append(res.notes, "no trust anchors (--trust or trust in conserva.toml): a record saying \"valid\" is accepted where re-verification can only say \"untrusted\"")
	}
	res.reverified = a.reverify(ctx, sample, trust, progress, bad)
	return res, ctx.Err()
}

func (a *Archive) reconcilePackages(ctx context.Context, byID map[string]*Record, stored map[string]storage.Info, members map[string]map[string]bool, bad func(id, key, format string, args ...any), res *reconciliation) error {
	files := map[string]map[string]bool{}
	err := a.Store.List(ctx, "packages/", func(i storage.Info) error {
		parts := strings.SplitN(i.Key, "/", 3)
		if len(parts) != 3 {
			bad("", i.Key, "an object the archive never writes")
			return nil
		}
		if files[parts[1]] == nil {
			files[parts[1]] = map[string]bool{}
		}
		files[parts[1]][parts[2]] = true
		return nil
	})
	if err != nil {
		return fmt.Errorf("listing the store: %w", err)
	}
	res.packages = len(files)
	catalogued := map[string]bool{}
	if err := a.Catalog.Packages(func(p PackageRecord) error { catalogued[p.ID] = true; return nil }); err != nil {
		return err
	}
	var j journal
	hasJournal, err := a.Catalog.getJSON(bucketMeta, journalKey, &j)
	if err != nil {
		return err
	}
	listedIn := map[string][]string{}
	ids := make([]string, 0, len(files))
	for id := range files {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		have := files[id]
		prefix := "packages/" + id + "/"
		sealing := hasJournal && j.ID == id && !catalogued[id]
		complete := have["index.xml"] && have["index.xml.p7s"] && have["index.xml.p7s.tsr"]
		switch {
		case sealing:
			continue // the seal in progress: its members are pending
		case !catalogued[id] && !complete && a.abandoned(id):
			// Begun with another signer or TSA, its messages sealed under a
			// new id (seal.go settle): kept, as everything stored is.
			res.notes = append(res.notes, fmt.Sprintf("%s: an incomplete package abandoned when the seal was resumed with another signer or TSA", prefix))
		case !catalogued[id] && complete:
			bad("", prefix, "a sealed package the catalog does not know: run conserva catalog rebuild")
		case !catalogued[id]:
			bad("", prefix, "an incomplete package (no timestamp) and no seal in progress")
			continue
		}
		listed, ok := members[id]
		if !ok {
			listed = a.indexMembers(ctx, prefix)
		}
		for m := range listed {
			listedIn[m] = append(listedIn[m], id)
		}
	}
	for id := range catalogued {
		if files[id] == nil {
			bad("", "packages/"+id+"/", "a package the catalog records, missing from the store")
		}
	}
	for m, pkgs := range listedIn {
		sort.Strings(pkgs)
		key := storage.MessageKey(m)
		if !validID(m) {
			bad("", strings.Join(pkgs, ","), "a signed index lists %.80q, which is not a SHA-256", m)
			continue
		}
		if len(pkgs) > 1 {
			bad(m, key, "listed in %d packages: %s", len(pkgs), strings.Join(pkgs, ", "))
		}
		r := byID[m]
		switch {
		case r == nil:
			if _, ok := stored[key]; !ok {
				bad(m, key, "listed in package %s but missing from the store", pkgs[0])
			}
		case r.Package == "":
			bad(m, key, "listed in the signed index of package %s, but the catalog has it in no package (the next seal would put it in a second one)", pkgs[0])
		case !contains(pkgs, r.Package):
			bad(m, key, "catalogued in package %s, but listed in the signed index of %s", r.Package, strings.Join(pkgs, ", "))
		}
	}
	for _, r := range byID {
		if r.Package != "" && files[r.Package] != nil && !contains(listedIn[r.ID], r.Package) && r.PackageProblem == "" {
			bad(r.ID, r.Key, "not listed in the signed index of its package %s", r.Package)
		}
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// indexMembers lists the message ids of a package's index (nil when it
// cannot be read: audit names that).
func (a *Archive) indexMembers(ctx context.Context, prefix string) map[string]bool {
	rc, err := a.readEvidence(ctx, prefix+"index.xml")
	if err != nil {
		return nil
	}
	data, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		return nil
	}
	files, err := indexFiles(data)
	if err != nil {
		return nil
	}
	out := map[string]bool{}
	for _, f := range files {
		if strings.HasPrefix(f.Path, "messages/") {
			out[f.SHA256] = true
		}
	}
	return out
}

// reverify reads each record's bytes back, parses and verifies them again
// and names every field the record has wrong. Damaged or missing objects
// are skipped: other checks name them.
func (a *Archive) reverify(ctx context.Context, recs []*Record, trust *pec.TrustStore, progress func(int), bad func(id, key, format string, args ...any)) int {
	lim := a.Limits()
	next := make(chan *Record)
	var mu sync.Mutex
	var wg sync.WaitGroup
	done := 0
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range next {
				diffs := a.reverifyOne(ctx, r, trust, lim)
				mu.Lock()
				for _, d := range diffs {
					bad(r.ID, r.Key, "%s", d)
				}
				done++
				if progress != nil {
					progress(done)
				}
				mu.Unlock()
			}
		}()
	}
	for _, r := range recs {
		if ctx.Err() != nil {
			break
		}
		if r.Damage == "" {
			next <- r
		}
	}
	close(next)
	wg.Wait()
	return done
}

func (a *Archive) reverifyOne(ctx context.Context, r *Record, trust *pec.TrustStore, lim pec.Limits) []string {
	if r.Disposed != "" {
		return nil // deleted by an executed scarto: its verbale says so
	}
	var m *pec.Message
	if r.Size > lim.MaxSize {
		m = pec.TooLarge(r.ID, r.Size, lim)
	} else {
		rc, err := storage.GetVersion(ctx, a.Store, r.Key, r.VersionID)
		if errors.Is(err, storage.ErrNotFound) {
			// catalog check has no read-back of its own: say it here, in
			// the read-back's words (audit merges the same problems).
			return []string{"missing from the store"}
		}
		if err != nil {
			return []string{"unreadable: " + err.Error()}
		}
		var held io.Closer
		m, held, err = a.parseStored(rc, r.Size, lim)
		rc.Close()
		if err != nil {
			return []string{"unreadable: " + err.Error()}
		}
		defer held.Close()
		if m.SHA256 != r.ID {
			return []string{"damaged: content hashes to " + m.SHA256}
		}
	}
	fresh := newRecord(m, m.Verify(trust), "", time.Time{})
	return recordDiffs(r, fresh, trust.Len() == 0)
}

// recordDiffs names the fields of r that differ from fresh (the record its
// bytes give). Without trust anchors re-verification cannot say "valid":
// a "valid" or "untrusted" record is then accepted where fresh says
// "untrusted".
func recordDiffs(r, fresh *Record, noTrust bool) []string {
	type field struct {
		name     string
		have, is any
	}
	fields := []field{
		{"size", r.Size, fresh.Size}, {"kind", r.Kind, fresh.Kind}, {"receipt type", r.ReceiptType, fresh.ReceiptType},
		{"signer", r.Signer, fresh.Signer}, {"signing time", r.SignedAt, fresh.SignedAt}, {"time source", r.TimeSource, fresh.TimeSource},
		{"Message-ID", r.MessageID, fresh.MessageID}, {"X-Riferimento-Message-ID", r.RefMessageID, fresh.RefMessageID},
		{"identificativo", r.Identificativo, fresh.Identificativo}, {"msgid", r.Msgid, fresh.Msgid},
		{"sender", r.From, fresh.From}, {"recipients", r.To, fresh.To}, {"subject", r.Subject, fresh.Subject},
		{"date", r.Date, fresh.Date}, {"consegna", r.Consegna, fresh.Consegna}, {"ricezione", r.Ricezione, fresh.Ricezione},
		{"errore", r.Errore, fresh.Errore}, {"errore-esteso", r.ErroreEsteso, fresh.ErroreEsteso},
		{"dossier", r.Dossier, fresh.Dossier}, {"warnings", r.Warnings, fresh.Warnings},
	}
	if !(noTrust && fresh.Signature == pec.Untrusted && (r.Signature == pec.Valid || r.Signature == pec.Untrusted)) {
		fields = append(fields, field{"verdict", r.Signature, fresh.Signature}, field{"reason", r.Reason, fresh.Reason},
			field{"flagged", r.Flagged, fresh.Flagged}, field{"flag reason", r.FlagReason, fresh.FlagReason})
	}
	var out []string
	for _, f := range fields {
		if !sameValue(f.have, f.is) {
			out = append(out, fmt.Sprintf("the catalog says %s %s, the stored message %s", f.name, show(f.have), show(f.is)))
		}
	}
	return out
}

func sameValue(a, b any) bool {
	switch x := a.(type) {
	case *time.Time:
		y := b.(*time.Time)
		if x == nil || y == nil {
			return x == y
		}
		return x.Equal(*y)
	case []string:
		y := b.([]string)
		return len(x) == len(y) && (len(x) == 0 || reflect.DeepEqual(x, y))
	}
	return reflect.DeepEqual(a, b)
}

func show(v any) string {
	switch x := v.(type) {
	case *time.Time:
		if x == nil {
			return "(none)"
		}
		return x.UTC().Format(time.RFC3339)
	case string:
		return fmt.Sprintf("%.120q", x)
	}
	s := fmt.Sprint(v)
	if len(s) > 120 {
		s = s[:120] + "…"
	}
	return s
}

// checkPages runs bbolt's consistency check of every page.
func (c *Catalog) checkPages() []Problem {
	var probs []Problem
	err := c.db.View(func(tx *bolt.Tx) error {
		// Every page is read here first: a damaged one faults in this
		// goroutine, where safeDB turns the fault into ErrCatalogDamaged.
		// bbolt's Check reads pages in a goroutine of its own, where a
		// fault would kill the process.
		if err := walkBuckets(tx); err != nil {
			return err
		}
		for err := range tx.Check() {
			if len(probs) < 20 {
				probs = append(probs, Problem{Key: "catalog.db", Problem: fmt.Sprintf("%v: %v", ErrCatalogDamaged, err)})
			}
		}
		return nil
	})
	if err != nil {
		probs = append(probs, Problem{Key: "catalog.db", Problem: err.Error()})
	}
	return probs
}

// walkBuckets reads every key of every bucket, nested ones included.
func walkBuckets(tx *bolt.Tx) error {
	var walk func(b *bolt.Bucket, depth int) error
	walk = func(b *bolt.Bucket, depth int) error {
		if depth > 8 {
			return fmt.Errorf("%w (buckets nested %d deep)", ErrCatalogDamaged, depth)
		}
		return b.ForEach(func(k, v []byte) error {
			if v == nil {
				if child := b.Bucket(k); child != nil {
					return walk(child, depth+1)
				}
			}
			return nil
		})
	}
	return tx.ForEach(func(_ []byte, b *bolt.Bucket) error { return walk(b, 1) })
}

// mergeProblems appends to have the problems of more it does not hold yet
// (audit's read-back and the reconciliation may both find a missing object).
func mergeProblems(have, more []Problem) []Problem {
	seen := make(map[Problem]bool, len(have))
	for _, p := range have {
		seen[p] = true
	}
	for _, p := range more {
		if !seen[p] {
			seen[p] = true
			have = append(have, p)
		}
	}
	return have
}

// reconcileVersions names, on a versioned store, every key whose latest
// version is not its evidence: a delete marker or a version written over
// it (the evidence is intact, and read by version, but someone tried).
func (a *Archive) reconcileVersions(ctx context.Context, bad func(id, key, format string, args ...any)) error {
	vl, ok := a.Store.(storage.VersionLister)
	if !ok {
		return nil
	}
	type state struct {
		latest   storage.Info
		marker   bool
		evidence string
	}
	keys := map[string]*state{}
	for _, prefix := range []string{"messages/", "packages/"} {
		err := vl.ListVersions(ctx, prefix, func(i storage.Info, marker bool) error {
			st := keys[i.Key]
			if st == nil { // newest first: the first seen is the latest
				st = &state{latest: i, marker: marker}
				keys[i.Key] = st
			}
			if !marker {
				st.evidence = i.VersionID // the last seen is the oldest
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("listing the store's versions: %w", err)
		}
	}
	for key, st := range keys {
		id := ""
		if strings.HasPrefix(key, "messages/") {
			id = strings.TrimSuffix(path.Base(key), ".eml")
		}
		switch {
		case st.evidence == "":
			bad(id, key, "only delete markers: no version of it is left in the store")
		case st.marker:
			bad(id, key, "a delete marker or a newer version hides it (the evidence version is intact)")
		case st.latest.VersionID != st.evidence:
			bad(id, key, "a newer version %s was written over it (the evidence version is intact)", st.latest.VersionID)
		}
	}
	return nil
}
