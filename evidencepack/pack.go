package evidencepack

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
	"time"
)

// The pack's own files (docs/PACK.md).
const (
	reportJSON  = "report.json"
	reportHTML  = "report.html"
	verifyFile  = "VERIFY.txt"
	anchorsFile = "providers/anchors.pem"
	manifest    = "SHA256SUMS"
	manifestSig = "SHA256SUMS.p7s"
	manifestTSR = "SHA256SUMS.p7s.tsr"
)

// MessageFile is where a message goes in the pack: named after its id, its
// SHA-256, which VERIFY.txt checks.
func MessageFile(id string) string { return "messages/" + id + ".eml" }

// A package's files go in under their keys in the store,
// packages/<id>/<name>, as the archive keeps them.

// ERSFile is where a message's evidence record goes.
func ERSFile(id string) string { return "ers/" + id + ".ers" }

// Writer writes a pack: a zip whose every file is listed with its SHA-256
// in the manifest, which Finish signs.
type Writer struct {
	zw       *zip.Writer
	modified time.Time
	sums     map[string]string // name: hex SHA-256
}

// NewWriter starts a pack written to w; its files are dated modified (the
// time of the export).
func NewWriter(w io.Writer, modified time.Time) *Writer {
	return &Writer{zw: zip.NewWriter(w), modified: modified, sums: map[string]string{}}
}

// Add copies src into the pack as name, hashing it for the manifest, as a
// stream (a package index of 100,000 messages is 145 MB). A name already
// in the pack is not written again and src is not read.
func (w *Writer) Add(name string, src io.Reader) error {
	if err := safeName(name); err != nil {
		return err
	}
	if _, dup := w.sums[name]; dup {
		return nil
	}
	f, err := w.zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate, Modified: w.modified})
	if err != nil {
		return err
	}
	h := sha256.New()
	if _, err := io.Copy(io.MultiWriter(f, h), src); err != nil {
		return err
	}
	w.sums[name] = hex.EncodeToString(h.Sum(nil))
	return nil
}

// AddBytes is Add of data.
func (w *Writer) AddBytes(name string, data []byte) error { return w.Add(name, bytes.NewReader(data)) }

// Sum is the SHA-256 (hex) of a file in the pack as written, "" when there
// is none by that name.
func (w *Writer) Sum(name string) string { return w.sums[name] }

// Seal is how the manifest is signed.
type Seal struct {
	// SignerRoot and TSARoot are the files under roots/ (Roots.Add) that
	// the manifest's signature and timestamp chain to.
	SignerRoot, TSARoot string
	// Anchors are the providers' trust anchors (PEM), shipped as
	// providers/anchors.pem; none: nil.
	Anchors []byte
	// Sign returns the CAdES-T signature of the manifest and the RFC 3161
	// token over that signature.
	Sign func(manifest []byte) (p7s, tsr []byte, err error)
}

// Finish writes the roots, the providers' anchors, report.json, report.html
// and VERIFY.txt of rep; then the manifest (every file but its signature
// and timestamp), its signature and timestamp; and closes the zip (not the
// underlying writer). It sets rep.Roots.
func (w *Writer) Finish(rep *Report, roots *Roots, s Seal) error {
	for _, r := range roots.list {
		if err := w.AddBytes(r.File, roots.pem[r.File]); err != nil {
			return err
		}
	}
	rep.Roots = roots.list
	if len(s.Anchors) > 0 {
		if err := w.AddBytes(anchorsFile, s.Anchors); err != nil {
			return err
		}
	}
	js, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	if err := w.AddBytes(reportJSON, js); err != nil {
		return err
	}
	html, err := renderReport(rep)
	if err != nil {
		return err
	}
	if err := w.AddBytes(reportHTML, html); err != nil {
		return err
	}
	if err := w.AddBytes(verifyFile, verifyScript(rep, s.SignerRoot, s.TSARoot, len(s.Anchors) > 0)); err != nil {
		return err
	}
	m := w.manifest()
	p7s, tsr, err := s.Sign(m)
	if err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		data []byte
	}{{manifest, m}, {manifestSig, p7s}, {manifestTSR, tsr}} {
		if err := w.AddBytes(f.name, f.data); err != nil {
			return err
		}
	}
	return w.zw.Close()
}

// manifest is SHA256SUMS: a line "<sha256 hex>  <name>" for every file so
// far, sorted by name, as sha256sum -c reads it.
func (w *Writer) manifest() []byte {
	var names []string
	for n := range w.sums {
		names = append(names, n)
	}
	sort.Strings(names)
	var b bytes.Buffer
	for _, n := range names {
		fmt.Fprintf(&b, "%s  %s\n", w.sums[n], n)
	}
	return b.Bytes()
}

// Roots collects the roots shipped in a pack, one file each.
type Roots struct {
	list []Root
	pem  map[string][]byte
}

// NewRoots is an empty collection.
func NewRoots() *Roots { return &Roots{pem: map[string][]byte{}} }

// Add ships a root (once) as roots/<role>-<first 16 hex of its SHA-256>.pem
// and returns that name; "" for nil.
func (p *Roots) Add(role string, c *x509.Certificate) string {
	if c == nil {
		return ""
	}
	sum := sha256.Sum256(c.Raw)
	fp := hex.EncodeToString(sum[:])
	name := "roots/" + role + "-" + fp[:16] + ".pem"
	if _, ok := p.pem[name]; !ok {
		p.pem[name] = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
		p.list = append(p.list, Root{Role: role, File: name, Subject: c.Subject.String(), SHA256: fp})
	}
	return name
}

// List is the roots added so far, in order.
func (p *Roots) List() []Root { return p.list }

// safeName refuses zip entry names that could escape the folder they are
// unzipped into.
func safeName(name string) error {
	if name == "" || path.IsAbs(name) || strings.Contains(name, "\\") || path.Clean(name) != name || strings.HasPrefix(name, "..") || strings.Contains(name, "/../") {
		return fmt.Errorf("unsafe zip entry name %q", name)
	}
	return nil
}
