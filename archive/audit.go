package archive

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"time"

	"github.com/conserva/conserva/pec"
	"github.com/conserva/conserva/sip"
	"github.com/conserva/conserva/storage"
	"github.com/conserva/conserva/timestamp"
)

// Problem is one finding of an audit.
type Problem struct {
	ID      string `json:"id,omitempty"`
	Key     string `json:"key"`
	Problem string `json:"problem"`
}

// AuditReport is the outcome of an audit run.
type AuditReport struct {
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	Scope    string    `json:"scope"`   // "all" or "sample of N"
	Objects  int       `json:"objects"` // objects read back and hashed
	OK       int       `json:"ok"`
	Bytes    int64     `json:"bytes"`
	Packages int       `json:"packages"`
	Unsealed int       `json:"unsealed"` // catalogued messages in no package yet
	// Reconciliation (reconcile.go): the store's listing, the catalog and
	// the package indexes compared; records re-verified from their bytes.
	Stored     int       `json:"stored"`
	Catalogued int       `json:"catalogued"`
	Reverified int       `json:"reverified"`
	Notes      []string  `json:"notes,omitempty"`
	Problems   []Problem `json:"problems"`
	// Omitted counts problems about messages found beyond the first
	// maxMessageProblems, which Problems lists (a note says so).
	Omitted int `json:"problems_omitted,omitempty"`
	// Evidence records (audit_ers.go).
	ERS *ERSAudit `json:"ers,omitempty"`
	// The web interface's access log against its sealed segments (accesslog.go).
	AccessLog *AccessLogCheck `json:"access_log,omitempty"`
}

// Audit reads back every catalogued message (by version on S3), recomputes
// its SHA-256 and compares it with its id and with the signed index of its
// package; checks every package's signature, timestamp and metadata; on S3
// checks that retention is still in place and notices delete markers. The
// run is recorded in the catalog.
//
// It also reconciles the catalog with the store and the package indexes
// (see reconcile), re-verifying the same records with trust.
func (a *Archive) Audit(ctx context.Context, sample int, trust *pec.TrustStore, progress func(done int)) (AuditReport, error) {
	rep := AuditReport{Started: time.Now().UTC(), Scope: "all", Problems: []Problem{}}
	if n, err := a.Catalog.Count(); err == nil && sample > 0 && sample < n {
		rep.Scope = fmt.Sprintf("sample of %d", sample)
	}
	// One pass in id order over the store, the catalog and the package
	// indexes (sweep.go): packages first, their indexes say what each
	// member must hash to; then every message (or the sample) read back.
	sink := newProblemSink(maxMessageProblems)
	for _, p := range a.auditTrust(ctx) {
		sink.add(p)
	}
	// Evidence records (audit_ers.go): each sealed message's checked in
	// the pass, once it is read back intact; the package files' after.
	ersPass := a.newERSPass(ctx, sink)
	rec, err := a.reconcile(ctx, sweepOptions{audit: true, sample: sample, trust: trust, progress: progress, ers: ersPass}, sink, &rep.Packages)
	if err != nil {
		return rep, err
	}
	rep.Stored, rep.Catalogued, rep.Reverified, rep.Notes = rec.stored, rec.catalogued, rec.reverified, rec.notes
	rep.Objects, rep.OK, rep.Bytes, rep.Unsealed = rec.objects, rec.ok, rec.bytes, rec.unsealed
	ersRep, ersNotes := ersPass.finish(ctx)
	rep.ERS, rep.Notes = ersRep, append(rep.Notes, ersNotes...)
	for _, p := range a.auditERSValidation(ctx) { // validation.go
		sink.add(p)
	}
	var logProbs []Problem
	rep.AccessLog, logProbs = a.auditAccessLog(ctx)
	for _, p := range logProbs {
		sink.add(p)
	}
	rep.Problems, rep.Omitted = sink.sorted()
	if n := sink.note(); n != "" {
		rep.Notes = append(rep.Notes, n)
	}
	rep.Finished = time.Now().UTC()
	if err := a.Catalog.putJSON(bucketAudits, rep.Started.Format(time.RFC3339Nano), rep); err != nil {
		return rep, err
	}
	return rep, ctx.Err()
}

