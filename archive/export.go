package archive

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/conserva/conserva/pec"
	"github.com/conserva/conserva/sip"
	"github.com/conserva/conserva/storage"
	"github.com/conserva/conserva/timestamp"
)

// ExportReport is report.json: the dossier and what was verified when the
// pack was made.
type ExportReport struct {
	ExportedAt time.Time       `json:"exported_at"`
	Dossier    *Dossier        `json:"dossier"`
	Messages   []ExportMessage `json:"verified_messages"`
	Packages   []ExportPackage `json:"packages"`
	// PackIntact: every message hashes to its name, every sealed message is
	// listed in its package's signed index, and every package signature and
	// timestamp holds against the pinned roots.
	PackIntact bool `json:"pack_intact"`
	// Verdicts counts the providers' signatures by verdict; ProvidersValid
	// says whether every one is valid. They say nothing of the pack.
	Verdicts       map[pec.Verdict]int `json:"provider_verdicts"`
	ProvidersValid bool                `json:"provider_signatures_all_valid"`
	// AllOK is both: the pack is intact and every provider signature valid.
	AllOK bool `json:"all_ok"`
	// Who signs the pack's manifest, and the roots everything is checked
	// against (shipped in roots/).
	Conservator string      `json:"conservator"`
	TSA         string      `json:"tsa"`
	Roots       []PackRoot  `json:"roots"`
	Providers   []TrustFile `json:"provider_trust"`
	Unsealed    []string    `json:"unsealed,omitempty"` // ids of messages in no package yet
	Notes       []string    `json:"notes,omitempty"`
}

// PackRoot is a pinned root shipped in the pack.
type PackRoot struct {
	Role    string `json:"role"` // signer or tsa
	File    string `json:"file"`
	Subject string `json:"subject"`
	SHA256  string `json:"sha256"` // of the certificate's DER
}

// ExportMessage is one message as verified at export time.
type ExportMessage struct {
	ID          string           `json:"id"`
	File        string           `json:"file"`
	Kind        pec.Kind         `json:"kind"`
	ReceiptType string           `json:"receipt_type"`
	From        string           `json:"from"`
	To          []string         `json:"to"`
	Recipient   string           `json:"recipient,omitempty"`
	Date        *time.Time       `json:"date"`
	Subject     string           `json:"subject"`
	Signature   pec.Verdict      `json:"signature"`
	Reason      string           `json:"reason"`
	Signer      string           `json:"signer"`
	SignedAt    *time.Time       `json:"signed_at"`
	HashOK      bool             `json:"hash_ok"`
	Package     string           `json:"package"`
	InIndex     bool             `json:"listed_in_signed_index"`
	Sources     []string         `json:"sources"`
	IngestedAt  time.Time        `json:"ingested_at"`
	Attachments []pec.Attachment `json:"attachments,omitempty"`
	// Its latest evidence record (export_ers.go), checked at export time:
	// the first archive timestamp's time, and when it must be renewed.
	EvidenceRecord   string     `json:"evidence_record,omitempty"`
	EvidenceRecordOK bool       `json:"evidence_record_ok,omitempty"`
	ProvenAt         *time.Time `json:"proven_at,omitempty"`
	RenewBefore      time.Time  `json:"renew_before,omitzero"`
	ersTSARoot       string
}

