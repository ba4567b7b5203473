package archive

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/conserva/conserva/ingest"
	"github.com/conserva/conserva/internal/atomicfile"
	"github.com/conserva/conserva/internal/redact"
	"github.com/conserva/conserva/schemas"
	"github.com/conserva/conserva/storage"
	"github.com/conserva/conserva/versamento"
)

// bucketReports holds one ReportRecord per ingest run that archived
// something, by run id. The store holds the reports themselves
// (reports/<run>/rapporto.xml, signed): the bucket is rebuilt from it.

// ReportRecord is what the catalog keeps of a rapporto di versamento.
type ReportRecord struct {
	Run        string     `json:"run"`
	Created    time.Time  `json:"created"`
	Key        string     `json:"key"`
	SHA256     string     `json:"sha256,omitempty"` // of rapporto.xml, as its run wrote it
	Sources    []string   `json:"sources"`
	Archived   int        `json:"archived"`
	Flagged    int        `json:"flagged"`
	Duplicates int        `json:"duplicates"`
	Refused    int        `json:"refused"`
	Signed     *SignedDoc `json:"signed,omitempty"`
	// Pending: written by its run, to be signed by the next seal.
	Pending bool `json:"pending,omitempty"`
	// Problem: why it does not verify, or could not be read.
	Problem string `json:"problem,omitempty"`
}

// RunEntry is one message an ingest run archived.
type runEntry = versamento.Entry

func reportKey(run string) string { return "reports/" + run + "/rapporto.xml" }

// versamento writes and catalogues the rapporto di versamento of a run
// that archived something. The next seal signs and timestamps it with the
// package keys (signPendingReports): an ingest never needs the signer's
// secret, and never makes development keys on its own.
func (a *Archive) versamento(ctx context.Context, sources []ingest.Source, started time.Time, sum *IngestSummary) error {
	if sum.Archived == 0 {
		return nil
	}
	run, created := newPackageID()
	rep := &versamento.Report{Run: run, Created: created, Started: started.UTC().Truncate(time.Second),
		Producer: a.Config.Seal.Submitter, Conservator: a.Config.Seal.Holder,
		Seen: sum.Seen, Duplicates: sum.Duplicates}
	if sum.entries != nil {
		rep.Stream = &versamento.Stream{Count: sum.entries.count, Flagged: sum.entries.flagged, Each: sum.entries.each}
	}
	for _, s := range sources {
		rep.Sources = append(rep.Sources, redact.URL(fmt.Sprint(s)))
	}
	if len(rep.Sources) == 0 {
		rep.Sources = []string{"(none)"}
	}
	refusal := func(f Failure) versamento.Refusal {
		return versamento.Refusal{Source: f.Source, Reason: redact.Text(f.Error)}
	}
	if sum.entries != nil { // every refusal, from the run's list on disk
		ref := sum.entries.refused
		rep.Refusals = &versamento.RefusalStream{Count: ref.count, Each: func(fn func(versamento.Refusal) error) error {
			return ref.each(func(f Failure) error { return fn(refusal(f)) })
		}}
	} else {
		for _, f := range sum.Failures {
			rep.Refused = append(rep.Refused, refusal(f))
		}
	}
	// The entries come in id order (runEntries sorts them).
	rec := ReportRecord{Run: run, Created: created, Key: reportKey(run), Sources: rep.Sources, Archived: rep.Archived(),
		Flagged: rep.Flagged(), Duplicates: rep.Duplicates, Refused: rep.RefusedCount()}
	res, err := a.putStream(ctx, rec.Key, rep.WriteXML)
	if err != nil {
		return fmt.Errorf("rapporto di versamento: %w", err)
	}
	rec.SHA256, rec.Pending = res.Info.SHA256, true
	sum.Report = run
	return a.Catalog.putJSON(bucketReports, run, rec)
}

// signPendingReports signs and timestamps, with the kit of the seal that
// is running, every rapporto its run left unsigned.
func (a *Archive) signPendingReports(ctx context.Context, k *sealKit) error {
	reps, err := a.Reports(ctx)
	if err != nil {
		return err
	}
	for _, r := range reps {
		if !r.Pending {
			continue
		}
		data, err := a.readAll(ctx, r.Key)
		if err != nil {
			return fmt.Errorf("rapporto %s: %w", r.Run, err)
		}
		if r.SHA256 != "" && hexSum(data) != r.SHA256 {
			// Never signed: named by reports list/show, and the seal goes on.
			r.Pending, r.Problem = false, "damaged before it was signed: does not match the hash its run recorded"
			a.Log.Warn("rapporto di versamento not signed", "run", r.Run, "problem", r.Problem)
			if err := a.Catalog.putJSON(bucketReports, r.Run, r); err != nil {
				return err
			}
			continue
		}
		sd, err := a.signDocumentWith(ctx, k, r.Key, data)
		if err != nil {
			return fmt.Errorf("rapporto %s: %w", r.Run, err)
		}
		r.Signed, r.Pending, r.Problem = &sd, false, ""
		if err := a.Catalog.putJSON(bucketReports, r.Run, r); err != nil {
			return err
		}
	}
	return nil
}

