package archive

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/conserva/conserva/evidencepack"
	"github.com/conserva/conserva/pec"
	"github.com/conserva/conserva/segment"
	"github.com/conserva/conserva/sip"
	"github.com/conserva/conserva/storage"
	"github.com/conserva/conserva/timestamp"
)

// ExportOptions are the trust an export judges with.
type ExportOptions struct {
	Trust      *pec.TrustStore // the providers' anchors (ProviderTrust)
	TrustFiles []TrustFile
	Signer     string // PKCS#12 of the conservator, as for seal; default: configured or development
}

// Export writes the evidence pack of one dossier as a zip, a signed
// distribution package: its messages byte for byte, the packages that hold
// them (index, signature, timestamp, chains, and the metadata of these
// messages only), the pinned roots and the providers' anchors, report.html,
// report.json and VERIFY.txt, all listed in SHA256SUMS, which the
// conservator signs (CAdES-T) and the TSA timestamps. Nothing of another
// dossier goes in.
func (a *Archive) Export(ctx context.Context, ref string, w io.Writer, opts ExportOptions) (*evidencepack.Report, error) {
	d, err := a.FindDossier(ref)
	if err != nil {
		return nil, err
	}
	k, err := a.sealKeys(ctx, SealOptions{Signer: opts.Signer, Roots: a.RootsOverride})
	if err != nil {
		return nil, err
	}
	a.roots = k.roots
	pd, err := packDossier(d)
	if err != nil {
		return nil, err
	}
	providers, err := packTrustFiles(opts.TrustFiles)
	if err != nil {
		return nil, err
	}
	rep := &evidencepack.Report{ExportedAt: time.Now().UTC(), Dossier: pd, PackIntact: true, Verdicts: map[pec.Verdict]int{},
		Conservator: k.signer.Cert.Subject.CommonName, TSA: k.tsaName, Providers: providers}
	pw := evidencepack.NewWriter(w, rep.ExportedAt)
	pkgIDs := map[string][]*Record{}
	for _, r := range d.records {
		// Ids go into file names and into VERIFY.txt: a catalog that says
		// otherwise is damaged (or forged), never trusted.
		if !validID(r.ID) || r.Key != storage.MessageKey(r.ID) {
			return nil, fmt.Errorf("catalog record %.80q: not a message id or key: the catalog is damaged (conserva catalog check)", r.ID)
		}
		rc, err := storage.GetVersion(ctx, a.Store, r.Key, r.VersionID)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", r.Key, err)
		}
		name := evidencepack.MessageFile(r.ID)
		put := func(src io.Reader) error { return pw.Add(name, src) }
		var m *pec.Message
		held := io.Closer(io.NopCloser(nil))
		if lim := a.Limits(); r.Size > spoolOver && r.Size <= lim.MaxSize {
			// Read from a spool, not memory (issue 12: bounded memory).
			m, held, err = a.parseSpooled(rc, lim, put)
		} else {
			m, err = exportMessage(rc, r.Size, lim, put)
		}
		rc.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", r.Key, err)
		}
		v := m.Verify(opts.Trust)
		// The report's kind, addresses, subject and each recipient's status
		// come from the catalog: one that disagrees with the bytes is
		// damaged or forged, and a pack built on it is not intact. (The
		// verdict and signer shown are this export's own, and a parser's
		// warnings are no claim of the report: not compared.)
		fresh := newRecord(m, v, "", time.Time{})
		cmp := *r
		cmp.Signature, cmp.Reason, cmp.Flagged, cmp.FlagReason = fresh.Signature, fresh.Reason, fresh.Flagged, fresh.FlagReason
		cmp.Signer, cmp.SignedAt, cmp.TimeSource, cmp.Warnings = fresh.Signer, fresh.SignedAt, fresh.TimeSource, fresh.Warnings
		for _, diff := range recordDiffs(&cmp, fresh, false) {
			rep.PackIntact = false
			rep.Notes = append(rep.Notes, fmt.Sprintf("%s: %s: the catalog disagrees with the stored bytes: damaged or forged, or written under other limits (max_message_size) or by another version (conserva catalog check names it; catalog rebuild makes it anew from the store)", name, diff))
		}
		recipient := r.Consegna
		if recipient == "" {
			recipient = strings.Join(r.To, ", ")
		}
		em := evidencepack.Message{ID: r.ID, File: name, Kind: r.Kind, ReceiptType: r.ReceiptType, From: r.From, To: r.To, Recipient: recipient, Date: r.Date,
			Subject: r.Subject, Signature: v.Verdict, Reason: v.Reason, Signer: v.Signer, SignedAt: v.SignedAt,
			HashOK: m.SHA256 == r.ID, Package: r.Package, Sources: r.Sources, IngestedAt: r.IngestedAt}
		if atts, err := m.Attachments(); err != nil {
			rep.Notes = append(rep.Notes, fmt.Sprintf("%s: the attachments of postacert.eml could not all be listed: %v", name, err))
		} else {
			em.Attachments = atts
		}
		held.Close()
		if !em.HashOK {
			rep.PackIntact = false
		}
		rep.Verdicts[v.Verdict]++
		rep.Messages = append(rep.Messages, em)
		if r.Package != "" && !ValidPackageID(r.Package) {
			rep.PackIntact = false
			rep.Notes = append(rep.Notes, fmt.Sprintf("%s: the catalog names a package %.80q that is not a package id: the catalog is damaged", name, r.Package))
		} else if r.Package != "" {
			pkgIDs[r.Package] = append(pkgIDs[r.Package], r)
		}
	}
	var pkgs []string
	for id := range pkgIDs {
		pkgs = append(pkgs, id)
	}
	sort.Strings(pkgs)
	roots := evidencepack.NewRoots()
	listed := map[string]map[string]bool{}
	for _, id := range pkgs {
		ep, inIndex, err := a.exportPackage(ctx, id, pkgIDs[id], pw, roots)
		if err != nil {
			return nil, err
		}
		if !ep.SignatureOK || !ep.TimestampOK || len(ep.Problems) > 0 {
			rep.PackIntact = false
		}
		rep.Packages = append(rep.Packages, ep)
		listed[id] = inIndex
	}
	for i := range rep.Messages {
		m := &rep.Messages[i]
		m.InIndex = m.Package != "" && listed[m.Package][m.ID]
		if m.Package != "" && !m.InIndex {
			rep.PackIntact = false
		}
		if m.Package == "" {
			rep.Unsealed = append(rep.Unsealed, m.ID)
			rep.Notes = append(rep.Notes, fmt.Sprintf("%s is not sealed in a package yet: its integrity rests on this pack's signed manifest only", m.File))
		}
	}
	if err := a.exportERS(ctx, rep, pw); err != nil {
		return nil, err
	}
	rep.ProvidersValid = rep.Verdicts[pec.Valid] == len(rep.Messages)
	rep.AllOK = rep.PackIntact && rep.ProvidersValid
	// The manifest's own signer and TSA roots.
	manifestSigner := roots.Add("signer", chainRoot(k.signer.Cert, k.signer.Chain, k.roots.Signer))
	manifestTSA, err := a.manifestTSARoot(k, roots)
	if err != nil {
		return nil, err
	}
	var anchors []byte
	if opts.Trust.Len() > 0 {
		anchors = anchorsPEM(opts.Trust)
	}
	err = pw.Finish(rep, roots, evidencepack.Seal{SignerRoot: manifestSigner, TSARoot: manifestTSA, Anchors: anchors,
		Sign: func(manifest []byte) ([]byte, []byte, error) { return a.signManifest(ctx, k, manifest) }})
	if err != nil {
		return nil, err
	}
	return rep, nil
}

