package agid_test

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"testing"
	"time"

	"github.com/conserva/conserva/agid"
	"github.com/conserva/conserva/pec"
	"github.com/conserva/conserva/sip"
	"github.com/conserva/conserva/smistamento"
)

func TestConfig(t *testing.T) {
	if err := (agid.Config{TipoRegistro: "diario"}).Check(); err == nil {
		t.Error("an unknown register type accepted")
	}
	c := agid.Config{Addresses: []string{" Protocollo@PEC.ente.it "}, Piano: "Titolario 2026", TipoRegistro: "repertorio", CodiceRegistro: "R1", Riservato: true}
	if err := c.Check(); err != nil {
		t.Fatal(err)
	}
	want := smistamento.Classification{Piano: "Titolario 2026", TipoRegistro: "Repertorio/Registro", CodiceRegistro: "R1", Riservato: true}
	if got := c.Defaults(); got != want {
		t.Errorf("defaults %+v, want %+v", got, want)
	}
	own := c.OwnAddresses([]string{
		"imaps://Ufficio%40Ente.it@imap.example/INBOX", // an address: counted
		"imap://mario@imap.example/INBOX",              // a user name, not an address
		"/srv/pec/ufficio@ente.it",                     // a folder
		"https://x%40y.it@example/",                    // not IMAP
	})
	if !own["protocollo@pec.ente.it"] || !own["ufficio@ente.it"] || len(own) != 2 {
		t.Errorf("own addresses %v", own)
	}
}

func TestFlow(t *testing.T) {
	own := map[string]bool{"ufficio@ente.it": true}
	for _, c := range []struct {
		kind     pec.Kind
		from     string
		to       []string
		own      map[string]bool
		wantFlow string
	}{
		{pec.KindPostaCertificata, "altri@x.it", []string{"ufficio@ente.it"}, own, "E"},
		{pec.KindPostaCertificata, " Ufficio@Ente.it", []string{"altri@x.it"}, own, "U"},
		{pec.KindPostaCertificata, "ufficio@ente.it", []string{"altri@x.it", "UFFICIO@ente.it "}, own, "I"},
		{pec.KindAvvenutaConsegna, "posta-certificata@gestore.it", []string{"ufficio@ente.it"}, own, "U"},
		{pec.KindNotPEC, "ufficio@ente.it", nil, nil, "E"},
	} {
		if got := agid.Flow(c.kind, c.from, c.to, c.own); got != c.wantFlow {
			t.Errorf("%s from %s to %v: %s, want %s", c.kind, c.from, c.to, got, c.wantFlow)
		}
	}
}

func TestComplete(t *testing.T) {
	d := &sip.Document{Kind: string(pec.KindAccettazione), Signer: "CN=Gestore", Attachments: []sip.Attachment{{Name: "contratto.PDF.P7M"}}}
	agid.Complete(d)
	if d.Flow != "U" || d.Product != "Sistema PEC del gestore" || d.Producer != "CN=Gestore" || !d.Signed || d.TimeStamped {
		t.Errorf("signed receipt: %+v", d)
	}
	d = &sip.Document{Kind: string(pec.KindNotPEC), Flow: "I", Attachments: []sip.Attachment{{Name: "x", Type: "application/timestamp-reply"}}}
	agid.Complete(d)
	if d.Flow != "I" || d.Product != "Sistema di posta elettronica (non PEC)" || d.Producer != "" || d.Signed || !d.TimeStamped {
		t.Errorf("plain mail: %+v", d)
	}
	d = &sip.Document{Kind: string(pec.KindPostaCertificata), Attachments: []sip.Attachment{{Name: "a.m7m"}}}
	agid.Complete(d)
	if d.Flow != "E" || d.Product != "Sistema PEC del gestore (non firmato)" || !d.Signed || !d.TimeStamped {
		t.Errorf("unsigned envelope: %+v", d)
	}
	d = &sip.Document{Kind: string(pec.KindPostaCertificata), Attachments: []sip.Attachment{{Name: "p7m.pdf", Type: "application/pdf"}}}
	if agid.Complete(d); d.Signed || d.TimeStamped {
		t.Errorf("a plain PDF said signed or timestamped: %+v", d)
	}
}

