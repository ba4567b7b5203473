package archive_test

import (
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/conserva/conserva/archive"
	"github.com/conserva/conserva/ingest"
	"github.com/conserva/conserva/internal/pecgen"
	"github.com/conserva/conserva/internal/testutil"
	"github.com/conserva/conserva/pec"
	"github.com/conserva/conserva/versamento"
)

// A run that archives something leaves a signed, timestamped rapporto di
// versamento listing exactly what it archived, which openssl verifies and
// which validates against the shipped schema; a forged one does not verify.
func TestRapportoDiVersamento(t *testing.T) {
	w, a := setup(t)
	dir := t.TempDir()
	var want []string
	for i, spec := range []pecgen.Spec{{Kind: pec.KindPostaCertificata}, {Kind: pec.KindAccettazione}, {Kind: pec.KindAvvenutaConsegna, Unsigned: true}} {
		raw, err := w.prov.Build(spec)
		if err != nil {
			t.Fatal(err)
		}
		writeFiles(t, dir, map[string][]byte{string(rune('a'+i)) + ".eml": raw})
	}
	// Something the run cannot read is refused, and the report says why.
	src, err := ingest.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	unreadable := ingest.NewItem("mailbox/z.eml", 10, func() (io.ReadCloser, error) { return nil, errors.New("disk on fire") })
	sum, _ := a.Ingest(context.Background(), []ingest.Source{src, oneItem{unreadable}}, archive.IngestOptions{Trust: pec.NewTrustStore(w.ca.Cert)})
	if len(sum.Failures) != 1 {
		t.Fatalf("failures %+v", sum.Failures)
	}
	if sum.Report == "" || sum.Archived != 3 || sum.Flagged != 1 {
		t.Fatalf("summary %+v", sum)
	}
	a.Catalog.Scan(func(r *archive.Record) error { want = append(want, r.ID); return nil })
	sort.Strings(want)

	// Another run of the same messages archives nothing: no report.
	if again := run(t, a, pec.NewTrustStore(w.ca.Cert), dir); again.Report != "" {
		t.Fatalf("a run that archived nothing made report %s", again.Report)
	}
	reps, err := a.Reports(context.Background())
	if err != nil || len(reps) != 1 || reps[0].Run != sum.Report || reps[0].Archived != 3 || reps[0].Flagged != 1 || !reps[0].Pending {
		t.Fatalf("reports %+v %v", reps, err)
	}
	// Signed and timestamped by the next seal, not before.
	if _, err := a.ExportReport(context.Background(), sum.Report, filepath.Join(t.TempDir(), "early")); err == nil {
		t.Fatal("an unsigned report was exported")
	}
	if _, _, err := a.Seal(context.Background(), archive.SealOptions{}); err != nil {
		t.Fatal(err)
	}
	if reps, err = a.Reports(context.Background()); err != nil || reps[0].Pending || reps[0].Signed == nil {
		t.Fatalf("after the seal: %+v %v", reps, err)
	}

	out := filepath.Join(t.TempDir(), "rapporto")
	d, err := a.ExportReport(context.Background(), sum.Report[:10], out)
	if err != nil || !d.Verified {
		t.Fatalf("export: %v %+v", err, d)
	}
	openssl(t, out, "cms", "-verify", "-binary", "-inform", "DER", "-in", "rapporto.xml.p7s", "-content", "rapporto.xml", "-CAfile", "signer-roots.pem", "-purpose", "any", "-out", os.DevNull)
	openssl(t, out, "ts", "-verify", "-data", "rapporto.xml.p7s", "-in", "rapporto.xml.p7s.tsr", "-CAfile", "tsa-roots.pem")
	if p := openssl(t, out, "cms", "-cmsout", "-print", "-inform", "DER", "-in", "rapporto.xml.p7s"); !strings.Contains(p, "id-smime-aa-timeStampToken") {
		t.Fatal("the rapporto's signature is not CAdES-T")
	}
	if err := xmllint(t, "conserva-versamento.xsd", filepath.Join(out, "rapporto.xml")); err != nil {
		t.Fatalf("rapporto.xml does not validate: %v", err)
	}
	if _, err := os.Stat(filepath.Join(out, "VERIFY.txt")); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(filepath.Join(out, "rapporto.xml"))
	rep, err := versamento.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	flagged := 0
	for _, e := range rep.Entries {
		got = append(got, e.ID)
		if e.Flagged {
			flagged++
			if e.Kind != "avvenuta-consegna" || e.Verdict != "absent" {
				t.Errorf("flagged entry %+v", e)
			}
		}
	}
	if len(rep.Refused) != 1 || !strings.Contains(rep.Refused[0].Source, "z.eml") || !strings.Contains(rep.Refused[0].Reason, "disk on fire") {
		t.Errorf("refused: %+v", rep.Refused)
	}
	if strings.Join(got, ",") != strings.Join(want, ",") || flagged != 1 || rep.Created.Location().String() != "UTC" || len(rep.Sources) != 2 {
		t.Fatalf("the report lists %v (flagged %d), the run archived %v", got, flagged, want)
	}

	// Forged: one byte of the stored report changed.
	key := filepath.Join(a.Dir, "store", "reports", sum.Report, "rapporto.xml")
	os.Chmod(key, 0o644)
	forged := strings.Replace(string(data), "accettato con segnalazione", "accettato", 1)
	if err := os.WriteFile(key, []byte(forged), 0o644); err != nil {
		t.Fatal(err)
	}
	d, err = a.Report(context.Background(), sum.Report)
	if err != nil || d.Verified || !strings.Contains(d.Problem, "damaged") {
		t.Fatalf("a forged report: %v %+v", err, d)
	}
	if _, err := a.ExportReport(context.Background(), sum.Report, filepath.Join(t.TempDir(), "x")); err == nil {
		t.Fatal("a forged report was exported")
	}
	os.WriteFile(filepath.Join(out, "rapporto.xml"), []byte(forged), 0o644)
	if err := opensslErr(t, out, "cms", "-verify", "-binary", "-inform", "DER", "-in", "rapporto.xml.p7s", "-content", "rapporto.xml", "-CAfile", "signer-roots.pem", "-purpose", "any", "-out", os.DevNull); err == nil {
		t.Fatal("openssl verifies a forged report")
	}
}