// packDossier is the dossier as the pack's report shows it.
func packDossier(d *Dossier) (*evidencepack.Dossier, error) {
	js, err := json.Marshal(d)
	if err != nil {
		return nil, err
	}
	pd := &evidencepack.Dossier{MessageID: d.MessageID, Warnings: d.Warnings, Record: js}
	for _, r := range d.Recipients {
		pd.Recipients = append(pd.Recipients, evidencepack.Recipient{Address: r.Address, Status: r.Status})
	}
	return pd, nil
}

// packTrustFiles are the providers' trust files as the pack's report lists
// them.
func packTrustFiles(files []TrustFile) ([]evidencepack.TrustFile, error) {
	if files == nil {
		return nil, nil
	}
	out := make([]evidencepack.TrustFile, 0, len(files))
	for _, f := range files {
		js, err := json.Marshal(f)
		if err != nil {
			return nil, err
		}
		out = append(out, evidencepack.TrustFile{Name: f.Name, Anchors: f.Anchors, SHA256: f.SHA256, Record: js})
	}
	return out, nil
}

// signManifest signs the pack's manifest (CAdES-T) and timestamps the
// signature file, both checked against the pinned roots.
func (a *Archive) signManifest(ctx context.Context, k *sealKit, manifest []byte) ([]byte, []byte, error) {
	p7s, _, err := k.signer.SignT(ctx, manifest, k.tsa)
	if err != nil {
		return nil, nil, fmt.Errorf("signing the pack's manifest: %w", err)
	}
	if _, err := sip.VerifyCAdES(ctx, p7s, manifest, k.roots.SignerPool(), k.roots.TSAPool()); err != nil {
		return nil, nil, fmt.Errorf("the pack's manifest signature: %w", err)
	}
	t, err := k.tsa.Timestamp(ctx, p7s)
	if err != nil {
		return nil, nil, fmt.Errorf("timestamping the pack's manifest: %w", err)
	}
	if _, err := timestamp.VerifyResponse(ctx, t.Response, p7s, k.roots.TSAPool()); err != nil {
		return nil, nil, fmt.Errorf("the pack's manifest timestamp: %w", err)
	}
	return p7s, t.Response, nil
}

