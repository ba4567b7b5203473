package main

import (
	"crypto/sha256"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/conserva/conserva/internal/testutil"
)

// TestReportInChromium renders report.html in headless Chromium, as a lawyer
// opens it, and checks what it says. CONSERVA_REPORT_SCREENSHOT=FILE also
// saves a screenshot to look at.
func TestReportInChromium(t *testing.T) {
	chromium := testutil.Tool(t, "chromium")
	set := fixtures(t)
	home := filepath.Join(t.TempDir(), "archive")
	cfg := []string{"--archive", home}
	src := t.TempDir()
	files, err := set.Provider.Dossier("Diffida ad adempiere", []string{"consegnato@pec.example"}, []string{"fallito@pec.example"}, []byte("pdf"), set.CA.Cert.NotBefore.AddDate(1, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	for name, raw := range files {
		os.WriteFile(filepath.Join(src, name), raw, 0o644)
	}
	conserva(t, append(cfg, "ingest", "--trust", set.TrustPEM, src)...)
	conserva(t, append(cfg, "seal")...)
	ref := decodeLines(t, conserva(t, append(cfg, "search", "--json", "--kind", "accettazione")...).stdout)[0]["ref_message_id"].(string)
	zipFile := filepath.Join(t.TempDir(), "pack.zip")
	if r := conserva(t, append(cfg, "export", "--trust", set.TrustPEM, "--out", zipFile, ref)...); r.code != 0 {
		t.Fatalf("export: %d %s", r.code, r.stderr)
	}
	dir := t.TempDir()
	unzip(t, zipFile, dir)
	pdfSHA := fmt.Sprintf("%x", sha256.Sum256([]byte("pdf")))
	devCA, _ := os.ReadFile(filepath.Join(home, "keys", "dev-ca.pem"))
	blk, _ := pem.Decode(devCA)
	rootSHA := fmt.Sprintf("%x", sha256.Sum256(blk.Bytes))
	page := "file://" + filepath.Join(dir, "report.html")
	flags := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--user-data-dir=" + t.TempDir()}
	out, err := exec.Command(chromium, append(flags, "--dump-dom", page)...).Output()
	if err != nil {
		t.Fatalf("chromium: %v", err)
	}
	dom := string(out)
	// The one message whose provider signature is not valid must not sit
	// under a green headline.
	if strings.Contains(dom, "NON tutte valide") {
		t.Error("the report says not all provider signatures are valid, but all are")
	}
	for _, want := range []string{
		"Fascicolo probatorio PEC", "consegnato@pec.example", "consegnato / delivered", "fallito@pec.example", "mancata consegna / failed",
		"Ricevuta di accettazione / acceptance receipt", "Ricevuta di avvenuta consegna / delivery receipt", "valida / valid",
		"integro: ogni impronta corrisponde", "senza valore legale", "VERIFY.txt",
		"Diffida ad adempiere", "ufficio.protocollo@", "documento.pdf", pdfSHA, "Conservatore, TSA e radici", rootSHA,
		"Acquisito / Ingested", src,
	} {
		if !strings.Contains(dom, want) {
			t.Errorf("the rendered report lacks %q", want)
		}
	}
	if shot := os.Getenv("CONSERVA_REPORT_SCREENSHOT"); shot != "" {
		abs, _ := filepath.Abs(shot)
		if out, err := exec.Command(chromium, append(flags, "--screenshot="+abs, "--window-size=1200,1400", page)...).CombinedOutput(); err != nil {
			t.Fatalf("screenshot: %v %s", err, out)
		}
	}
}
