package main

import (
	"context"
	"crypto"
	"crypto/sha256"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/conserva/conserva/archive"
	"github.com/conserva/conserva/ers"
	"github.com/conserva/conserva/internal/pecgen"
	"github.com/conserva/conserva/internal/testpki"
	"github.com/conserva/conserva/internal/testutil"
	"github.com/conserva/conserva/pec"
	"github.com/conserva/conserva/sip"
	"github.com/conserva/conserva/timestamp"
)

// sealedDossier ingests one dossier (with the providers' CA as trust),
// seals it and returns the archive flags, the dossier's reference and the
// genuine root's SHA-256 (the development CA signs and timestamps).
func sealedDossier(t *testing.T) (set *pecgen.FixtureSet, cfg []string, ref, root string) {
	t.Helper()
	testutil.Tool(t, "openssl")
	testutil.Tool(t, "sha256sum")
	set = fixtures(t)
	home := filepath.Join(t.TempDir(), "archive")
	cfg = []string{"--archive", home}
	src := t.TempDir()
	files, err := set.Provider.Dossier("Decreto ingiuntivo", []string{"a@pec.example"}, []string{"b@pec.example"}, []byte("atto"), set.CA.Cert.NotBefore.AddDate(1, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	for name, raw := range files {
		os.WriteFile(filepath.Join(src, name), raw, 0o644)
	}
	if r := conserva(t, append(cfg, "ingest", "--trust", set.TrustPEM, src)...); r.code != 0 {
		t.Fatalf("ingest: %s", r.stderr)
	}
	if r := conserva(t, append(cfg, "seal")...); r.code != 0 {
		t.Fatalf("seal: %s", r.stderr)
	}
	ref = decodeLines(t, conserva(t, append(cfg, "search", "--json", "--kind", "accettazione")...).stdout)[0]["ref_message_id"].(string)
	ca, err := os.ReadFile(filepath.Join(home, "keys", "dev-ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(ca)
	return set, cfg, ref, fmt.Sprintf("%x", sha256.Sum256(blk.Bytes))
}

// exportPack exports and unzips a pack, returning its folder.
func exportPack(t *testing.T, cfg []string, ref string, extra ...string) (string, result) {
	t.Helper()
	zipFile := filepath.Join(t.TempDir(), "pack.zip")
	r := conserva(t, append(append(cfg, "export", "--out", zipFile), append(extra, ref)...)...)
	if _, err := os.Stat(zipFile); err != nil {
		t.Fatalf("export wrote no pack: %d %s %s", r.code, r.stdout, r.stderr)
	}
	dir := t.TempDir()
	unzip(t, zipFile, dir)
	return dir, r
}

// verifyPack runs VERIFY.txt as an auditor would, with the given
// environment (the pinned fingerprints).
func verifyPack(t *testing.T, dir string, env ...string) (string, int) {
	t.Helper()
	cmd := exec.Command("sh", "VERIFY.txt")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return string(out), code
}

func pins(root string) []string {
	// Colons and upper case, as openssl prints fingerprints: ignored.
	var colon []string
	for i := 0; i < len(root); i += 2 {
		colon = append(colon, strings.ToUpper(root[i:i+2]))
	}
	return []string{"SIGNER_ROOT_SHA256=" + strings.Join(colon, ":"), "TSA_ROOT_SHA256=" + root}
}

// resum rewrites SHA256SUMS over every file of the pack but the manifest's
// own, as a forger would.
func resum(t *testing.T, dir string) []byte {
	t.Helper()
	var lines []string
	filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		switch rel {
		case "SHA256SUMS", "SHA256SUMS.p7s", "SHA256SUMS.p7s.tsr":
			return nil
		}
		data, _ := os.ReadFile(p)
		lines = append(lines, fmt.Sprintf("%x  %s", sha256.Sum256(data), filepath.ToSlash(rel)))
		return nil
	})
	sort.Slice(lines, func(i, j int) bool { return lines[i][66:] < lines[j][66:] })
	data := []byte(strings.Join(lines, "\n") + "\n")
	os.WriteFile(filepath.Join(dir, "SHA256SUMS"), data, 0o644)
	return data
}

// forger is a self-made "Responsabile della conservazione" and TSA.
type forger struct {
	signer *sip.Signer
	tsa    *timestamp.Dev
	root   *testpki.Identity
}

func newForger(t *testing.T) *forger {
	root := testpki.Root(t, "Responsabile della conservazione CA", testpki.Options{})
	s := root.Issue(t, "Responsabile della conservazione", testpki.Options{})
	ts := root.Issue(t, "TSA qualificata", testpki.Options{TimeStamping: true})
	return &forger{signer: &sip.Signer{Cert: s.Cert, Key: s.Key, Chain: s.Chain}, tsa: &timestamp.Dev{Cert: ts.Cert, Key: ts.Key, Chain: ts.Chain}, root: root}
}

// seal re-signs content as the forger: CAdES-T signature and detached
// timestamp of the signature file.
func (f *forger) seal(t *testing.T, content []byte) (p7s, tsr []byte) {
	t.Helper()
	p7s, _, err := f.signer.SignT(context.Background(), content, f.tsa)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := f.tsa.Timestamp(context.Background(), p7s)
	if err != nil {
		t.Fatal(err)
	}
	return p7s, tok.Response
}

func mustContain(t *testing.T, out string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
}

// TestForgedPacksFailVerify reproduces the three forgeries of an exported
// pack: each fails VERIFY.txt run with the genuine root fingerprints, and
// says why; the genuine pack passes with them.
func TestForgedPacksFailVerify(t *testing.T) {
	set, cfg, ref, root := sealedDossier(t)
	fresh := func() string {
		dir, r := exportPack(t, cfg, ref)
		if r.code != 0 {
			t.Fatalf("export: %d %s %s", r.code, r.stdout, r.stderr)
		}
		return dir
	}
	dir := fresh()
	out, code := verifyPack(t, dir, pins(root)...)
	if code != 0 || !strings.Contains(out, "ALL CHECKS PASSED, with the roots you gave") {
		t.Fatalf("the genuine pack with the genuine roots: exit %d\n%s", code, out)
	}
	out, code = verifyPack(t, dir, "SIGNER_ROOT_SHA256="+strings.Repeat("ab", 32), "TSA_ROOT_SHA256="+root)
	if code == 0 || !strings.Contains(out, "is NOT a signer root whose fingerprint you gave") {
		t.Fatalf("the genuine pack with a wrong signer fingerprint: exit %d\n%s", code, out)
	}
	out, code = verifyPack(t, dir)
	if code != 0 || !strings.Contains(out, "THE ROOTS WERE NOT COMPARED") {
		t.Fatalf("the genuine pack without fingerprints: exit %d\n%s", code, out)
	}

	t.Run("A: a made-up receipt added to the pack and to SHA256SUMS", func(t *testing.T) {
		dir := fresh()
		raw, err := set.Provider.Build(pecgen.Spec{Kind: pec.KindAvvenutaConsegna, Consegna: "c@pec.example", Subject: "Decreto ingiuntivo", OriginalID: ref, Date: time.Now()})
		if err != nil {
			t.Fatal(err)
		}
		name := fmt.Sprintf("messages/%x.eml", sha256.Sum256(raw))
		os.WriteFile(filepath.Join(dir, name), raw, 0o644)
		f, _ := os.OpenFile(filepath.Join(dir, "SHA256SUMS"), os.O_APPEND|os.O_WRONLY, 0)
		fmt.Fprintf(f, "%x  %s\n", sha256.Sum256(raw), name)
		f.Close()
		out, code := verifyPack(t, dir, pins(root)...)
		if code == 0 || strings.Contains(out, "ALL CHECKS PASSED") {
			t.Fatalf("VERIFY.txt passed a made-up receipt:\n%s", out)
		}
		mustContain(t, out, "FAILED: the signature of SHA256SUMS does not verify", "FAILED: "+name+" is not one of the messages report.json describes")
	})

	t.Run("roots: an attacker's root appended after the genuine one", func(t *testing.T) {
		dir := fresh()
		fg := newForger(t)
		roots, _ := filepath.Glob(filepath.Join(dir, "roots", "*.pem"))
		for _, r := range roots {
			f, _ := os.OpenFile(r, os.O_APPEND|os.O_WRONLY, 0)
			f.Write(testpki.PEM(fg.root.Cert))
			f.Close()
		}
		out, code := verifyPack(t, dir, pins(root)...)
		if code == 0 || !strings.Contains(out, "must hold exactly one certificate") {
			t.Fatalf("VERIFY.txt accepted a roots file with a second certificate:\n%s", out)
		}
	})

	t.Run("odd files: hidden, dot-dot, deep, named -, a link, a FIFO", func(t *testing.T) {
		for _, c := range []struct{ name, want string }{
			{"..evil.eml", "..evil.eml is not in the signed manifest"},
			{"messages/.d/x.eml", "messages/.d/x.eml is not in the signed manifest"},
			{".h/a/b/c/d/e.eml", ".h/a/b/c/d/e.eml is not in the signed manifest"},
			{"-", "- is not in the signed manifest"},
			{"link", "link is a symbolic link"},
			{"fifo", "fifo is not a regular file"},
		} {
			dir := fresh()
			p := filepath.Join(dir, filepath.FromSlash(c.name))
			os.MkdirAll(filepath.Dir(p), 0o755)
			switch c.name {
			case "link":
				os.Symlink("/etc/passwd", p)
			case "fifo":
				if err := syscall.Mkfifo(p, 0o644); err != nil {
					t.Fatal(err)
				}
			default:
				os.WriteFile(p, []byte("x"), 0o644)
			}
			out, code := verifyPack(t, dir, pins(root)...)
			if code == 0 || !strings.Contains(out, "FAILED: "+c.want) {
				t.Fatalf("%s: exit %d\n%s", c.name, code, out)
			}
		}
	})

	t.Run("B: report.html edited and SHA256SUMS recomputed", func(t *testing.T) {
		dir := fresh()
		p := filepath.Join(dir, "report.html")
		html, _ := os.ReadFile(p)
		forged := strings.Replace(string(html), "valida / valid", "NON valida / invalid", 1)
		if forged == string(html) {
			t.Fatal("nothing to edit in report.html")
		}
		os.WriteFile(p, []byte(forged), 0o644)
		resum(t, dir)
		out, code := verifyPack(t, dir, pins(root)...)
		if code == 0 || strings.Contains(out, "ALL CHECKS PASSED") {
			t.Fatalf("VERIFY.txt passed an edited report:\n%s", out)
		}
		mustContain(t, out, "FAILED: the signature of SHA256SUMS does not verify")
	})

	t.Run("C: index re-signed and re-timestamped by a self-made conservator and TSA, roots replaced", func(t *testing.T) {
		dir := fresh()
		fg := newForger(t)
		idxs, _ := filepath.Glob(filepath.Join(dir, "packages", "*", "index.xml"))
		if len(idxs) != 1 {
			t.Fatalf("packages: %v", idxs)
		}
		pkg := filepath.Dir(idxs[0])
		index, _ := os.ReadFile(idxs[0])
		index = []byte(strings.Replace(string(index), "<c:Signer>", "<c:Signer>Forged ", 1))
		os.WriteFile(idxs[0], index, 0o644)
		p7s, tsr := fg.seal(t, index)
		os.WriteFile(filepath.Join(pkg, "index.xml.p7s"), p7s, 0o644)
		os.WriteFile(filepath.Join(pkg, "index.xml.p7s.tsr"), tsr, 0o644)
		os.WriteFile(filepath.Join(pkg, "signer-chain.pem"), testpki.PEM(fg.signer.Chain...), 0o644)
		os.WriteFile(filepath.Join(pkg, "tsa-chain.pem"), testpki.PEM(fg.tsa.Chain...), 0o644)
		roots, _ := filepath.Glob(filepath.Join(dir, "roots", "*.pem"))
		for _, r := range roots {
			os.WriteFile(r, testpki.PEM(fg.root.Cert), 0o644)
		}
		// The validation data go, and VERIFY.txt's CRL checks of them
		// (the forger re-signs the manifest).
		os.RemoveAll(filepath.Join(pkg, "validation"))
		script, _ := os.ReadFile(filepath.Join(dir, "VERIFY.txt"))
		var kept []string
		for _, l := range strings.Split(string(script), "\n") {
			if !strings.Contains(l, "openssl verify -crl_check") {
				kept = append(kept, l)
			}
		}
		os.WriteFile(filepath.Join(dir, "VERIFY.txt"), []byte(strings.Join(kept, "\n")), 0o644)
		// The evidence records too, archive-timestamped by the forger's TSA.
		recs, _ := filepath.Glob(filepath.Join(dir, "ers", "*.ers"))
		for _, r := range recs {
			msg, _ := os.ReadFile(filepath.Join(dir, "messages", strings.TrimSuffix(filepath.Base(r), ".ers")+".eml"))
			sum := sha256.Sum256(msg)
			forged, err := ers.Create(context.Background(), fg.tsa, crypto.SHA256, [][]byte{sum[:]})
			if err != nil {
				t.Fatal(err)
			}
			os.WriteFile(r, forged[0], 0o644)
		}
		manifest := resum(t, dir)
		mp7s, mtsr := fg.seal(t, manifest)
		os.WriteFile(filepath.Join(dir, "SHA256SUMS.p7s"), mp7s, 0o644)
		os.WriteFile(filepath.Join(dir, "SHA256SUMS.p7s.tsr"), mtsr, 0o644)
		out, code := verifyPack(t, dir, pins(root)...)
		if code == 0 || strings.Contains(out, "ALL CHECKS PASSED") {
			t.Fatalf("VERIFY.txt passed a pack re-sealed by a self-made conservator:\n%s", out)
		}
		mustContain(t, out, "is NOT a signer root whose fingerprint you gave", "is NOT a tsa root whose fingerprint you gave")
		// Without the fingerprints the same pack is self-consistent: the
		// script must say loudly that it proved nothing about who sealed it.
		out, _ = verifyPack(t, dir)
		mustContain(t, out, "THE ROOTS WERE NOT COMPARED")
	})
}

// TestForgedArchiveFailsAuditAndExport: the same forgeries made in the
// archive itself are named by audit (exit 1), and export refuses to call
// the pack intact.
func TestForgedArchiveFailsAuditAndExport(t *testing.T) {
	set, cfg, ref, _ := sealedDossier(t)
	home := cfg[1]
	if r := conserva(t, append(cfg, "audit")...); r.code != 0 {
		t.Fatalf("audit of the genuine archive: %d %s", r.code, r.stdout)
	}
	pkgDirs, _ := filepath.Glob(filepath.Join(home, "store", "packages", "*"))
	if len(pkgDirs) != 1 {
		t.Fatalf("packages: %v", pkgDirs)
	}
	pkg := pkgDirs[0]
	pkgID := filepath.Base(pkg)

	// A: a made-up receipt, catalogued as if it were in the package.
	raw, err := set.Provider.Build(pecgen.Spec{Kind: pec.KindAvvenutaConsegna, Consegna: "c@pec.example", Subject: "Decreto ingiuntivo", OriginalID: ref, Date: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	src := t.TempDir()
	os.WriteFile(filepath.Join(src, "forged.eml"), raw, 0o644)
	conserva(t, append(cfg, "ingest", src)...)
	forgedID := fmt.Sprintf("%x", sha256.Sum256(raw))
	a, err := archive.Open(home, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = a.Catalog.Update(func(get func(string) (*archive.Record, error), put func(*archive.Record) error) error {
		r, err := get(forgedID)
		if err != nil || r == nil {
			return fmt.Errorf("forged record: %v", err)
		}
		r.Package = pkgID
		return put(r)
	})
	a.Close()
	if err != nil {
		t.Fatal(err)
	}
	r := conserva(t, append(cfg, "audit")...)
	if r.code != 1 || !strings.Contains(r.stdout, forgedID) || !strings.Contains(r.stdout, "not listed in the signed index") {
		t.Fatalf("audit of a made-up receipt: %d\n%s", r.code, r.stdout)
	}
	_, r = exportPack(t, cfg, ref)
	if r.code != 1 || !strings.Contains(r.stdout, "NOT INTACT") {
		t.Fatalf("export with a made-up receipt (ref %s): %d %s", ref, r.code, r.stdout)
	}

	// C: the package's index re-signed and re-timestamped by a self-made
	// conservator and TSA, its chain files replaced.
	fg := newForger(t)
	index, _ := os.ReadFile(filepath.Join(pkg, "index.xml"))
	p7s, tsr := fg.seal(t, index)
	for name, data := range map[string][]byte{"index.xml.p7s": p7s, "index.xml.p7s.tsr": tsr, "signer-chain.pem": testpki.PEM(fg.signer.Chain...), "tsa-chain.pem": testpki.PEM(fg.tsa.Chain...)} {
		p := filepath.Join(pkg, name)
		os.Chmod(p, 0o644)
		if err := os.WriteFile(p, data, 0o444); err != nil {
			t.Fatal(err)
		}
	}
	r = conserva(t, append(cfg, "audit")...)
	if r.code != 1 || !strings.Contains(r.stdout, pkgID+"/index.xml.p7s") || !strings.Contains(r.stdout, "not under the configured") || !strings.Contains(r.stdout, pkgID+"/index.xml.p7s.tsr") {
		t.Fatalf("audit of a package re-sealed by a self-made conservator: %d\n%s", r.code, r.stdout)
	}
	dir, r := exportPack(t, cfg, ref)
	if r.code != 1 || !strings.Contains(r.stdout, "NOT INTACT") {
		t.Fatalf("export of a forged package: %d %s", r.code, r.stdout)
	}
	report, _ := os.ReadFile(filepath.Join(dir, "report.json"))
	if !strings.Contains(string(report), `"pack_intact": false`) || !strings.Contains(string(report), `"signature_ok": false`) {
		t.Fatalf("report.json of a forged package:\n%s", report)
	}
	// The run history keeps the export and what it found.
	hist := decodeLines(t, conserva(t, append(cfg, "runs", "--json", "--limit", "1")...).stdout)
	if len(hist) != 1 || hist[0]["command"] != "export" || hist[0]["outcome"] != "findings" || !strings.Contains(fmt.Sprint(hist[0]["errors"]), "not intact") {
		t.Fatalf("the run history after exporting a forged package: %v", hist)
	}
}

// TestProviderTrustIsKept: the anchors given at ingest judge the providers'
// signatures in a later export without being given again; reverify with a
// new anchor records the new verdict beside the old one.
func TestProviderTrustIsKept(t *testing.T) {
	_, cfg, ref, root := sealedDossier(t)
	dir, r := exportPack(t, cfg, ref) // no --trust
	if r.code != 0 || !strings.Contains(r.stdout, "valid") || strings.Contains(r.stdout, "untrusted") {
		t.Fatalf("export without --trust: %d %s %s", r.code, r.stdout, r.stderr)
	}
	out, code := verifyPack(t, dir, pins(root)...)
	if code != 0 || !strings.Contains(out, "provider signature valid, as report.json says (openssl: valid)") {
		t.Fatalf("VERIFY.txt: %d\n%s", code, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "providers", "anchors.pem")); err != nil {
		t.Fatal("the pack does not ship the providers' anchors")
	}
}

func TestReverifyRecordsHistory(t *testing.T) {
	set := fixtures(t)
	home := filepath.Join(t.TempDir(), "archive")
	cfg := []string{"--archive", home}
	src := t.TempDir()
	files, err := set.Provider.Dossier("Sollecito", []string{"a@pec.example"}, nil, nil, set.CA.Cert.NotBefore.AddDate(1, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	for name, raw := range files {
		os.WriteFile(filepath.Join(src, name), raw, 0o644)
	}
	conserva(t, append(cfg, "ingest", src)...) // no trust: every signature untrusted
	flagged := decodeLines(t, conserva(t, append(cfg, "search", "--json", "--flagged")...).stdout)
	if len(flagged) != len(files) {
		t.Fatalf("%d flagged before reverify, want %d", len(flagged), len(files))
	}
	r := conserva(t, append(cfg, "reverify", "--trust", set.TrustPEM)...)
	if r.code != 0 || !strings.Contains(r.stdout, fmt.Sprintf("%d verdicts changed", len(files))) || !strings.Contains(r.stdout, "untrusted -> valid") {
		t.Fatalf("reverify: %d %s %s", r.code, r.stdout, r.stderr)
	}
	if n := len(decodeLines(t, conserva(t, append(cfg, "search", "--json", "--flagged")...).stdout)); n != 0 {
		t.Fatalf("%d still flagged after reverify", n)
	}
	a, err := archive.Open(home, nil)
	if err != nil {
		t.Fatal(err)
	}
	a.Catalog.Scan(func(rec *archive.Record) error {
		if len(rec.History) != 2 || rec.History[0].Verdict != pec.Untrusted || rec.History[1].Verdict != pec.Valid || rec.History[1].By != "reverify" || len(rec.History[1].Trust) != 1 {
			t.Errorf("history of %s: %+v", rec.ID, rec.History)
		}
		return nil
	})
	a.Close()
	// Nothing changes the second time: history is not padded.
	r = conserva(t, append(cfg, "reverify")...)
	if r.code != 0 || !strings.Contains(r.stdout, "0 verdicts changed") {
		t.Fatalf("second reverify (trust kept): %d %s %s", r.code, r.stdout, r.stderr)
	}
	// Both runs are in the history, the first with its changed verdicts.
	var changed []float64
	for _, h := range decodeLines(t, conserva(t, append(cfg, "runs", "--json")...).stdout) {
		if h["command"] == "reverify" {
			counts, _ := h["counts"].(map[string]any)
			v, _ := counts["verdicts changed"].(float64)
			changed = append(changed, v)
		}
	}
	if len(changed) != 2 || changed[0] != 0 || changed[1] != float64(len(files)) {
		t.Fatalf("reverify in the run history (newest first): changed %v", changed)
	}
}

// TestPackWithAnInvalidReceipt: a tampered receipt is evidence too. The
// pack is intact, VERIFY.txt agrees with report.json that its provider
// signature is invalid (and exits 0), a receipt without trust is
// untrusted, and the report's headline does not call the providers' side
// all OK.
func TestPackWithAnInvalidReceipt(t *testing.T) {
	testutil.Tool(t, "openssl")
	set := fixtures(t)
	home := filepath.Join(t.TempDir(), "archive")
	cfg := []string{"--archive", home}
	src := t.TempDir()
	files, err := set.Provider.Dossier("Verbale", []string{"a@pec.example"}, nil, nil, set.CA.Cert.NotBefore.AddDate(1, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	for name, raw := range files {
		if strings.Contains(name, "consegna") {
			raw = pecgen.Tamper(raw)
		}
		os.WriteFile(filepath.Join(src, name), raw, 0o644)
	}
	conserva(t, append(cfg, "ingest", "--trust", set.TrustPEM, src)...)
	conserva(t, append(cfg, "seal")...)
	ref := decodeLines(t, conserva(t, append(cfg, "search", "--json", "--kind", "accettazione")...).stdout)[0]["ref_message_id"].(string)
	dir, r := exportPack(t, cfg, ref)
	if r.code != 0 || !strings.Contains(r.stdout, "the pack: intact") || !strings.Contains(r.stdout, "1 invalid") {
		t.Fatalf("export: %d %s %s", r.code, r.stdout, r.stderr)
	}
	out, code := verifyPack(t, dir)
	if code != 0 || !strings.Contains(out, "provider signature invalid, as report.json says") || strings.Contains(out, "FAILED") {
		t.Fatalf("VERIFY.txt on a pack with an invalid receipt: %d\n%s", code, out)
	}
	html, _ := os.ReadFile(filepath.Join(dir, "report.html"))
	if !strings.Contains(string(html), `id="providers" class="ko"`) || !strings.Contains(string(html), "NON tutte valide") {
		t.Fatalf("the report's headline does not say the providers' verdicts are not all valid:\n%s", html)
	}
}

// TestForgedPackageIDNeverReachesVerify: a catalog record whose package is
// a shell command (an edited catalog) is reported by export, and nothing
// of it reaches VERIFY.txt.
func TestForgedPackageIDNeverReachesVerify(t *testing.T) {
	_, cfg, ref, root := sealedDossier(t)
	home := cfg[1]
	marker := filepath.Join(t.TempDir(), "PWNED")
	a, err := archive.Open(home, nil)
	if err != nil {
		t.Fatal(err)
	}
	var id string
	a.Catalog.Scan(func(r *archive.Record) error {
		if id == "" && r.Package != "" {
			id = r.ID
		}
		return nil
	})
	err = a.Catalog.Update(func(get func(string) (*archive.Record, error), put func(*archive.Record) error) error {
		r, err := get(id)
		if err != nil {
			return err
		}
		r.Package = "x;touch " + marker + ";echo ALL CHECKS PASSED;exit 0;:"
		return put(r)
	})
	dir := exportAfterAttack(t, a, err, cfg, ref, "a forged package id")
	script, _ := os.ReadFile(filepath.Join(dir, "VERIFY.txt"))
	if strings.Contains(string(script), marker) {
		t.Fatal("the forged package id is in VERIFY.txt")
	}
	// The message is still listed in its genuine package's signed index,
	// which the pack holds for the dossier's other messages: VERIFY.txt
	// may pass, and must run nothing.
	out, _ := verifyPack(t, dir, pins(root)...)
	if _, err := os.Stat(marker); err == nil {
		t.Fatalf("VERIFY.txt ran a command from the catalog:\n%s", out)
	}
}

// TestDroppedOrReplacedTrustIsNamed: a provider CA of the attacker's,
// dropped into the store's trust/ folder or appended to a kept trust file,
// never makes a forged receipt valid: audit names the file, and a rebuild
// with the old catalog does not trust it.
func TestDroppedOrReplacedTrustIsNamed(t *testing.T) {
	set, cfg, ref, _ := sealedDossier(t)
	home := cfg[1]
	evil := pecgenCA(t)
	forged, err := evil.Provider.Build(pecgen.Spec{Kind: pec.KindAvvenutaConsegna, Consegna: "b@pec.example", Subject: "Decreto ingiuntivo", OriginalID: ref, Date: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	src := t.TempDir()
	os.WriteFile(filepath.Join(src, "forged.eml"), forged, 0o644)
	conserva(t, append(cfg, "ingest", src)...) // untrusted: flagged
	evilPEM := pecgen.PEM(evil.CA.Cert)
	sum := fmt.Sprintf("%x", sha256.Sum256(evilPEM))
	dropped := filepath.Join(home, "store", "trust", "providers", sum+".pem")
	if err := os.WriteFile(dropped, evilPEM, 0o444); err != nil {
		t.Fatal(err)
	}
	r := conserva(t, append(cfg, "audit")...)
	if r.code != 1 || !strings.Contains(r.stdout, "trust/providers/"+sum+".pem: a provider trust file the catalog does not list") {
		t.Fatalf("audit with a dropped trust file: %d\n%s", r.code, r.stdout)
	}
	if r := conserva(t, append(cfg, "catalog", "rebuild")...); r.code == 2 {
		t.Fatalf("rebuild: %s", r.stderr)
	}
	forgedID := fmt.Sprintf("%x", sha256.Sum256(forged))
	rows := decodeLines(t, conserva(t, append(cfg, "search", "--json", "--flagged")...).stdout)
	flagged := false
	for _, row := range rows {
		flagged = flagged || row["id"] == forgedID
	}
	if !flagged {
		t.Fatalf("after a rebuild the forged receipt is no longer flagged: %v", rows)
	}
	os.Remove(dropped)
	// The kept file replaced in place (the attacker's CA appended).
	kept, _ := filepath.Glob(filepath.Join(home, "store", "trust", "providers", "*.pem"))
	if len(kept) != 1 {
		t.Fatalf("kept trust files: %v", kept)
	}
	os.Chmod(kept[0], 0o644)
	data, _ := os.ReadFile(kept[0])
	os.WriteFile(kept[0], append(data, evilPEM...), 0o444)
	r = conserva(t, append(cfg, "audit")...)
	if r.code != 1 || !strings.Contains(r.stdout, "does not hash to its name") {
		t.Fatalf("audit with a replaced trust file: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	_ = set
}

// pecgenCA is a provider CA of the attacker's own.
func pecgenCA(t *testing.T) *pecgen.FixtureSet {
	t.Helper()
	ca, err := pecgen.NewCA("Evil PEC CA", time.Now().AddDate(-2, 0, 0), time.Now().AddDate(5, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	prov, err := ca.NewProvider(pecgen.ProviderOptions{Name: "Evil Provider", Domain: "pec.evil.example"})
	if err != nil {
		t.Fatal(err)
	}
	return &pecgen.FixtureSet{CA: ca, Provider: prov}
}

// TestCatalogCheckNamesADamagedMessage: catalog check, which reads no
// message back otherwise, names one whose bytes changed.
func TestCatalogCheckNamesADamagedMessage(t *testing.T) {
	_, cfg, _, _ := sealedDossier(t)
	msgs, _ := filepath.Glob(filepath.Join(cfg[1], "store", "messages", "*", "*.eml"))
	p := msgs[0]
	os.Chmod(p, 0o644)
	data, _ := os.ReadFile(p)
	os.WriteFile(p, []byte(strings.Replace(string(data), "Subject: ", "Subject: X", 1)), 0o444)
	r := conserva(t, append(cfg, "catalog", "check")...)
	if r.code != 1 || !strings.Contains(r.stdout, "damaged: content hashes to") {
		t.Fatalf("catalog check of a changed message: %d\n%s", r.code, r.stdout)
	}
}

// TestResealedUnderAnotherPinnedRoot: a package re-signed and
// re-timestamped by someone whose root was then pinned (a configuration
// changed along with the package) is still named: the catalog recorded the
// roots each package was sealed under.
func TestResealedUnderAnotherPinnedRoot(t *testing.T) {
	_, cfg, _, _ := sealedDossier(t)
	home := cfg[1]
	pkgs, _ := filepath.Glob(filepath.Join(home, "store", "packages", "*"))
	pkg := pkgs[0]
	fg := newForger(t)
	index, _ := os.ReadFile(filepath.Join(pkg, "index.xml"))
	p7s, tsr := fg.seal(t, index)
	for name, data := range map[string][]byte{"index.xml.p7s": p7s, "index.xml.p7s.tsr": tsr} {
		p := filepath.Join(pkg, name)
		os.Chmod(p, 0o644)
		os.WriteFile(p, data, 0o444)
	}
	roots := filepath.Join(t.TempDir(), "roots.pem")
	os.WriteFile(roots, testpki.PEM(fg.root.Cert), 0o644)
	r := conserva(t, append(cfg, "audit", "--signer-roots", roots, "--tsa-roots", roots)...)
	if r.code != 1 || !strings.Contains(r.stdout, "but the package was sealed under root") {
		t.Fatalf("audit of a package re-sealed under a newly pinned root: %d\n%s", r.code, r.stdout)
	}
}