// A package's documents are grouped by fascicolo (else their own id),
// each group opened at its earliest document, named by the original's
// subject, listing the senders and recipients of its messages once and
// never the providers that sent its receipts.
func TestAggregations(t *testing.T) {
	day := func(d int) time.Time { return time.Date(2026, 3, d, 10, 0, 0, 0, time.UTC) }
	sent := day(1)
	docs := []*sip.Document{
		{SHA256: "cc", Kind: string(pec.KindAvvenutaConsegna), Fascicolo: "<m1@x>", Registered: day(5), Sender: "posta-certificata@gestore.it", Subject: "CONSEGNA: Offerta"},
		{SHA256: "aa", Kind: string(pec.KindPostaCertificata), Fascicolo: "<m1@x>", Registered: day(4), Date: &sent, Sender: "Mario@x.it",
			Recipients: []string{"ufficio@ente.it", "MARIO@x.it"}, Subject: "POSTA CERTIFICATA: Offerta", Class: "4.2", ClassDesc: "Gare", Piano: "T"},
		{SHA256: "bb", Kind: string(pec.KindPostaCertificata), Fascicolo: "<m1@x>", Registered: day(3), Sender: "mario@x.it", Recipients: []string{"ufficio@ente.it"},
			Subject: "POSTA CERTIFICATA: Offerta (2)"},
		{SHA256: "dd", Kind: string(pec.KindNotPEC), Registered: day(2), Subject: "spam"},
	}
	gs := agid.Aggregations(slices.Values(docs), 10)
	if len(gs) != 2 || gs[0].ID != "<m1@x>" || gs[1].ID != "sha256:dd" {
		t.Fatalf("aggregations %+v", gs)
	}
	g := gs[0]
	// An original's subject wins over the receipt's met first.
	if !g.Opened.Equal(sent) || g.Subject != "POSTA CERTIFICATA: Offerta (2)" || g.Class != "4.2" || g.ClassDesc != "Gare" || g.Piano != "T" ||
		g.RetentionYears != 10 || g.Type != "Fascicolo" {
		t.Errorf("fascicolo %+v", g)
	}
	wantSubjects := []sip.AggSubject{{Role: "Mittente", Address: "mario@x.it"}, {Role: "Destinatario", Address: "ufficio@ente.it"},
		{Role: "Destinatario", Address: "mario@x.it"}}
	if !slices.Equal(g.Subjects, wantSubjects) {
		t.Errorf("subjects %v, want %v", g.Subjects, wantSubjects)
	}
	var ids []string
	for _, d := range g.Documents {
		ids = append(ids, d.ID)
	}
	if !slices.Equal(ids, []string{"aa", "bb", "cc"}) || !g.Documents[0].Date.Equal(sent) || !g.Documents[1].Date.Equal(day(3)) {
		t.Errorf("documents %+v", g.Documents)
	}
	if gs[1].Subject != "spam" || len(gs[1].Subjects) != 0 || !gs[1].Opened.Equal(day(2)) {
		t.Errorf("a document of its own: %+v", gs[1])
	}
}

func TestAggregationNames(t *testing.T) {
	id := "<m1@x>/../../etc"
	sum := sha256.Sum256([]byte(id))
	key := agid.AggregationKey("packages/p/", id)
	if key != "packages/p/aggregazioni/"+hex.EncodeToString(sum[:])+".xml" {
		t.Errorf("key %s", key)
	}
	data := []byte("<AggregazioneDocumentaleInformatica/>")
	f := agid.AggregationFile(key, data)
	dsum := sha256.Sum256(data)
	if f.ID != "agg-"+hex.EncodeToString(sum[:]) || f.Path != key || f.SHA256 != hex.EncodeToString(dsum[:]) || f.Size != int64(len(data)) || f.Format != "application/xml" {
		t.Errorf("file %+v", f)
	}
}
