package main

import (
	"archive/zip"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/conserva/conserva/internal/testutil"
)

func unzip(t *testing.T, file, dir string) []string {
	t.Helper()
	zr, err := zip.OpenReader(file)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	var names []string
	for _, f := range zr.File {
		if strings.Contains(f.Name, "..") || filepath.IsAbs(f.Name) {
			t.Fatalf("unsafe entry %q", f.Name)
		}
		names = append(names, f.Name)
		p := filepath.Join(dir, filepath.FromSlash(f.Name))
		os.MkdirAll(filepath.Dir(p), 0o755)
		rc, _ := f.Open()
		data, _ := io.ReadAll(rc)
		rc.Close()
		os.WriteFile(p, data, 0o644)
	}
	return names
}

// TestExportVerifiedWithOpenSSLAlone: the VERIFY.txt of an evidence pack
// passes in a shell with sha256sum and openssl; one flipped byte fails it;
// the pack holds the dossier and nothing of another.
func TestExportVerifiedWithOpenSSLAlone(t *testing.T) {
	testutil.Tool(t, "openssl")
	testutil.Tool(t, "sha256sum")
	set := fixtures(t)
	home := filepath.Join(t.TempDir(), "archive")
	cfg := []string{"--archive", home}
	src := t.TempDir()
	mine, err := set.Provider.Dossier("Atto di precetto", []string{"a@pec.example", "b@pec.example"}, []string{"c@pec.example"}, []byte("pdf"), set.CA.Cert.NotBefore.AddDate(1, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	other, _ := set.Provider.Dossier("Altro fascicolo", []string{"x@pec.example"}, nil, nil, set.CA.Cert.NotBefore.AddDate(1, 0, 1))
	for name, raw := range mine {
		os.WriteFile(filepath.Join(src, "mine-"+name), raw, 0o644)
	}
	for name, raw := range other {
		os.WriteFile(filepath.Join(src, "other-"+name), raw, 0o644)
	}
	conserva(t, append(cfg, "ingest", "--trust", set.TrustPEM, src)...)
	if r := conserva(t, append(cfg, "seal")...); r.code != 0 {
		t.Fatal(r.stderr)
	}
	ref := ""
	for _, row := range decodeLines(t, conserva(t, append(cfg, "search", "--json", "--subject", "precetto", "--kind", "accettazione")...).stdout) {
		ref = row["ref_message_id"].(string)
	}
	zipFile := filepath.Join(t.TempDir(), "fascicolo.zip")
	r := conserva(t, append(cfg, "export", "--trust", set.TrustPEM, "--out", zipFile, ref)...)
	if r.code != 0 || !strings.Contains(r.stdout, "the pack: intact") {
		t.Fatalf("export: %d %s %s", r.code, r.stdout, r.stderr)
	}
	dir := t.TempDir()
	names := unzip(t, zipFile, dir)
	msgs := 0
	for _, n := range names {
		if strings.HasPrefix(n, "messages/") {
			msgs++
		}
	}
	if msgs != len(mine) {
		t.Fatalf("%d messages in the pack, the dossier has %d: %v", msgs, len(mine), names)
	}
	otherIDs := decodeLines(t, conserva(t, append(cfg, "search", "--json", "--subject", "Altro fascicolo")...).stdout)
	all := strings.Join(names, "\n")
	for _, row := range otherIDs {
		if strings.Contains(all, row["id"].(string)) {
			t.Fatalf("a message of another dossier is in the pack: %s", row["id"])
		}
	}
	for _, want := range []string{"report.html", "report.json", "VERIFY.txt", "SHA256SUMS", "index.xml.p7s.tsr", "signer-chain.pem", "tsa-chain.pem"} {
		if !strings.Contains(all, want) {
			t.Fatalf("%s missing from the pack: %v", want, names)
		}
	}
	metas := 0
	for _, n := range names {
		if strings.Contains(n, "/meta/") {
			metas++
		}
	}
	if metas != len(mine) {
		t.Fatalf("%d metadata files, want only the dossier's %d", metas, len(mine))
	}
	run := func() (string, error) {
		cmd := exec.Command("sh", "VERIFY.txt")
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := run()
	if err != nil || !strings.Contains(out, "ALL CHECKS PASSED") || !strings.Contains(out, "ok: SHA256SUMS is signed by subject=") || !strings.Contains(out, "index.xml.p7s is timestamped under roots/tsa-") || strings.Contains(out, "FAILED") {
		t.Fatalf("VERIFY.txt on the intact pack: %v\n%s", err, out)
	}
	// One flipped byte in a message: the checks fail.
	msg := filepath.Join(dir, filepath.FromSlash(names[indexOf(names, "messages/")]))
	data, _ := os.ReadFile(msg)
	data[len(data)/3] ^= 0x20
	os.WriteFile(msg, data, 0o644)
	if out, err := run(); err == nil || strings.Contains(out, "ALL CHECKS PASSED") {
		t.Fatalf("VERIFY.txt passed with a flipped byte:\n%s", out)
	}
	data[len(data)/3] ^= 0x20
	os.WriteFile(msg, data, 0o644)
	// One flipped byte in the index, with SHA256SUMS regenerated to match: the signature check fails.
	idx := filepath.Join(dir, filepath.FromSlash(names[indexOf(names, "index.xml")]))
	b, _ := os.ReadFile(idx)
	b[len(b)/2] ^= 0x01
	os.WriteFile(idx, b, 0o644)
	fix := exec.Command("sh", "-c", "grep -v index.xml$ SHA256SUMS > S && sha256sum "+strings.TrimPrefix(idx, dir+"/")+" >> S && mv S SHA256SUMS")
	fix.Dir = dir
	if out, err := fix.CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	if out, err := run(); err == nil || strings.Contains(out, "ALL CHECKS PASSED") {
		t.Fatalf("VERIFY.txt passed with an altered index:\n%s", out)
	}
}

func indexOf(names []string, sub string) int {
	for i, n := range names {
		if strings.Contains(n, sub) && (sub != "index.xml" || strings.HasSuffix(n, "/index.xml")) {
			return i
		}
	}
	return -1
}
