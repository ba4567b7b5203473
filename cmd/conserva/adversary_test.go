package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/conserva/conserva/archive"
	"github.com/conserva/conserva/internal/testpki"
	"github.com/conserva/conserva/internal/testutil"
	"github.com/conserva/conserva/pec"
)

// TestReadmeAuditorCommandsRefuseAForgedPack: the opposing party's expert
// edits report.html, appends a root of their own after the genuine one in
// roots/*.pem (the fingerprint an auditor computes is still the genuine
// one: openssl x509 reads the first certificate, -CAfile trusts all),
// re-signs and re-timestamps SHA256SUMS under that root and ships a
// VERIFY.txt that only prints success. The README's auditor commands,
// run as written with the genuine fingerprints, must fail, and before
// running the shipped script.
func TestReadmeAuditorCommandsRefuseAForgedPack(t *testing.T) {
	testutil.Tool(t, "xmllint")
	_, cfg, ref, root := sealedDossier(t)
	dir, r := exportPack(t, cfg, ref)
	if r.code != 0 {
		t.Fatalf("export: %s %s", r.stdout, r.stderr)
	}
	fg := newForger(t)
	roots, _ := filepath.Glob(filepath.Join(dir, "roots", "*.pem"))
	for _, p := range roots {
		f, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		f.Write(testpki.PEM(fg.root.Cert))
		f.Close()
	}
	marker := filepath.Join(t.TempDir(), "RAN")
	os.WriteFile(filepath.Join(dir, "VERIFY.txt"), []byte("touch "+marker+"\necho 'ALL CHECKS PASSED, with the roots you gave'\n"), 0o644)
	html, _ := os.ReadFile(filepath.Join(dir, "report.html"))
	os.WriteFile(filepath.Join(dir, "report.html"), []byte(strings.Replace(string(html), "valida / valid", "NON valida / invalid", 1)), 0o644)
	p7s, tsr := fg.seal(t, resum(t, dir))
	os.WriteFile(filepath.Join(dir, "SHA256SUMS.p7s"), p7s, 0o644)
	os.WriteFile(filepath.Join(dir, "SHA256SUMS.p7s.tsr"), tsr, 0o644)

	xsd := testutil.Shared(t, "schemas", "sincro", "SInCRO-2020-PIndex.xsd")
	cmd := exec.Command("sh", "-e", "-c", readmeBlock(t, "pack"))
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "SIGNER_ROOT_SHA256="+root, "TSA_ROOT_SHA256="+root, "SINCRO_XSD="+xsd)
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("the README's auditor commands pass a pack re-signed under a root appended to roots/:\n%s", out)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Errorf("the README's auditor commands ran the pack's VERIFY.txt before checking it:\n%s", out)
	}
}

// TestFileNamedWithALineBreakIsNamed: a file added to a pack under a name
// holding a line break and then a genuine line of SHA256SUMS, which grep
// -F in VERIFY.txt read as a second pattern matching that line: the file
// passed as "in the signed manifest".
func TestFileNamedWithALineBreakIsNamed(t *testing.T) {
	_, cfg, ref, root := sealedDossier(t)
	dir, r := exportPack(t, cfg, ref)
	if r.code != 0 {
		t.Fatalf("export: %s %s", r.stdout, r.stderr)
	}
	sums, _ := os.ReadFile(filepath.Join(dir, "SHA256SUMS"))
	var line string
	for _, l := range strings.Split(string(sums), "\n") {
		if strings.HasSuffix(l, "  report.json") {
			line = l
		}
	}
	if line == "" {
		t.Fatalf("no report.json in SHA256SUMS:\n%s", sums)
	}
	// A file, then a folder (whose files' paths hold the line break).
	for _, c := range []struct{ added, file string }{
		{"ricevuta-consegna.eml\n" + line, ""},
		{"packages/x\n" + line, "a.eml"},
	} {
		p := filepath.Join(dir, filepath.FromSlash(c.added))
		if c.file != "" {
			os.MkdirAll(p, 0o755)
			p = filepath.Join(p, c.file)
		}
		if err := os.WriteFile(p, []byte("a forged receipt"), 0o644); err != nil {
			t.Fatal(err)
		}
		out, code := verifyPack(t, dir, pins(root)...)
		if code == 0 || !strings.Contains(out, "a line break in a name") {
			t.Fatalf("%q added: VERIFY.txt exit %d\n%s", c.added, code, out)
		}
		os.RemoveAll(filepath.Join(dir, filepath.FromSlash(c.added)))
	}
	if out, code := verifyPack(t, dir, pins(root)...); code != 0 {
		t.Fatalf("the pack with the added files removed: exit %d\n%s", code, out)
	}
}