// ExportPackage is one package as verified at export time.
type ExportPackage struct {
	ID          string    `json:"id"`
	Timestamp   time.Time `json:"timestamp"`
	SignatureOK bool      `json:"signature_ok"`
	TimestampOK bool      `json:"timestamp_ok"`
	Signer      string    `json:"signer"`
	TSA         string    `json:"tsa"`
	SignerRoot  string    `json:"signer_root,omitempty"` // file under roots/
	TSARoot     string    `json:"tsa_root,omitempty"`
	Problems    []string  `json:"problems,omitempty"`
	Development bool      `json:"development_keys"`
	// Validation lists the package's validation data shipped (validation/…).
	Validation []string `json:"validation,omitempty"`
	listed     map[string]bool
	crlChecks  []crlCheck // for VERIFY.txt (validation.go)
}

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
func (a *Archive) Export(ctx context.Context, ref string, w io.Writer, opts ExportOptions) (*ExportReport, error) {
	d, err := a.FindDossier(ref)
	if err != nil {
		return nil, err
	}
	k, err := a.sealKeys(ctx, SealOptions{Signer: opts.Signer, Roots: a.RootsOverride})
	if err != nil {
		return nil, err
	}
	a.roots = k.roots
	rep := &ExportReport{ExportedAt: time.Now().UTC(), Dossier: d, PackIntact: true, Verdicts: map[pec.Verdict]int{},
		Conservator: k.signer.Cert.Subject.CommonName, TSA: k.tsaName, Providers: opts.TrustFiles}
	zw := zip.NewWriter(w)
	sums := map[string]string{}
	addFrom := func(name string, src io.Reader) error {
		if err := safeName(name); err != nil {
			return err
		}
		if _, dup := sums[name]; dup {
			return nil
		}
		f, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate, Modified: rep.ExportedAt})
		if err != nil {
			return err
		}
		h := sha256.New()
		if _, err := io.Copy(io.MultiWriter(f, h), src); err != nil {
			return err
		}
		sums[name] = hex.EncodeToString(h.Sum(nil))
		return nil
	}
	add := func(name string, data []byte) error { return addFrom(name, bytes.NewReader(data)) }
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
		name := "messages/" + r.ID + ".eml"
		put := func(src io.Reader) error { return addFrom(name, src) }
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
		recipient := r.Consegna
		if recipient == "" {
			recipient = strings.Join(r.To, ", ")
		}
		em := ExportMessage{ID: r.ID, File: name, Kind: r.Kind, ReceiptType: r.ReceiptType, From: r.From, To: r.To, Recipient: recipient, Date: r.Date,
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
	roots := newPackRoots()
	for _, id := range pkgs {
		ep, err := a.exportPackage(ctx, id, pkgIDs[id], add, roots)
		if err != nil {
			return nil, err
		}
		if !ep.SignatureOK || !ep.TimestampOK || len(ep.Problems) > 0 {
			rep.PackIntact = false
		}
		rep.Packages = append(rep.Packages, ep)
	}
	listed := map[string]map[string]bool{}
	for _, p := range rep.Packages {
		listed[p.ID] = p.listed
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
	if err := a.exportERS(ctx, rep, add); err != nil {
		return nil, err
	}
	rep.ProvidersValid = rep.Verdicts[pec.Valid] == len(rep.Messages)
	rep.AllOK = rep.PackIntact && rep.ProvidersValid
	// The manifest's own signer and TSA roots.
	manifestSigner := roots.add("signer", chainRoot(k.signer.Cert, k.signer.Chain, k.roots.Signer))
	manifestTSA, err := a.manifestTSARoot(k, roots)
	if err != nil {
		return nil, err
	}
	for _, r := range roots.list {
		if err := add(r.File, roots.pem[r.File]); err != nil {
			return nil, err
		}
	}
	rep.Roots = roots.list
	if opts.Trust.Len() > 0 {
		if err := add("providers/anchors.pem", anchorsPEM(opts.Trust)); err != nil {
			return nil, err
		}
	}
	js, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := add("report.json", js); err != nil {
		return nil, err
	}
	html, err := renderReport(rep)
	if err != nil {
		return nil, err
	}
	if err := add("report.html", html); err != nil {
		return nil, err
	}
	if err := add("VERIFY.txt", verifyScript(rep, manifestSigner, manifestTSA, opts.Trust.Len() > 0)); err != nil {
		return nil, err
	}
	var names []string
	for n := range sums {
		names = append(names, n)
	}
	sort.Strings(names)
	var manifest bytes.Buffer
	for _, n := range names {
		fmt.Fprintf(&manifest, "%s  %s\n", sums[n], n)
	}
	p7s, tsr, err := a.signManifest(ctx, k, manifest.Bytes())
	if err != nil {
		return nil, err
	}
	for _, f := range []struct {
		name string
		data []byte
	}{{"SHA256SUMS", manifest.Bytes()}, {"SHA256SUMS.p7s", p7s}, {"SHA256SUMS.p7s.tsr", tsr}} {
		if err := add(f.name, f.data); err != nil {
			return nil, err
		}
	}
	return rep, zw.Close()
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
func (a *Archive) manifestTSARoot(k *sealKit, roots *packRoots) (string, error) {
	if d, ok := k.tsa.(*timestamp.Dev); ok {
		if f := roots.add("tsa", chainRoot(d.Cert, d.Chain, k.roots.TSA)); f != "" {
			return f, nil
		}
	}
	for _, r := range roots.list {
		if r.Role == "tsa" {
			return r.File, nil
		}
	}
	if len(k.roots.TSA) == 0 {
		return "", fmt.Errorf("no TSA roots")
	}
	return roots.add("tsa", k.roots.TSA[0]), nil
}

// packRoots collects the roots shipped in a pack, one file each.
type packRoots struct {
	list []PackRoot
	pem  map[string][]byte
}

func newPackRoots() *packRoots { return &packRoots{pem: map[string][]byte{}} }

// add ships a root (once) and returns its file name; "" for nil.
func (p *packRoots) add(role string, c *x509.Certificate) string {
	if c == nil {
		return ""
	}
	fp := Fingerprint(c)
	name := "roots/" + role + "-" + fp[:16] + ".pem"
	if _, ok := p.pem[name]; !ok {
		p.pem[name] = pemChain([]*x509.Certificate{c})
		p.list = append(p.list, PackRoot{Role: role, File: name, Subject: c.Subject.String(), SHA256: fp})
	}
	return name
}

func (a *Archive) exportPackage(ctx context.Context, id string, recs []*Record, add func(string, []byte) error, roots *packRoots) (ExportPackage, error) {
	prefix := "packages/" + id + "/"
	ep := ExportPackage{ID: id}
	files := map[string][]byte{}
	for _, name := range []string{"index.xml", "index.xml.p7s", "index.xml.p7s.tsr", "signer-chain.pem", "tsa-chain.pem"} {
		data, err := a.readAll(ctx, prefix+name)
		if err != nil {
			// Named by the checks below; the pack is still made, and says so.
			continue
		}
		files[name] = data
		if err := add(prefix+name, data); err != nil {
			return ep, err
		}
	}
	var err error
	if ep.Validation, err = a.exportValidation(ctx, prefix, files, add); err != nil {
		return ep, err
	}
	exported := map[string]bool{}
	for _, r := range recs {
		name := "meta/" + r.ID + ".xml"
		data, err := a.readAll(ctx, prefix+name)
		if err != nil {
			ep.Problems = append(ep.Problems, prefix+name+": "+err.Error())
			continue
		}
		files[name] = data
		exported[r.ID] = true
		if err := add(prefix+name, data); err != nil {
			return ep, err
		}
	}
	// Checked on the bytes just put in the pack, the exported messages'
	// metadata only, against the pinned roots.
	listed, probs, check := a.auditPackage(ctx, id, files, exported)
	ep.listed = listed
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
		ep.SignerRoot = roots.add("signer", sig.Chain[len(sig.Chain)-1])
	}
	ep.crlChecks = crlChecks(prefix, files, check)
	if ts := check.ts; ts != nil {
		ep.Timestamp = ts.Time.UTC()
		ep.TSA = ts.TSA.Subject.CommonName
		ep.TSARoot = roots.add("tsa", ts.Chain[len(ts.Chain)-1])
	} else if tok, err := timestamp.Parse(files["index.xml.p7s.tsr"]); err == nil {
		ep.Timestamp = tok.Time.UTC()
	}
	ep.Development = strings.Contains(string(files["index.xml"]), "no legal value")
	return ep, nil
}

// safeName refuses zip entry names that could escape the folder they are
// unzipped into.
func safeName(name string) error {
	if name == "" || path.IsAbs(name) || strings.Contains(name, "\\") || path.Clean(name) != name || strings.HasPrefix(name, "..") || strings.Contains(name, "/../") {
		return fmt.Errorf("unsafe zip entry name %q", name)
	}
	return nil
}
