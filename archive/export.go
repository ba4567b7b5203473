package archive

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/conserva/conserva/pec"
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
	AllOK      bool            `json:"all_ok"`
	Notes      []string        `json:"notes,omitempty"`
}

// ExportMessage is one message as verified at export time.
type ExportMessage struct {
	ID          string      `json:"id"`
	File        string      `json:"file"`
	Kind        pec.Kind    `json:"kind"`
	ReceiptType string      `json:"receipt_type"`
	Recipient   string      `json:"recipient,omitempty"`
	Date        *time.Time  `json:"date"`
	Subject     string      `json:"subject"`
	Signature   pec.Verdict `json:"signature"`
	Reason      string      `json:"reason"`
	Signer      string      `json:"signer"`
	SignedAt    *time.Time  `json:"signed_at"`
	HashOK      bool        `json:"hash_ok"`
	Package     string      `json:"package"`
	InIndex     bool        `json:"listed_in_signed_index"`
}

// ExportPackage is one package as verified at export time.
type ExportPackage struct {
	ID          string    `json:"id"`
	Timestamp   time.Time `json:"timestamp"`
	SignatureOK bool      `json:"signature_ok"`
	TimestampOK bool      `json:"timestamp_ok"`
	Signer      string    `json:"signer"`
	TSA         string    `json:"tsa"`
	Problems    []string  `json:"problems,omitempty"`
	Development bool      `json:"development_keys"`
	listed      map[string]bool
}

// Export writes the evidence pack of one dossier as a zip: its messages
// byte for byte, the packages that hold them (index, signature, timestamp,
// chains, and the metadata of these messages only), report.html,
// report.json and VERIFY.txt. Nothing of another dossier goes in.
func (a *Archive) Export(ctx context.Context, ref string, w io.Writer, trust *pec.TrustStore) (*ExportReport, error) {
	d, err := a.FindDossier(ref)
	if err != nil {
		return nil, err
	}
	rep := &ExportReport{ExportedAt: time.Now().UTC(), Dossier: d, AllOK: true}
	zw := zip.NewWriter(w)
	sums := map[string]string{}
	addFrom := func(name string, src io.Reader) error {
		if err := safeName(name); err != nil {
			return err
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
		rc, err := storage.GetVersion(ctx, a.Store, r.Key, r.VersionID)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", r.Key, err)
		}
		name := "messages/" + r.ID + ".eml"
		m, err := exportMessage(rc, r.Size, a.Limits(), func(src io.Reader) error { return addFrom(name, src) })
		rc.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", r.Key, err)
		}
		v := m.Verify(trust)
		recipient := r.Consegna
		if recipient == "" {
			recipient = strings.Join(r.To, ", ")
		}
		em := ExportMessage{ID: r.ID, File: name, Kind: r.Kind, ReceiptType: r.ReceiptType, Recipient: recipient, Date: r.Date,
			Subject: r.Subject, Signature: v.Verdict, Reason: v.Reason, Signer: v.Signer, SignedAt: v.SignedAt,
			HashOK: m.SHA256 == r.ID, Package: r.Package}
		if !em.HashOK {
			rep.AllOK = false
		}
		rep.Messages = append(rep.Messages, em)
		if r.Package != "" {
			pkgIDs[r.Package] = append(pkgIDs[r.Package], r)
		}
	}
	var pkgs []string
	for id := range pkgIDs {
		pkgs = append(pkgs, id)
	}
	sort.Strings(pkgs)
	for _, id := range pkgs {
		ep, err := a.exportPackage(ctx, id, pkgIDs[id], add)
		if err != nil {
			return nil, err
		}
		if !ep.SignatureOK || !ep.TimestampOK || len(ep.Problems) > 0 {
			rep.AllOK = false
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
			rep.AllOK = false
		}
		if m.Package == "" {
			rep.Notes = append(rep.Notes, fmt.Sprintf("%s is not sealed in a package yet: its integrity rests on its SHA-256 only", rep.Messages[i].File))
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
	var names []string
	for n := range sums {
		names = append(names, n)
	}
	sort.Strings(names)
	var sumFile bytes.Buffer
	for _, n := range names {
		fmt.Fprintf(&sumFile, "%s  %s\n", sums[n], n)
	}
	if err := add("SHA256SUMS", sumFile.Bytes()); err != nil {
		return nil, err
	}
	if err := add("VERIFY.txt", verifyScript(rep, pkgIDs)); err != nil {
		return nil, err
	}
	return rep, zw.Close()
}

func (a *Archive) exportPackage(ctx context.Context, id string, recs []*Record, add func(string, []byte) error) (ExportPackage, error) {
	prefix := "packages/" + id + "/"
	ep := ExportPackage{ID: id}
	read := func(name string) ([]byte, error) {
		rc, err := a.readEvidence(ctx, prefix+name)
		if err != nil {
			return nil, err
		}
		defer rc.Close()
		return io.ReadAll(rc)
	}
	files := map[string][]byte{}
	for _, name := range []string{"index.xml", "index.xml.p7s", "index.xml.p7s.tsr", "signer-chain.pem", "tsa-chain.pem"} {
		data, err := read(name)
		if err != nil {
			return ep, fmt.Errorf("package %s: %w", id, err)
		}
		files[name] = data
		if err := add(prefix+name, data); err != nil {
			return ep, err
		}
	}
	exported := map[string]bool{}
	for _, r := range recs {
		name := "meta/" + r.ID + ".xml"
		data, err := read(name)
		if err != nil {
			return ep, fmt.Errorf("package %s: %w", id, err)
		}
		files[name] = data
		exported[r.ID] = true
		if err := add(prefix+name, data); err != nil {
			return ep, err
		}
	}
	// Checked on the bytes just put in the pack, the exported messages'
	// metadata only.
	listed, probs := a.auditPackage(ctx, id, files, exported)
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
	if tok, err := timestamp.Parse(files["index.xml.p7s.tsr"]); err == nil {
		ep.Timestamp = tok.Time.UTC()
		if len(tok.Chain) > 0 {
			ep.TSA = tok.Chain[0].Subject.CommonName
		}
	}
	idx := string(files["index.xml"])
	ep.Development = strings.Contains(idx, "no legal value")
	if i := strings.Index(idx, "<c:Signer>"); i >= 0 {
		if j := strings.Index(idx[i:], "</c:Signer>"); j > 0 {
			ep.Signer = idx[i+len("<c:Signer>") : i+j]
		}
	}
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