// openAtReceipt opens the archive of sealedDossier and finds its avvenuta
// consegna: the receipt the catalog attacks below change.
func openAtReceipt(t *testing.T, home string) (*archive.Archive, string) {
	t.Helper()
	a, err := archive.Open(home, nil)
	if err != nil {
		t.Fatal(err)
	}
	var id string
	a.Catalog.Scan(func(r *archive.Record) error {
		if r.Kind == pec.KindAvvenutaConsegna {
			id = r.ID
		}
		return nil
	})
	if id == "" {
		a.Close()
		t.Fatal("no avvenuta consegna in the dossier")
	}
	return a, id
}

// exportAfterAttack closes the archive the attack (whose error is err)
// edited, exports the dossier ref and expects a pack NOT INTACT, exit 1;
// it returns the unzipped pack.
func exportAfterAttack(t *testing.T, a *archive.Archive, err error, cfg []string, ref, attack string) string {
	t.Helper()
	a.Close()
	if err != nil {
		t.Fatal(err)
	}
	dir, r := exportPack(t, cfg, ref)
	if r.code != 1 || !strings.Contains(r.stdout, "NOT INTACT") {
		t.Fatalf("export after %s: %d %s %s", attack, r.code, r.stdout, r.stderr)
	}
	return dir
}

// TestExportNamesACatalogThatLies: whoever can write catalog.db turns the
// avvenuta consegna of a dossier into an errore di consegna for another
// recipient. The stored bytes and every signature are untouched, yet the
// pack's report (signed by the conservator) would tell the court the
// message failed to reach a recipient it never named: export must not
// call such a pack intact, and must say which field the catalog changed.
func TestExportNamesACatalogThatLies(t *testing.T) {
	_, cfg, ref, _ := sealedDossier(t)
	a, id := openAtReceipt(t, cfg[1])
	err := a.Catalog.Update(func(get func(string) (*archive.Record, error), put func(*archive.Record) error) error {
		r, err := get(id)
		if err != nil || r == nil {
			return fmt.Errorf("record %s: %v", id, err)
		}
		r.Kind, r.Consegna = pec.KindErroreConsegna, "c@pec.example"
		return put(r)
	})
	dir := exportAfterAttack(t, a, err, cfg, ref, "a catalog that lies about a receipt")
	report, _ := os.ReadFile(filepath.Join(dir, "report.json"))
	for _, want := range []string{`"pack_intact": false`, "the catalog says kind", "the catalog says consegna"} {
		if !strings.Contains(string(report), want) {
			t.Errorf("report.json lacks %q:\n%s", want, report)
		}
	}
}

