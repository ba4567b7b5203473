package archive

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"reflect"
	"strings"
	"time"

	"github.com/conserva/conserva/pec"
	"github.com/conserva/conserva/storage"
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
	// Omitted counts problems about messages found beyond the first
	// maxMessageProblems, which Problems lists (a note says so).
	Omitted int `json:"problems_omitted,omitempty"`
}

// CheckCatalog reconciles the catalog with the store and the package
// indexes (the same checks audit runs, without reading every object back
// for its hash, nor checking signatures and retention).
func (a *Archive) CheckCatalog(ctx context.Context, opts CheckOptions) (CheckReport, error) {
	rep := CheckReport{Started: time.Now().UTC(), Scope: "all", Problems: []Problem{}}
	if n, err := a.Catalog.Count(); err == nil && opts.Sample > 0 && opts.Sample < n {
		rep.Scope = fmt.Sprintf("sample of %d", opts.Sample)
	}
	sink := newProblemSink(maxMessageProblems)
	res, err := a.reconcile(ctx, sweepOptions{sample: opts.Sample, trust: opts.Trust, progress: opts.Progress}, sink, nil)
	rep.Stored, rep.Catalogued, rep.Packages, rep.Reverified, rep.Notes = res.stored, res.catalogued, res.packages, res.reverified, res.notes
	for _, p := range a.auditTrust(ctx) {
		sink.add(p)
	}
	rep.Problems, rep.Omitted = sink.sorted()
	if n := sink.note(); n != "" {
		rep.Notes = append(rep.Notes, n)
	}
	rep.Finished = time.Now().UTC()
	return rep, err
}

type reconciliation struct {
	sweepResult
	packages int // package folders in the store
	notes    []string
}

// reconcile compares every record with the store's listing and the
// package indexes, in one pass in id order (sweep.go), and reads back and
// re-verifies what opts say. With opts.audit every catalogued package is
// also checked (signature, timestamp, metadata), counted in audited.
func (a *Archive) reconcile(ctx context.Context, opts sweepOptions, sink *problemSink, audited *int) (reconciliation, error) {
	var res reconciliation
	stop := a.Catalog.ReleasingMapped(releaseAbove) // the check reads every page
	pages := a.Catalog.checkPages()
	for _, p := range pages {
		sink.add(p)
	}
	if len(pages) == 0 { // on damaged pages the indexes say nothing more
		for _, p := range a.Catalog.checkIndexes() {
			sink.add(p)
		}
	}
	stop()
	if audited == nil {
		audited = new(int)
	}
	ps, err := a.packagePass(ctx, opts.audit, sink, audited, &res.notes)
	if err != nil {
		return res, err
	}
	res.packages = len(ps.folders)
	if opts.trust.Len() == 0 {
		res.notes = append(res.notes, "no trust anchors (--trust or trust in conserva.toml): a record saying \"valid\" is accepted where re-verification can only say \"untrusted\"")
	}
	res.sweepResult, err = a.sweep(ctx, ps, opts, sink)
	if err != nil {
		return res, err
	}
	if res.catalogued == 0 && res.stored > 0 {
		sink.bad("", "catalog.db", "the catalog is empty but the store holds %d messages: run conserva catalog rebuild", res.stored)
	}
	if err := a.reconcileVersions(ctx, sink.bad); err != nil {
		return res, err
	}
	return res, ctx.Err()
}

// indexMembersEach gives member the message ids of a package's index
// (none when it cannot be read: audit names that).
func (a *Archive) indexMembersEach(ctx context.Context, prefix string, member func(string)) {
	open := func() (io.ReadCloser, error) { return a.readEvidence(ctx, prefix+"index.xml") }
	_, _ = eachIndexFileFrom(open, func(f indexFile) error {
		if strings.HasPrefix(f.Path, "messages/") {
			member(f.SHA256)
		}
		return nil
	})
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

// reconcileVersions names, on a versioned store, every key whose latest
// version is not its evidence: a delete marker or a version written over
// it (the evidence is intact, and read by version, but someone tried).
// The listing comes key by key, newest version first: one key is held.
func (a *Archive) reconcileVersions(ctx context.Context, bad func(id, key, format string, args ...any)) error {
	vl, ok := a.Store.(storage.VersionLister)
	if !ok {
		return nil
	}
	type state struct {
		key      string
		latest   storage.Info
		marker   bool
		evidence string
	}
	var st *state
	judge := func() {
		if st == nil {
			return
		}
		id := ""
		if strings.HasPrefix(st.key, "messages/") {
			id = strings.TrimSuffix(path.Base(st.key), ".eml")
		}
		switch {
		case st.evidence == "":
			bad(id, st.key, "only delete markers: no version of it is left in the store")
		case st.marker:
			bad(id, st.key, "a delete marker or a newer version hides it (the evidence version is intact)")
		case st.latest.VersionID != st.evidence:
			bad(id, st.key, "a newer version %s was written over it (the evidence version is intact)", st.latest.VersionID)
		}
	}
	for _, prefix := range []string{"messages/", "packages/"} {
		err := vl.ListVersions(ctx, prefix, func(i storage.Info, marker bool) error {
			if st == nil || st.key != i.Key {
				if st != nil && i.Key < st.key {
					return fmt.Errorf("the store listed the versions of %s out of key order", i.Key)
				}
				judge()
				// Newest first: the first seen is the latest.
				st = &state{key: i.Key, latest: i, marker: marker}
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
	judge()
	return nil
}
