package evidencepack

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/conserva/conserva/internal/devpki"
	"github.com/conserva/conserva/internal/testutil"
	"github.com/conserva/conserva/pec"
	"github.com/conserva/conserva/sip"
	"github.com/conserva/conserva/timestamp"
)

// TestSafeNameRefusesEscapes: a name that would land outside the folder
// the pack is unzipped into is refused, and nothing is written for it.
func TestSafeNameRefusesEscapes(t *testing.T) {
	for _, bad := range []string{"", "..", "../x", "a/../../x", "a/../x", "/etc/passwd", `a\..\x`, "a//b", "./a", "a/", "messages/../../x.eml"} {
		if safeName(bad) == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	for _, good := range []string{"report.json", "messages/" + strings.Repeat("a", 64) + ".eml", "packages/p/validation/crls/x.crl", "a..b"} {
		if err := safeName(good); err != nil {
			t.Errorf("%q refused: %v", good, err)
		}
	}
	var buf bytes.Buffer
	w := NewWriter(&buf, time.Now())
	if err := w.AddBytes("../evil", []byte("x")); err == nil {
		t.Fatal("Add took ../evil")
	}
	if w.Sum("../evil") != "" || len(w.manifest()) != 0 {
		t.Fatalf("a refused name is in the manifest: %q", w.manifest())
	}
}

// TestReportRendersModel: report.html says what the model says, intact or
// not, with the model's text escaped.
func TestReportRendersModel(t *testing.T) {
	at := time.Date(2026, 3, 1, 9, 30, 0, 0, time.UTC)
	rep := &Report{ExportedAt: at, PackIntact: false, Verdicts: map[pec.Verdict]int{pec.Valid: 1, pec.Invalid: 1},
		Dossier: &Dossier{MessageID: "abc@pec.example", Recipients: []Recipient{{"b@pec.example", "delivered"}, {"c@pec.example", "failed"}}, Warnings: []string{"a warning"}},
		Messages: []Message{
			{ID: strings.Repeat("1", 64), Kind: pec.KindAccettazione, Subject: "<script>alert(1)</script>", From: "a@pec.example", Signature: pec.Valid, HashOK: true, Package: "P1", InIndex: true, IngestedAt: at},
			{ID: strings.Repeat("2", 64), Kind: pec.KindAvvenutaConsegna, Signature: pec.Invalid, Reason: "the content does not match", IngestedAt: at},
		},
		Packages:    []Package{{ID: "P1", SignatureOK: true, TimestampOK: false, Development: true, Problems: []string{"packages/P1/index.xml.p7s.tsr: bad"}}},
		Conservator: "Conservatore S.p.A.", TSA: "TSA X", Roots: []Root{{Role: "signer", File: "roots/signer-0011.pem", SHA256: "0011"}},
	}
	html, err := renderReport(rep)
	if err != nil {
		t.Fatal(err)
	}
	s := string(html)
	for _, want := range []string{
		"&lt;abc@pec.example&gt;", "01/03/2026 10:30:00 CET", // Rome time
		"PROBLEMI RILEVATI / PROBLEMS FOUND", "NON tutte valide",
		"Ricevuta di accettazione / acceptance receipt", // the original: the acceptance receipt
		"&lt;script&gt;alert(1)&lt;/script&gt;",
		"consegnato / delivered", "mancata consegna / failed", "a warning",
		"non ancora sigillato / not sealed yet", "IMPRONTA ERRATA / HASH MISMATCH",
		"chiavi di SVILUPPO", "packages/P1/index.xml.p7s.tsr: bad", "Conservatore S.p.A.", "roots/signer-0011.pem",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("report.html lacks %q", want)
		}
	}
	if strings.Contains(s, "<script>") {
		t.Error("report.html holds the subject unescaped")
	}
	rep.PackIntact, rep.ProvidersValid, rep.Verdicts = true, true, map[pec.Verdict]int{pec.Valid: 2}
	rep.Messages[1].HashOK, rep.Messages[1].Package, rep.Messages[1].InIndex = true, "P1", true
	html, _ = renderReport(rep)
	if s := string(html); !strings.Contains(s, `class="ok"><b>Integrità del fascicolo / Pack integrity:</b>`) || strings.Contains(s, "PROBLEMS FOUND") || strings.Contains(s, "HASH MISMATCH") {
		t.Errorf("report.html of an intact pack:\n%s", s)
	}
}