// auditMessage reads one message back and checks it.
// inIndex says whether the signed index of its package lists it.
func (a *Archive) auditMessage(ctx context.Context, r *Record, inIndex bool) (int64, *Problem) {
	p := func(format string, args ...any) *Problem {
		return &Problem{ID: r.ID, Key: r.Key, Problem: fmt.Sprintf(format, args...)}
	}
	if r.Disposed != "" {
		return 0, nil // deleted at the end of its retention (scarto.go)
	}
	rc, err := storage.GetVersion(ctx, a.Store, r.Key, r.VersionID)
	if errors.Is(err, storage.ErrNotFound) {
		return 0, p("missing from the store")
	}
	if err != nil {
		return 0, p("unreadable: %v", err)
	}
	h := sha256.New()
	n, err := io.Copy(h, rc)
	rc.Close()
	if err != nil {
		return n, p("unreadable: %v", err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != r.ID {
		return n, p("damaged: content hashes to %s", got)
	}
	if n != r.Size {
		return n, p("size %d, catalogued %d", n, r.Size)
	}
	if r.Package != "" && !inIndex {
		return n, p("not listed in the signed index of its package %s", r.Package)
	}
	if s3, ok := a.Store.(*storage.S3); ok {
		mode, until, err := s3.Retention(ctx, r.Key, r.VersionID)
		if err != nil || mode == "" || until.Before(time.Now()) {
			return n, p("retention no longer in place (mode %q until %v): %v", mode, until, err)
		}
		st, err := s3.Stat(ctx, r.Key)
		switch {
		case errors.Is(err, storage.ErrNotFound):
			return n, p("a delete marker or a newer version hides it (the evidence version is intact)")
		case err == nil && r.VersionID != "" && st.VersionID != r.VersionID:
			return n, p("a newer version %s was written over it (the evidence version is intact)", st.VersionID)
		}
	}
	return n, nil
}

// auditPackage checks a package's signature, timestamp and metadata, and
// returns the message ids its signed index lists. have holds files already
// read (by name inside the package), so they are not read again; metaOf,
// when not nil, limits the metadata checked to those messages (an export
// of one dossier must not read a whole 100,000-message package).
// sealCheck is what auditPackage found of a package's signature and
// timestamp when they verify (nil fields otherwise), for callers that also
// name or compare them: checked once, not again.
type sealCheck struct {
	sig   *sip.Verified
	ts    *timestamp.Verified
	index [sha256.Size]byte // SHA-256 of the index whose signature sig is
}

func (a *Archive) auditPackage(ctx context.Context, id string, have map[string][]byte, metaOf map[string]bool) (map[string]bool, []Problem, sealCheck) {
	ids := map[string]bool{}
	probs, check := a.auditPackageEach(ctx, id, have, metaOf, func(m string) { ids[m] = true })
	return ids, probs, check
}

// auditPackageEach is auditPackage giving each message id its signed index
// lists to member (duplicates included) instead of a set: the index is
// read token by token, never held as a tree.
func (a *Archive) auditPackageEach(ctx context.Context, id string, have map[string][]byte, metaOf map[string]bool, member func(string)) ([]Problem, sealCheck) {
	prefix := "packages/" + id + "/"
	var probs []Problem
	var check sealCheck
	bad := func(key, format string, args ...any) {
		probs = append(probs, Problem{Key: key, Problem: fmt.Sprintf(format, args...)})
	}
	read := func(name string) []byte {
		if b, ok := have[name]; ok {
			return b
		}
		rc, err := a.readEvidence(ctx, prefix+name)
		if err != nil {
			bad(prefix+name, "missing from the store: %v", err)
			return nil
		}
		defer rc.Close()
		b, err := readSized(rc)
		if err != nil {
			bad(prefix+name, "unreadable: %v", err)
		}
		return b
	}
	// The index is read from the store as a stream for its signature (one
	// pass), then again, token by token, for its files, which must hash the
	// same: never held (145 MB for 100,000 messages). One given in have is
	// read from there.
	open := func() (io.ReadCloser, error) { return a.readEvidence(ctx, prefix+"index.xml") }
	var indexSum [sha256.Size]byte
	if b, ok := have["index.xml"]; ok {
		open = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
		indexSum = sha256.Sum256(b)
	} else if rc, err := open(); err != nil {
		bad(prefix+"index.xml", "missing from the store: %v", err)
		return probs, check
	} else {
		rc.Close()
	}
	p7s, tsr := read("index.xml.p7s"), read("index.xml.p7s.tsr")
	roots, err := a.verifyRoots()
	if err != nil {
		bad(prefix+"index.xml.p7s", "cannot be checked: %v", err)
		return probs, check
	}
	if p7s != nil {
		// Against the pinned roots only: the chain files of the package
		// could be anyone's.
		var err error
		var sum [sha256.Size]byte
		if check.sig, sum, err = sip.VerifyCAdESFrom(ctx, p7s, open, roots.SignerPool(), roots.TSAPool()); err != nil {
			bad(prefix+"index.xml.p7s", "%v", err)
		}
		if _, given := have["index.xml"]; !given {
			indexSum = sum
		}
		check.index = sum
	}
	if p7s != nil && tsr != nil {
		var err error
		if check.ts, err = timestamp.VerifyResponse(ctx, tsr, p7s, roots.TSAPool()); err != nil {
			bad(prefix+"index.xml.p7s.tsr", "%v", err)
		}
	}
	vfiles := map[string][]byte{}
	got, err := eachIndexFileFrom(open, func(f indexFile) error {
		if strings.HasPrefix(f.Path, "messages/") {
			member(f.SHA256)
			return nil
		}
		name := strings.TrimPrefix(f.Path, prefix)
		v, isValidation := strings.CutPrefix(name, validationDir)
		if metaOf != nil && !isValidation && !metaOf[strings.TrimSuffix(strings.TrimPrefix(name, "meta/"), ".xml")] {
			return nil
		}
		if !isValidation {
			// Hashed as it is read: a metadata file is never held.
			if got, err := a.hashEvidence(ctx, prefix+name, have[name]); err != nil {
				bad(prefix+name, "%v", err)
			} else if got != f.SHA256 {
				bad(f.Path, "damaged: does not match the hash in the signed index")
			}
			return nil
		}
		data := read(name)
		if data == nil {
			return nil
		}
		vfiles[v] = data // judged below, as read, even if damaged
		sum := sha256.Sum256(data)
		if hex.EncodeToString(sum[:]) != f.SHA256 {
			bad(f.Path, "damaged: does not match the hash in the signed index")
		}
		return nil
	})
	if err != nil {
		bad(prefix+"index.xml", "%v", err)
		return probs, check
	}
	if got != indexSum && check.sig != nil {
		bad(prefix+"index.xml", "changed while it was read: its files were listed from other bytes than those whose signature was checked")
	}
	probs = append(probs, auditValidation(prefix, vfiles, check)...)
	return probs, check
}

// readSized reads a whole object into one buffer of its size where the
// reader knows it (a local file): no doubling copies of a large index.
func readSized(rc io.Reader) ([]byte, error) {
	if f, ok := rc.(interface{ Stat() (fs.FileInfo, error) }); ok {
		if st, err := f.Stat(); err == nil && st.Mode().IsRegular() && st.Size() > 0 {
			var buf bytes.Buffer
			buf.Grow(int(st.Size()) + 1)
			_, err := buf.ReadFrom(rc)
			return buf.Bytes(), err
		}
	}
	return io.ReadAll(rc)
}

// hashEvidence is the SHA-256 of a package file: of have when the caller
// read it already, else of its first version, streamed. The error is in
// auditPackage's words.
func (a *Archive) hashEvidence(ctx context.Context, key string, have []byte) (string, error) {
	if have != nil {
		sum := sha256.Sum256(have)
		return hex.EncodeToString(sum[:]), nil
	}
	rc, err := a.readEvidence(ctx, key)
	if err != nil {
		return "", fmt.Errorf("missing from the store: %v", err)
	}
	defer rc.Close()
	h := sha256.New()
	if _, err := io.Copy(h, rc); err != nil {
		return "", fmt.Errorf("unreadable: %v", err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// indexFile is one File of a package index.
type indexFile struct{ Path, SHA256 string }

func indexFiles(index []byte) ([]indexFile, error) {
	var out []indexFile
	dec := bytes.NewReader(index)
	doc, err := parseXML(dec)
	if err != nil {
		return nil, fmt.Errorf("index.xml: %w", err)
	}
	for _, f := range doc.FindElements("//File") {
		p, h := f.SelectElement("Path"), f.SelectElement("Hash")
		if p != nil && h != nil {
			out = append(out, indexFile{Path: strings.TrimSpace(p.Text()), SHA256: strings.TrimSpace(h.Text())})
		}
	}
	return out, nil
}

// auditPackageRecord compares what the catalog recorded when a package was
// sealed with what its signature and timestamp say now: the roots they
// chain to and who made them. A package re-signed under another root that
// was (wrongly) pinned since, or a record edited, is named.
func auditPackageRecord(p PackageRecord, check sealCheck) []Problem {
	if p.SignerRoot == "" && p.TSARoot == "" {
		return nil // sealed before roots were recorded
	}
	prefix := "packages/" + p.ID + "/"
	var probs []Problem
	bad := func(format string, args ...any) {
		probs = append(probs, Problem{Key: prefix + "index.xml.p7s", Problem: fmt.Sprintf(format, args...)})
	}
	if sig := check.sig; sig != nil {
		if got := Fingerprint(sig.Chain[len(sig.Chain)-1]); got != p.SignerRoot {
			bad("signed under root %s, but the package was sealed under root %s", got, p.SignerRoot)
		}
		if sig.Signer.Subject.CommonName != p.Signer {
			bad("signed by %q, but the package was sealed by %q", sig.Signer.Subject.CommonName, p.Signer)
		}
	}
	if ts := check.ts; ts != nil {
		if got := Fingerprint(ts.Chain[len(ts.Chain)-1]); got != p.TSARoot {
			bad("timestamped under root %s, but the package was sealed under root %s", got, p.TSARoot)
		}
		if !ts.Time.UTC().Equal(p.Timestamp.UTC()) {
			bad("timestamped at %s, but the package was sealed at %s", ts.Time.UTC().Format(time.RFC3339), p.Timestamp.UTC().Format(time.RFC3339))
		}
	}
	return probs
}