// Reports lists the rapporti di versamento, oldest first: those the
// catalog knows, and any the store holds that it does not (after a
// rebuild), read back from the store.
func (a *Archive) Reports(ctx context.Context) ([]ReportRecord, error) {
	have := map[string]ReportRecord{}
	err := a.Catalog.forEachJSON(bucketReports, func(k string, data []byte) error {
		var r ReportRecord
		if err := jsonUnmarshal(data, &r); err != nil {
			return fmt.Errorf("catalog: report %s: %w", k, err)
		}
		have[r.Run] = r
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = a.Store.List(ctx, "reports/", func(info storage.Info) error {
		if !strings.HasSuffix(info.Key, "/rapporto.xml") {
			return nil
		}
		run := strings.TrimSuffix(strings.TrimPrefix(info.Key, "reports/"), "/rapporto.xml")
		if _, ok := have[run]; ok {
			return nil
		}
		r, err := a.reportFromStore(ctx, run)
		if err != nil {
			r = ReportRecord{Run: run, Key: info.Key, Problem: err.Error()}
		}
		have[run] = r
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]ReportRecord, 0, len(have))
	for _, r := range have {
		out = append(out, r)
	}
	sort.Slice(out, func(i, k int) bool { return out[i].Run < out[k].Run })
	return out, nil
}

func (a *Archive) reportFromStore(ctx context.Context, run string) (ReportRecord, error) {
	data, err := a.readAll(ctx, reportKey(run))
	if err != nil {
		return ReportRecord{}, err
	}
	rep, err := versamento.Parse(data)
	if err != nil {
		return ReportRecord{}, err
	}
	rec := ReportRecord{Run: rep.Run, Created: rep.Created, Key: reportKey(run), Sources: rep.Sources, Archived: len(rep.Entries),
		Flagged: rep.Flagged(), Duplicates: rep.Duplicates, Refused: rep.RefusedCount()}
	if _, err := a.Store.Stat(ctx, rec.Key+".sig.json"); errors.Is(err, storage.ErrNotFound) {
		rec.Pending = true
	} else if f, err := a.readSigned(ctx, rec.Key); err == nil {
		rec.Signed = &f.Info
	} else {
		rec.Problem = err.Error()
	}
	return rec, nil
}

// findReport resolves a run id or an unambiguous prefix of it.
func (a *Archive) findReport(ctx context.Context, run string) (ReportRecord, error) {
	all, err := a.Reports(ctx)
	if err != nil {
		return ReportRecord{}, err
	}
	var hits []ReportRecord
	for _, r := range all {
		if r.Run == run {
			return r, nil
		}
		if run != "" && strings.HasPrefix(r.Run, run) {
			hits = append(hits, r)
		}
	}
	switch len(hits) {
	case 0:
		return ReportRecord{}, fmt.Errorf("%w: %q", ErrNoReport, run)
	case 1:
		return hits[0], nil
	}
	return ReportRecord{}, fmt.Errorf("%q names %d reports: give more of the run id", run, len(hits))
}

// ErrNoReport: no rapporto di versamento has that run id.
var ErrNoReport = errors.New("no rapporto di versamento with that run id")

// ReportDetail is a rapporto as `reports show` gives it: its content, and
// whether its signature and timestamp verify against the kept roots.
type ReportDetail struct {
	ReportRecord
	Report   *versamento.Report `json:"report"`
	Verified bool               `json:"verified"`
	Problem  string             `json:"problem,omitempty"`
}

// Report reads one rapporto back and checks it.
func (a *Archive) Report(ctx context.Context, run string) (*ReportDetail, error) {
	rec, err := a.findReport(ctx, run)
	if err != nil {
		return nil, err
	}
	d := &ReportDetail{ReportRecord: rec}
	if rec.Pending || rec.Signed == nil {
		data, err := a.readAll(ctx, rec.Key)
		if err != nil {
			return nil, err
		}
		if d.Report, err = versamento.Parse(data); err != nil {
			return nil, err
		}
		d.Problem = "not signed yet: the next seal signs and timestamps it"
		if rec.Problem != "" {
			d.Problem = "not signed: " + rec.Problem
		} else if rec.SHA256 != "" && hexSum(data) != rec.SHA256 {
			d.Problem = "damaged: does not match the hash its run recorded"
		}
		return d, nil
	}
	f, verr := a.readSigned(ctx, rec.Key)
	var data []byte
	if f != nil {
		data = f.Doc
	} else if data, err = a.readAll(ctx, rec.Key); err != nil {
		return nil, err
	}
	if d.Report, err = versamento.Parse(data); err != nil {
		return nil, err
	}
	d.Verified = verr == nil
	if verr != nil {
		d.Problem = verr.Error()
	}
	return d, nil
}

// ExportReport writes a rapporto and what checks it into dir (which must
// not exist or be empty): rapporto.xml, rapporto.xml.p7s, rapporto.xml.p7s.tsr,
// signer-roots.pem, tsa-roots.pem, conserva-versamento.xsd and VERIFY.txt.
// It refuses to export a report that does not verify.
func (a *Archive) ExportReport(ctx context.Context, run, dir string) (*ReportDetail, error) {
	d, err := a.Report(ctx, run)
	if err != nil {
		return nil, err
	}
	if !d.Verified {
		return d, fmt.Errorf("rapporto %s does not verify: %s", d.Run, d.Problem)
	}
	f, err := a.readSigned(ctx, d.Key)
	if err != nil {
		return d, err
	}
	return d, writeSignedExport(dir, "rapporto.xml", f, "conserva-versamento.xsd",
		fmt.Sprintf("Rapporto di versamento %s (ingest run of %s)", d.Run, d.Created.Format(time.RFC3339)))
}

// writeSignedExport writes a signed document for an auditor.
func writeSignedExport(dir, name string, f *SignedFiles, xsd, title string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if ents, _ := os.ReadDir(dir); len(ents) > 0 {
		return fmt.Errorf("%s is not empty", dir)
	}
	schema, err := schemaBytes(xsd)
	if err != nil {
		return err
	}
	verify := fmt.Sprintf(`%s

Checked with the roots pinned when it was signed (signer-roots.pem,
tsa-roots.pem), never with certificates the signature carries. Signer: %s;
TSA: %s; timestamp: %s.%s

0. These roots travel with the document: anyone can make a folder that
   passes steps 1 and 2 with roots of their own (and this file with it).
   First compare every certificate of both files with the SHA-256
   fingerprints the archive's owner publishes (conserva reports export
   prints them); openssl trusts every certificate of a -CAfile, so count
   them too:
   grep -c 'BEGIN CERTIFICATE' signer-roots.pem tsa-roots.pem
   openssl crl2pkcs7 -nocrl -certfile signer-roots.pem | openssl pkcs7 -print_certs -noout
   openssl x509 -in signer-roots.pem -outform DER | sha256sum     # the first; so for tsa-roots.pem

1. The conservator's CAdES signature over %s:
   openssl cms -verify -binary -inform DER -in %s.p7s -content %s -CAfile signer-roots.pem -purpose any -out /dev/null
2. The RFC 3161 timestamp over the whole signature file:
   openssl ts -verify -data %s.p7s -in %s.p7s.tsr -CAfile tsa-roots.pem
3. The signature carries its own signature timestamp (CAdES-T):
   openssl cms -cmsout -print -inform DER -in %s.p7s | grep id-smime-aa-timeStampToken
4. The document against its schema:
   xmllint --noout --schema %s %s
5. Its SHA-256: %s
   sha256sum %s
`, title, f.Info.Signer, f.Info.TSA, f.Info.Timestamp.Format(time.RFC3339), devNote(f.Info.Development),
		name, name, name, name, name, name, xsd, name, f.Info.SHA256, name)
	for _, x := range []struct {
		n string
		d []byte
	}{{name, f.Doc}, {name + ".p7s", f.P7S}, {name + ".p7s.tsr", f.TSR}, {"signer-roots.pem", f.SignerRoots},
		{"tsa-roots.pem", f.TSARoots}, {xsd, schema}, {"VERIFY.txt", []byte(verify)}} {
		if err := atomicfile.WriteNew(filepath.Join(dir, x.n), x.d, 0o644); err != nil {
			return err
		}
	}
	return nil
}

func devNote(dev bool) string {
	if dev {
		return "\nSIGNED WITH THE DEVELOPMENT KEYS: no legal value."
	}
	return ""
}

func jsonUnmarshal(data []byte, v any) error { return json.Unmarshal(data, v) }

func schemaBytes(name string) ([]byte, error) { return schemas.FS.ReadFile(name) }