// manifestTSARoot names the root file of the TSA that will timestamp the
// manifest: the TSA's own chain for the development TSA, else the pinned
// TSA root that issued the packages' timestamps (or the first pinned one).
func (a *Archive) manifestTSARoot(k *sealKit, roots *evidencepack.Roots) (string, error) {
	if d, ok := k.tsa.(*timestamp.Dev); ok {
		if f := roots.Add("tsa", chainRoot(d.Cert, d.Chain, k.roots.TSA)); f != "" {
			return f, nil
		}
	}
	for _, r := range roots.List() {
		if r.Role == "tsa" {
			return r.File, nil
		}
	}
	if len(k.roots.TSA) == 0 {
		return "", fmt.Errorf("no TSA roots")
	}
	return roots.Add("tsa", k.roots.TSA[0]), nil
}

// exportPackage puts in the pack the files of a package that seal recs
// (and only their metadata), checked as put there; it returns the package
// as verified and which of recs its signed index lists. Its index is
// streamed, never held (145 MB at 100,000 messages): the memory of an
// export does not grow with the package.
func (a *Archive) exportPackage(ctx context.Context, id string, recs []*Record, pw *evidencepack.Writer, roots *evidencepack.Roots) (evidencepack.Package, map[string]bool, error) {
	prefix := "packages/" + id + "/"
	ep := evidencepack.Package{ID: id}
	add := func(name string, data []byte) error { return pw.AddBytes(name, data) }
	open := func() (io.ReadCloser, error) { return a.readEvidence(ctx, prefix+"index.xml") }
	dev := &containsWriter{needle: []byte("no legal value")}
	if rc, err := open(); err == nil {
		err = pw.Add(prefix+"index.xml", io.TeeReader(rc, dev))
		rc.Close()
		if err != nil {
			return ep, nil, fmt.Errorf("%sindex.xml: %w", prefix, err)
		}
	} // else named by the checks below; the pack is still made, and says so
	files := map[string][]byte{}
	for _, name := range []string{"index.xml.p7s", "index.xml.p7s.tsr", "signer-chain.pem", "tsa-chain.pem"} {
		data, err := a.readAll(ctx, prefix+name)
		if err != nil {
			continue // named by the checks below
		}
		files[name] = data
		if err := add(prefix+name, data); err != nil {
			return ep, nil, err
		}
	}
	var err error
	if ep.Validation, err = a.exportValidation(ctx, prefix, open, files, add); err != nil {
		return ep, nil, err
	}
	exported := map[string]bool{}
	for _, r := range recs {
		name := "meta/" + r.ID + ".xml"
		data, err := a.readAllOnce(ctx, prefix+name)
		if err != nil {
			ep.Problems = append(ep.Problems, prefix+name+": "+err.Error())
			continue
		}
		files[name] = data
		exported[r.ID] = true
		if err := add(prefix+name, data); err != nil {
			return ep, nil, err
		}
	}
	// Checked on the bytes just put in the pack (the index read again from
	// the store, as a stream, and compared with the copy put in the pack),
	// the exported messages' metadata only, against the pinned roots.
	want := map[string]bool{}
	for _, r := range recs {
		want[r.ID] = true
	}
	listed := map[string]bool{}
	// A message of the signed index that the catalog lacks may be one of
	// this dossier's, its record removed: the pack cannot say it is whole.
	// (After a rebuild every member is catalogued, a lost one marked.)
	var lacking []string
	probs, check := a.auditPackageEach(ctx, id, files, exported, func(m string) {
		if want[m] {
			listed[m] = true
		} else if has, err := a.Catalog.Has(m); err == nil && !has && len(lacking) < maxLacking {
			lacking = append(lacking, m)
		}
	})
	for _, m := range lacking {
		probs = append(probs, Problem{Key: storage.MessageKey(m), Problem: "listed in the signed index of package " + id +
			" but not in the catalog: a record removed from it (conserva catalog check); the pack may lack a message of this dossier"})
	}
	if sum := pw.Sum(prefix + "index.xml"); check.sig != nil && sum != hex.EncodeToString(check.index[:]) {
		probs = append(probs, Problem{Key: prefix + "index.xml", Problem: "the copy in the pack is not the index whose signature was checked: it changed while it was read"})
	}
	ep.SignatureOK, ep.TimestampOK = true, true
	for _, p := range probs {
		ep.Problems = append(ep.Problems, p.Key+": "+p.Problem)
		if strings.HasSuffix(p.Key, ".p7s") {
			ep.SignatureOK = false
		}
		if strings.HasSuffix(p.Key, ".tsr") {
			ep.TimestampOK = false
		}
	}
	if sig := check.sig; sig != nil {
		ep.Signer = sig.Signer.Subject.CommonName
		ep.SignerRoot = roots.Add("signer", sig.Chain[len(sig.Chain)-1])
	}
	ep.CRLChecks = crlChecks(prefix, files, check)
	if ts := check.ts; ts != nil {
		ep.Timestamp = ts.Time.UTC()
		ep.TSA = ts.TSA.Subject.CommonName
		ep.TSARoot = roots.Add("tsa", ts.Chain[len(ts.Chain)-1])
	} else if tok, err := timestamp.Parse(files["index.xml.p7s.tsr"]); err == nil {
		ep.Timestamp = tok.Time.UTC()
	}
	ep.Development = dev.found
	return ep, listed, nil
}