// TestDeletedRenewalIsNamed: on a local store, whoever can write the
// store deletes a package's newest evidence records (records.2.tar, made
// by renew): the version before is still there and valid today, so the
// records were simply read one version back and audit found nothing. The
// renewal is evidence: audit must name it missing, before and after a
// catalog rebuild.
func TestDeletedRenewalIsNamed(t *testing.T) {
	_, cfg, _, _ := sealedDossier(t)
	if r := conserva(t, append(cfg, "renew", "--force")...); r.code != 0 {
		t.Fatalf("renew: %d %s %s", r.code, r.stdout, r.stderr)
	}
	renewed, _ := filepath.Glob(filepath.Join(cfg[1], "store", "packages", "*", "ers", "records.2.tar"))
	if len(renewed) != 1 {
		t.Fatalf("renewed records: %v", renewed)
	}
	os.Chmod(filepath.Dir(renewed[0]), 0o755)
	if err := os.Remove(renewed[0]); err != nil {
		t.Fatal(err)
	}
	key := "packages/" + filepath.Base(filepath.Dir(filepath.Dir(renewed[0]))) + "/ers/records.2.tar"
	r := conserva(t, append(cfg, "audit")...)
	if r.code != 1 || !strings.Contains(r.stdout, key) {
		t.Fatalf("audit with the renewed records deleted: %d\n%s", r.code, r.stdout)
	}
	if r := conserva(t, append(cfg, "catalog", "rebuild")...); r.code == 2 {
		t.Fatalf("rebuild: %s", r.stderr)
	}
	r = conserva(t, append(cfg, "audit")...)
	if r.code != 1 || !strings.Contains(r.stdout, key) {
		t.Fatalf("audit after a rebuild, the renewed records deleted: %d\n%s", r.code, r.stdout)
	}
}

// TestTerminalEscapesFromAMessageAreShown: anyone can send a PEC, and its
// subject is printed by search and show. A subject holding a carriage
// return and terminal control sequences (erase the line, move the cursor
// up) let the sender rewrite what the operator sees, e.g. the verdict
// column of search --flagged. Every control character from a message
// reaches the terminal as a visible \u escape; --json is unchanged in
// meaning.
func TestTerminalEscapesFromAMessageAreShown(t *testing.T) {
	home := filepath.Join(t.TempDir(), "archive")
	cfg := []string{"--archive", home}
	src := t.TempDir()
	os.WriteFile(filepath.Join(src, "e.eml"), []byte("From: =?UTF-8?Q?a=1B]0;x=07?= <a@b.example>\r\nTo: c@d.example\r\n"+
		"Subject: =?UTF-8?Q?Fattura=0D=1B[2K=1B[1A=C2=9B2K=E2=80=AEdilav?=\r\nMessage-ID: <esc1@x.example>\r\n"+
		"Date: Mon, 30 Nov 2026 10:00:00 +0000\r\n\r\nbody\r\n"), 0o644)
	if r := conserva(t, append(cfg, "ingest", src)...); r.code != 0 {
		t.Fatalf("ingest: %d %s %s", r.code, r.stdout, r.stderr)
	}
	for _, args := range [][]string{{"search"}, {"search", "--flagged"}, {"show", "<esc1@x.example>"}} {
		r := conserva(t, append(cfg, args...)...)
		if strings.ContainsAny(r.stdout, "\x1b\r\x07\u009b\u202e") {
			t.Errorf("%v prints control characters from the message: %q", args, r.stdout)
		}
		if !strings.Contains(r.stdout, `Fattura\u000d\u001b[2K\u001b[1A\u009b2K\u202edilav`) {
			t.Errorf("%v does not show the subject's control characters: %q", args, r.stdout)
		}
	}
	rows := decodeLines(t, conserva(t, append(cfg, "search", "--json")...).stdout)
	if len(rows) != 1 || rows[0]["subject"] != "Fattura\r\x1b[2K\x1b[1A\u009b2K\u202edilav" {
		t.Errorf("search --json: %v", rows)
	}
}

