package smistamento_test

import (
	"strings"
	"testing"
	"time"

	"github.com/conserva/conserva/pec"
	"github.com/conserva/conserva/smistamento"
)

var rules = []smistamento.Rule{
	{Subject: "^Fattura", Kind: "posta-certificata", Class: "4.2.1", Description: "Fatture passive", Fascicolo: "fatture-2026",
		TipoRegistro: "protocollo", CodiceRegistro: "PG"},
	{Sender: "Ufficio@PEC.ente.example", Class: "1.1", Riservato: true},
	{Mailbox: "Protocollo", Recipient: "gare@pec.ente.example", Fascicolo: "gare"},
}

func TestCompileRefusesBrokenRules(t *testing.T) {
	for _, bad := range []smistamento.Rule{
		{Subject: "(", Class: "1"},
		{Kind: "telegramma", Class: "1"},
		{Sender: "a@b"}, // gives nothing
		{Class: "1", TipoRegistro: "diario"},
	} {
		rs := append(append([]smistamento.Rule{}, rules...), bad)
		err := smistamento.Compile(rs)
		if err == nil || !strings.Contains(err.Error(), "[[classify]] 4") {
			t.Errorf("%+v: %v", bad, err)
		}
	}
	if err := smistamento.Compile(rules); err != nil {
		t.Fatal(err)
	}
}

// The first rule whose every condition holds files the message, over the
// defaults; the subject is matched on the sender's words too.
func TestFileFirstMatchingRule(t *testing.T) {
	rs := append([]smistamento.Rule{}, rules...)
	if err := smistamento.Compile(rs); err != nil {
		t.Fatal(err)
	}
	def := smistamento.Classification{Piano: "Titolario 2026", CodiceRegistro: "GEN"}
	for _, c := range []struct {
		name   string
		m      smistamento.Message
		by     string
		class  smistamento.Classification
		reason string
	}{
		{"provider's prefix stripped", smistamento.Message{Subject: "POSTA CERTIFICATA: Fattura 17", Kind: pec.KindPostaCertificata, From: "ufficio@pec.ente.example"},
			"rule 1", smistamento.Classification{Code: "4.2.1", Description: "Fatture passive", Fascicolo: "fatture-2026", Piano: "Titolario 2026",
				TipoRegistro: "Protocollo Ordinario/Protocollo Emergenza", CodiceRegistro: "PG"}, ""},
		{"kind must hold too", smistamento.Message{Subject: "Fattura 17", Kind: pec.KindAccettazione, From: " UFFICIO@pec.ente.example "},
			"rule 2", smistamento.Classification{Code: "1.1", Piano: "Titolario 2026", TipoRegistro: "Nessuno", CodiceRegistro: "GEN", Riservato: true}, ""},
		{"a lower-case prefix is the sender's", smistamento.Message{Subject: "Re: Fattura", Kind: pec.KindPostaCertificata},
			"ingest", smistamento.Classification{Piano: "Titolario 2026", TipoRegistro: "Nessuno", CodiceRegistro: "GEN"}, ""},
		{"mailbox and recipient", smistamento.Message{Sources: []string{"imaps://x@h/INBOX (Protocollo generale)"}, To: []string{"a@b", "GARE@pec.ente.example"}},
			"rule 3", smistamento.Classification{Fascicolo: "gare", Piano: "Titolario 2026", TipoRegistro: "Nessuno", CodiceRegistro: "GEN"}, ""},
		{"recipient without the mailbox", smistamento.Message{Sources: []string{"/srv/pec"}, To: []string{"gare@pec.ente.example"}},
			"ingest", smistamento.Classification{Piano: "Titolario 2026", TipoRegistro: "Nessuno", CodiceRegistro: "GEN"}, ""},
	} {
		ev := smistamento.File(rs, def, c.m)
		if ev.By != c.by || ev.Class != c.class || !ev.At.IsZero() {
			t.Errorf("%s: %+v, want %s %+v", c.name, ev, c.by, c.class)
		}
	}
	// Rules never compiled still match (compiled on the spot).
	if ev := smistamento.File(rules[:1], def, smistamento.Message{Subject: "Fattura", Kind: pec.KindPostaCertificata}); ev.By != "rule 1" {
		t.Errorf("uncompiled rule: %+v", ev)
	}
}

func TestReclassifyChange(t *testing.T) {
	if _, err := (smistamento.Change{Code: "7"}).Check(" "); err == nil {
		t.Error("a change without its author accepted")
	}
	if _, err := (smistamento.Change{}).Check("Mario Rossi"); err == nil {
		t.Error("an empty change accepted")
	}
	if _, err := (smistamento.Change{TipoRegistro: "diario"}).Check("Mario Rossi"); err == nil {
		t.Error("an unknown register accepted")
	}
	ch, err := (smistamento.Change{Code: "7.1", TipoRegistro: "repertorio"}).Check("Mario Rossi")
	if err != nil {
		t.Fatal(err)
	}
	cur := smistamento.Classification{Code: "4.2.1", Fascicolo: "fatture-2026", TipoRegistro: "Nessuno"}
	got := ch.Apply(cur)
	want := smistamento.Classification{Code: "7.1", Fascicolo: "fatture-2026", TipoRegistro: "Repertorio/Registro"}
	if got != want || cur.Code != "4.2.1" {
		t.Errorf("applied %+v, want %+v", got, want)
	}
}

// The store's names of a message's reclassifications sort in time order.
func TestEventKeysSortInTime(t *testing.T) {
	t0 := time.Date(2026, 11, 30, 9, 59, 59, 999_999_999, time.FixedZone("CET", 3600))
	t1 := t0.Add(time.Nanosecond)
	k0, k1 := smistamento.EventKey("ab", t0), smistamento.EventKey("ab", t1)
	if k0 != "classifications/ab/20261130T085959.999999999Z.json" || !(k0 < k1) || !strings.HasPrefix(k1, smistamento.EventsPrefix("ab")) {
		t.Errorf("%s, %s", k0, k1)
	}
}
