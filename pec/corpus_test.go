package pec_test

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/conserva/conserva/internal/testutil"
	"github.com/conserva/conserva/pec"
)

// corpus gives the real provider messages of ../shared that EXPECTED.tsv
// lists, with their expected kind and verdict (OpenSSL's, at signing
// time), and the AgID trust anchors they are judged against.
type corpusMessage struct {
	name, kind, verdict string
	raw                 []byte
}

func corpus(t *testing.T) (*pec.TrustStore, []corpusMessage) {
	t.Helper()
	dir := testutil.Shared(t, "corpus", "pec")
	trust, err := pec.LoadTrustFile(filepath.Join(dir, "trust-agid.pem"))
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(dir, "EXPECTED.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Scan() // header line
	var out []corpusMessage
	for sc.Scan() {
		cols := strings.Split(sc.Text(), "\t")
		if len(cols) < 3 {
			continue
		}
		raw, err := os.ReadFile(filepath.Join(dir, cols[0]))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, corpusMessage{cols[0], cols[1], cols[2], raw})
	}
	if len(out) == 0 {
		t.Fatal("EXPECTED.tsv lists no file")
	}
	return trust, out
}

// TestRealCorpus checks every real provider message in ../shared against the
// kind and verdict of EXPECTED.tsv (OpenSSL's, at signing time).
func TestRealCorpus(t *testing.T) {
	trust, msgs := corpus(t)
	for _, c := range msgs {
		t.Run(c.name, func(t *testing.T) {
			m := pec.Parse(c.raw, pec.DefaultLimits())
			v := m.Verify(trust)
			if string(m.Kind) != c.kind || string(v.Verdict) != c.verdict {
				t.Fatalf("got %s/%s (%s), want %s/%s", m.Kind, v.Verdict, v.Reason, c.kind, c.verdict)
			}
		})
	}
}

// TestRealDaticert reads the certification data of a real Aruba delivery
// receipt field by field.
func TestRealDaticert(t *testing.T) {
	raw, err := os.ReadFile(testutil.Shared(t, "corpus", "pec", "oca__CONSEGNA_ IT03339130126_00009.xml.txt"))
	if err != nil {
		t.Fatal(err)
	}
	m := pec.Parse(raw, pec.DefaultLimits())
	d := m.Daticert
	if d == nil {
		t.Fatalf("no daticert (warnings %v)", m.Warnings)
	}
	want := time.Date(2018, 11, 13, 16, 39, 27, 0, time.FixedZone("", 3600))
	checks := []struct{ name, got, want string }{
		{"tipo", d.Tipo, "avvenuta-consegna"},
		{"errore", d.Errore, "nessuno"},
		{"mittente", d.Mittente, "l.battistini@pec.it"},
		{"gestore", d.GestoreEmittente, "ARUBA PEC S.p.A."},
		{"identificativo", d.Identificativo, "opec288.20181113163926.01838.310.1.63@pec.aruba.it"},
		{"msgid", d.Msgid, "<1542123565.921546936035156.464602125997431-openerp-8-fatturapa.attachment.out@elbati-Vostro-3550>"},
		{"ricevuta", d.Ricevuta, "completa"},
		{"consegna", d.Consegna, "l.battistini@pec.it"},
		{"oggetto", d.Oggetto, "IT03339130126_00009.xml"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}
	if !d.Data.Equal(want) || len(d.Destinatari) != 1 || d.Destinatari[0].Tipo != "certificato" {
		t.Errorf("data %v destinatari %+v", d.Data, d.Destinatari)
	}
	if m.RefMessageID != d.Msgid {
		t.Errorf("ref message id %q != msgid %q", m.RefMessageID, d.Msgid)
	}
	if len(postacert(t, m)) == 0 {
		t.Error("postacert.eml not extracted from a completa receipt")
	}
}