func opensslErr(t *testing.T, dir string, args ...string) error {
	t.Helper()
	cmd := exec.Command(testutil.Tool(t, "openssl"), args...)
	cmd.Dir = dir
	return cmd.Run()
}

type oneItem struct{ it ingest.Item }

func (o oneItem) String() string                                             { return "test source" }
func (o oneItem) Walk(ctx context.Context, fn func(ingest.Item) error) error { return fn(o.it) }

// A report changed in the store before the seal signs it is refused, not
// signed.
func TestRapportoForgedBeforeSigning(t *testing.T) {
	w, a := setup(t)
	dir := t.TempDir()
	raw, err := w.prov.Build(pecgen.Spec{Kind: pec.KindAccettazione})
	if err != nil {
		t.Fatal(err)
	}
	writeFiles(t, dir, map[string][]byte{"a.eml": raw})
	sum := run(t, a, pec.NewTrustStore(w.ca.Cert), dir)
	key := filepath.Join(a.Dir, "store", "reports", sum.Report, "rapporto.xml")
	data, _ := os.ReadFile(key)
	os.Chmod(key, 0o644)
	os.WriteFile(key, []byte(strings.Replace(string(data), "<Esaminati>1<", "<Esaminati>2<", 1)), 0o644)
	if pkgs, _, err := a.Seal(context.Background(), archive.SealOptions{}); err != nil || len(pkgs) != 1 {
		t.Fatalf("a forged report stops the seal: %v", err)
	}
	if _, err := os.Stat(key + ".p7s"); err == nil {
		t.Fatal("a forged report was signed")
	}
	d, err := a.Report(context.Background(), sum.Report)
	if err != nil || d.Verified || !strings.Contains(d.Problem, "damaged") {
		t.Fatalf("forged report: %+v %v", d, err)
	}
	reps, _ := a.Reports(context.Background())
	if len(reps) != 1 || reps[0].Pending || !strings.Contains(reps[0].Problem, "damaged") {
		t.Fatalf("reports: %+v", reps)
	}
}