// TestTermWriterAcrossWrites: a control character split across two writes
// is still caught, and a sequence cut off at the end is shown escaped.
func TestTermWriterAcrossWrites(t *testing.T) {
	var b strings.Builder
	tw := &termWriter{w: &b}
	s := "é\u009b[2Kx\u202e"
	for i := range len(s) {
		tw.Write([]byte{s[i]})
	}
	tw.Write([]byte("\xe2\x80"))
	tw.Flush()
	if got, want := b.String(), `é\u009b[2Kx\u202e\xe2\x80`; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

// TestReportExportNamesItsRoots: an exported rapporto di versamento ships
// its roots beside it, and its VERIFY.txt said the document was "checked
// with the roots pinned when it was signed": a forger who re-signs the
// rapporto and replaces signer-roots.pem and tsa-roots.pem with a root of
// their own passes every step it gave. The export prints the roots'
// fingerprints for the owner to publish, and VERIFY.txt starts by
// comparing them, which the forged folder fails.
func TestReportExportNamesItsRoots(t *testing.T) {
	_, cfg, _, root := sealedDossier(t)
	var list struct {
		Reports []struct{ Run string } `json:"reports"`
	}
	if err := json.Unmarshal([]byte(conserva(t, append(cfg, "reports", "list", "--json")...).stdout), &list); err != nil || len(list.Reports) == 0 {
		t.Fatalf("reports list: %v %+v", err, list)
	}
	out := filepath.Join(t.TempDir(), "rapporto")
	r := conserva(t, append(cfg, "reports", "export", list.Reports[0].Run, "--out", out)...)
	if r.code != 0 || strings.Count(r.stdout, "SHA-256 "+root) != 2 {
		t.Fatalf("reports export does not print its roots' fingerprints (%s): %d\n%s%s", root, r.code, r.stdout, r.stderr)
	}
	verify, _ := os.ReadFile(filepath.Join(out, "VERIFY.txt"))
	if !strings.Contains(string(verify), "0. These roots travel with the document") {
		t.Fatalf("VERIFY.txt does not start by comparing the roots:\n%s", verify)
	}
	// The forgery: steps 1 and 2 pass, the fingerprint of step 0 is not
	// the published one.
	fg := newForger(t)
	doc, _ := os.ReadFile(filepath.Join(out, "rapporto.xml"))
	doc = []byte(strings.Replace(string(doc), "<", "<!-- forged -->\n<", 1))
	p7s, tsr := fg.seal(t, doc)
	for name, data := range map[string][]byte{"rapporto.xml": doc, "rapporto.xml.p7s": p7s, "rapporto.xml.p7s.tsr": tsr,
		"signer-roots.pem": testpki.PEM(fg.root.Cert), "tsa-roots.pem": testpki.PEM(fg.root.Cert)} {
		os.WriteFile(filepath.Join(out, name), data, 0o644)
	}
	sh := func(script string) (string, error) {
		cmd := exec.Command("sh", "-e", "-c", script)
		cmd.Dir = out
		b, err := cmd.CombinedOutput()
		return string(b), err
	}
	if got, err := sh("openssl cms -verify -binary -inform DER -in rapporto.xml.p7s -content rapporto.xml -CAfile signer-roots.pem -purpose any -out /dev/null && openssl ts -verify -data rapporto.xml.p7s -in rapporto.xml.p7s.tsr -CAfile tsa-roots.pem"); err != nil {
		t.Fatalf("the forged folder was expected to pass steps 1 and 2 (else this test shows nothing): %v\n%s", err, got)
	}
	got, err := sh("openssl x509 -in signer-roots.pem -outform DER | sha256sum")
	if err != nil || strings.Contains(got, root) {
		t.Fatalf("step 0 on the forged folder: %v %s", err, got)
	}
}

// TestExportNamesARemovedRecord: whoever can write catalog.db removes the
// avvenuta consegna of a dossier from it. The message is still in the
// store and in its package's signed index, yet the pack left it out and
// told the court the recipient had only "accepted", calling itself
// intact. A package in the pack whose signed index lists a message the
// catalog lacks makes the pack NOT INTACT, naming the message.
func TestExportNamesARemovedRecord(t *testing.T) {
	_, cfg, ref, _ := sealedDossier(t)
	a, id := openAtReceipt(t, cfg[1])
	dir := exportAfterAttack(t, a, a.Catalog.Remove(id), cfg, ref, "a receipt removed from the catalog")
	report, _ := os.ReadFile(filepath.Join(dir, "report.json"))
	if !strings.Contains(string(report), id) || !strings.Contains(string(report), "not in the catalog") {
		t.Errorf("report.json does not name the removed receipt %s:\n%s", id, report)
	}
}