// maxLacking bounds the messages an export names as missing from the
// catalog, per package.
const maxLacking = 100

// readOnce opens a package file as readEvidence does, but one kept in a
// segment is found by reading the segment's headers (segment.Find), not
// through the cached index of all its members (17 MB at 100,000): an
// export reads a handful, and its memory must not grow with the package.
func (a *Archive) readOnce(ctx context.Context, key string) (io.ReadCloser, error) {
	seg, member, ok := segmentOf(key)
	if !ok {
		return a.readEvidence(ctx, key)
	}
	rc, err := storage.ReadEvidence(ctx, a.Store, seg)
	if errors.Is(err, storage.ErrNotFound) {
		return storage.ReadEvidence(ctx, a.Store, key) // format 1: loose files
	}
	if err != nil {
		return nil, err
	}
	m, err := segment.Find(rc, member)
	rc.Close()
	if errors.Is(err, segment.ErrNotFound) {
		return nil, fmt.Errorf("%s: not in %s: %w", key, seg, storage.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", seg, err)
	}
	// Opened again: a stream (S3) was read to its end by Find.
	if rc, err = storage.ReadEvidence(ctx, a.Store, seg); err != nil {
		return nil, err
	}
	return openMember(rc, seg, m)
}

// readAllOnce is the whole of a package file read through readOnce.
func (a *Archive) readAllOnce(ctx context.Context, key string) ([]byte, error) {
	rc, err := a.readOnce(ctx, key)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

// containsWriter notes whether the bytes written to it, as one stream,
// contain needle; it keeps only the last len(needle)-1 bytes.
type containsWriter struct {
	needle []byte
	tail   []byte
	found  bool
}

func (c *containsWriter) Write(p []byte) (int, error) {
	if c.found || len(c.needle) == 0 {
		c.found = true
		return len(p), nil
	}
	keep := len(c.needle) - 1
	// Across the previous write and this one, then within this one.
	joint := append(c.tail, p[:min(len(p), keep)]...)
	if bytes.Contains(joint, c.needle) || bytes.Contains(p, c.needle) {
		c.found = true
		return len(p), nil
	}
	if len(joint) > keep {
		joint = joint[len(joint)-keep:]
	}
	if len(p) >= keep {
		joint = p[len(p)-keep:]
	}
	c.tail = append(c.tail[:0], joint...)
	return len(p), nil
}