// packOf writes a pack of one unsealed message, its manifest signed and
// timestamped by the development keys, and unzips it into a folder; it
// returns the folder, the fingerprint of the root and the report.
func packOf(t *testing.T, msg []byte) (string, string, *Report, []byte) {
	t.Helper()
	keys, err := devpki.LoadOrCreate(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	signer := &sip.Signer{Cert: keys.Signer.Cert, Key: keys.Signer.Key, Chain: keys.Signer.Chain}
	tsa := &timestamp.Dev{Cert: keys.TSA.Cert, Key: keys.TSA.Key, Chain: keys.TSA.Chain}
	sum := sha256.Sum256(msg)
	id := hex.EncodeToString(sum[:])
	rep := &Report{ExportedAt: time.Now().UTC().Truncate(time.Second), PackIntact: true, Verdicts: map[pec.Verdict]int{pec.Absent: 1},
		Dossier:  &Dossier{MessageID: "m@example", Record: json.RawMessage(`{"message_id":"m@example","kept":"as given"}`)},
		Messages: []Message{{ID: id, File: MessageFile(id), Kind: pec.KindNotPEC, Signature: pec.Absent, HashOK: true}},
		Unsealed: []string{id}}
	var zipped bytes.Buffer
	w := NewWriter(&zipped, rep.ExportedAt)
	if err := w.Add(MessageFile(id), bytes.NewReader(msg)); err != nil {
		t.Fatal(err)
	}
	roots := NewRoots()
	signerRoot, tsaRoot := roots.Add("signer", keys.CA), roots.Add("tsa", keys.CA)
	var signed []byte
	err = w.Finish(rep, roots, Seal{SignerRoot: signerRoot, TSARoot: tsaRoot, Sign: func(m []byte) ([]byte, []byte, error) {
		signed = m
		p7s, _, err := signer.SignT(context.Background(), m, tsa)
		if err != nil {
			return nil, nil, err
		}
		tok, err := tsa.Timestamp(context.Background(), p7s)
		return p7s, tok.Response, err
	}})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	zr, err := zip.NewReader(bytes.NewReader(zipped.Bytes()), int64(zipped.Len()))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, filepath.FromSlash(f.Name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir, rep.Roots[0].SHA256, rep, signed
}

// TestFinishWritesSignedManifest: the manifest signed is SHA256SUMS as
// shipped, it lists every file but its signature and timestamp with its
// hash, sorted, and report.json holds the dossier's record as given.
func TestFinishWritesSignedManifest(t *testing.T) {
	dir, _, rep, signed := packOf(t, []byte("From: a@example\r\n\r\nhello\r\n"))
	if got, _ := os.ReadFile(filepath.Join(dir, manifest)); !bytes.Equal(got, signed) {
		t.Fatalf("SHA256SUMS shipped is not what was signed:\n%s\n%s", got, signed)
	}
	var names []string
	for _, line := range strings.Split(strings.TrimSuffix(string(signed), "\n"), "\n") {
		sum, name, ok := strings.Cut(line, "  ")
		data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(name)))
		h := sha256.Sum256(data)
		if !ok || err != nil || hex.EncodeToString(h[:]) != sum {
			t.Fatalf("manifest line %q: %v", line, err)
		}
		names = append(names, name)
	}
	want := slices.Sorted(slices.Values([]string{MessageFile(rep.Messages[0].ID), verifyFile, reportHTML, reportJSON, rep.Roots[0].File, rep.Roots[1].File}))
	if !slices.Equal(names, want) {
		t.Fatalf("manifest lists %v, want %v", names, want)
	}
	js, _ := os.ReadFile(filepath.Join(dir, reportJSON))
	if !bytes.Contains(js, []byte(`"dossier": {`+"\n"+`    "message_id": "m@example",`+"\n"+`    "kept": "as given"`)) || bytes.Contains(js, []byte("ERSRoot")) || bytes.Contains(js, []byte("CRLChecks")) {
		t.Fatalf("report.json:\n%s", js)
	}
}

// TestVerifyScriptFailsOnOneByte: VERIFY.txt passes on the pack as written
// (with the root's fingerprint given) and fails when one byte of any file
// changes, or when another root's fingerprint is given.
func TestVerifyScriptFailsOnOneByte(t *testing.T) {
	testutil.Tool(t, "openssl")
	testutil.Tool(t, "sha256sum")
	dir, fp, rep, _ := packOf(t, []byte("From: a@example\r\n\r\nhello\r\n"))
	run := func(pin string) (string, error) {
		cmd := exec.Command("sh", verifyFile)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "SIGNER_ROOT_SHA256="+pin, "TSA_ROOT_SHA256="+pin)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := run(fp); err != nil || !strings.Contains(out, "ALL CHECKS PASSED, with the roots you gave") || strings.Contains(out, "FAILED") {
		t.Fatalf("VERIFY.txt on the pack as written: %v\n%s", err, out)
	}
	if out, err := run(strings.Repeat("ab", 32)); err == nil || !strings.Contains(out, "is NOT a signer root whose fingerprint you gave") {
		t.Fatalf("VERIFY.txt with another root's fingerprint: %v\n%s", err, out)
	}
	for _, name := range []string{reportHTML, rep.Messages[0].File, manifest} {
		p := filepath.Join(dir, filepath.FromSlash(name))
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		changed := append([]byte(nil), data...)
		changed[len(changed)/2] ^= 0x01
		os.WriteFile(p, changed, 0o644)
		if out, err := run(fp); err == nil || !strings.Contains(out, "FAILED") || strings.Contains(out, "ALL CHECKS PASSED") {
			t.Fatalf("VERIFY.txt passed with one byte of %s changed: %v\n%s", name, err, out)
		}
		os.WriteFile(p, data, 0o644)
	}
}
