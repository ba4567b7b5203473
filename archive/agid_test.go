package archive_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/beevik/etree"
	"github.com/conserva/conserva/archive"
	"github.com/conserva/conserva/internal/pecgen"
	"github.com/conserva/conserva/internal/testutil"
	"github.com/conserva/conserva/pec"
	"github.com/conserva/conserva/sip"
)

const agidConfig = `store = "local"
retention = "7y"
[agid]
addresses = ["ufficio@pec.ente.example"]
piano = "Titolario 2026"
[[classify]]
subject = "^Fattura"
kind = "posta-certificata"
class = "4.2.1"
description = "Fatture passive"
fascicolo = "fatture-2026"
tipo_registro = "protocollo"
codice_registro = "PG"
[[classify]]
sender = "ufficio@pec.ente.example"
class = "1.1"
`

// openWith opens a fresh archive with the given conserva.toml.
func openWith(t *testing.T, config string) *archive.Archive {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "archive")
	os.MkdirAll(dir, 0o755)
	if err := os.WriteFile(filepath.Join(dir, "conserva.toml"), []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	a, err := archive.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

func xmllint(t *testing.T, xsd string, files ...string) error {
	t.Helper()
	args := append([]string{"--noout", "--schema", filepath.Join(testutil.RepoRoot(t), "schemas", xsd)}, files...)
	out, err := exec.Command(testutil.Tool(t, "xmllint"), args...).CombinedOutput()
	if err != nil {
		return &xmlErr{string(out)}
	}
	return nil
}

type xmlErr struct{ s string }

func (e *xmlErr) Error() string { return e.s }

func text(t *testing.T, root *etree.Element, path string) string {
	t.Helper()
	e := root.FindElement(path)
	if e == nil {
		t.Errorf("%s: no %s", root.Tag, path)
		return ""
	}
	if strings.TrimSpace(e.Text()) == "" {
		t.Errorf("%s: %s is empty", root.Tag, path)
	}
	return e.Text()
}

// Every kind of message gets Allegato 5 metadata that validate against the
// shipped schema and say what the message says, not placeholders.
func TestAllegato5MetadataEveryKind(t *testing.T) {
	w, err := newWorld()
	if err != nil {
		t.Fatal(err)
	}
	a := openWith(t, agidConfig)
	dir := t.TempDir()
	payload := []byte("%PDF-1.4 fattura di prova")
	paySum := sha256.Sum256(payload)
	subjects := map[pec.Kind]string{}
	for i, k := range pec.Kinds {
		spec := pecgen.Spec{Kind: k, Subject: "Oggetto " + string(k), Attachment: payload}
		switch k {
		case pec.KindPostaCertificata:
			spec.Subject = "Fattura 2026/17"
		case pec.KindAnomalia:
			spec.Attachment = nil
		case pec.KindAccettazione:
			spec.Sender = "ufficio@pec.ente.example"
		}
		subjects[k] = spec.Subject
		raw, err := w.prov.Build(spec)
		if err != nil {
			t.Fatal(err)
		}
		writeFiles(t, dir, map[string][]byte{string(rune('a'+i)) + ".eml": raw})
	}
	// Sent by the organisation: outgoing.
	raw, err := w.prov.Build(pecgen.Spec{Kind: pec.KindPostaCertificata, Sender: "ufficio@pec.ente.example", Subject: "Risposta"})
	if err != nil {
		t.Fatal(err)
	}
	writeFiles(t, dir, map[string][]byte{"out.eml": raw})
	run(t, a, pec.NewTrustStore(w.ca.Cert), dir)
	pkgs, _, err := a.Seal(context.Background(), archive.SealOptions{})
	if err != nil || len(pkgs) != 1 {
		t.Fatalf("seal: %v %+v", err, pkgs)
	}
	checkPackage(t, a, pkgs[0].ID, filepath.Join(a.Dir, "keys", "dev-ca.pem"))
	pdir := testutil.Unpack(t, packageDir(a, pkgs[0].ID))
	kinds := map[pec.Kind]bool{}
	outgoing := 0
	err = a.Catalog.Scan(func(r *archive.Record) error {
		kinds[r.Kind] = true
		doc := etree.NewDocument()
		if err := doc.ReadFromFile(filepath.Join(pdir, "meta", r.ID+".xml")); err != nil {
			t.Fatal(err)
		}
		m := doc.Root()
		if m.Tag != "DocumentoInformatico" {
			t.Fatalf("root %s", m.Tag)
		}
		for _, p := range []string{"IdDoc/Identificativo", "ModalitaDiFormazione", "DatiDiRegistrazione/TipoRegistro/Tipo",
			"DatiDiRegistrazione/TipoRegistro/DataRegistrazioneDocumento", "ChiaveDescrittiva/Oggetto", "Riservato",
			"IdentificativoDelFormato/Formato", "IdentificativoDelFormato/ProdottoSoftware/NomeProdotto",
			"Verifica/FirmatoDigitalmente", "Verifica/SigillatoElettronicamente", "Verifica/MarcaturaTemporale",
			"Verifica/ConformitaCopieImmagineSuSupportoInformatico", "NomeDelDocumento", "VersioneDelDocumento",
			"IdAgg/IdAggregazione", "Estensioni/PEC/FirmaDelGestore/Esito"} {
			text(t, m, p)
		}
		if got := text(t, m, "IdDoc/ImprontaCrittograficaDelDocumento/Impronta"); got != r.ID {
			t.Errorf("%s: Impronta %s", r.Kind, got)
		}
		if got := text(t, m, "TipologiaDocumentale"); got != sip.DocumentType(string(r.Kind)) || (r.Kind != pec.KindNotPEC && strings.Contains(got, "non PEC")) {
			t.Errorf("%s: TipologiaDocumentale %q", r.Kind, got)
		}
		if got := text(t, m, "ChiaveDescrittiva/Oggetto"); r.Kind != pec.KindAnomalia && !strings.Contains(got, subjects[r.Kind]) && !strings.HasSuffix(got, "Risposta") {
			t.Errorf("%s: Oggetto %q", r.Kind, got)
		}
		if got := text(t, m, "TempoDiConservazione"); got != "7" {
			t.Errorf("%s: TempoDiConservazione %q, want 7 (retention 7y)", r.Kind, got)
		}
		if got := text(t, m, "Estensioni/PEC/Tipo"); got != string(r.Kind) {
			t.Errorf("%s: PEC/Tipo %q", r.Kind, got)
		}
		if got := m.FindElement("Soggetti/Ruolo[TipoRuolo='Mittente']/IndirizziDigitaliDiRiferimento"); got == nil || got.Text() != r.From {
			t.Errorf("%s: no Mittente %s", r.Kind, r.From)
		}
		if len(r.To) > 0 && m.FindElement("Soggetti/Ruolo[TipoRuolo='Destinatario']/IndirizziDigitaliDiRiferimento") == nil {
			t.Errorf("%s: no Destinatario", r.Kind)
		}
		if m.FindElement("Soggetti/Ruolo[TipoRuolo='Operatore']/Denominazione") == nil {
			t.Errorf("%s: no Operatore", r.Kind)
		}
		flow := text(t, m, "DatiDiRegistrazione/TipologiaDiFlusso")
		switch {
		case r.Kind.IsReceipt() && flow != "U":
			t.Errorf("%s: flow %s, want U", r.Kind, flow)
		case r.Kind == pec.KindPostaCertificata && r.From == "ufficio@pec.ente.example":
			outgoing++
			if flow != "U" || text(t, m, "Classificazione/IndiceDiClassificazione") != "1.1" {
				t.Errorf("sent by the organisation: flow %s", flow)
			}
		case r.Kind == pec.KindPostaCertificata && flow != "E":
			t.Errorf("received: flow %s", flow)
		}
		if r.Kind == pec.KindPostaCertificata && strings.HasSuffix(r.Subject, "Fattura 2026/17") {
			if text(t, m, "Classificazione/IndiceDiClassificazione") != "4.2.1" || text(t, m, "Classificazione/PianoDiClassificazione") != "Titolario 2026" ||
				text(t, m, "IdAgg/IdAggregazione") != "fatture-2026" || text(t, m, "DatiDiRegistrazione/TipoRegistro/Tipo") != "Protocollo Ordinario/Protocollo Emergenza" ||
				text(t, m, "DatiDiRegistrazione/TipoRegistro/CodiceRegistro") != "PG" {
				t.Errorf("the classification rule is not in the metadata")
			}
		}
		n := text(t, m, "Allegati/NumeroAllegati")
		if r.Kind == pec.KindPostaCertificata && strings.HasSuffix(r.Subject, "Fattura 2026/17") {
			if n != "1" || text(t, m, "Allegati/IndiceAllegati/NomeAllegato") != "documento.pdf" ||
				text(t, m, "Allegati/IndiceAllegati/ImprontaCrittograficaDelDocumento/Impronta") != hex.EncodeToString(paySum[:]) {
				t.Errorf("attachments: %s", n)
			}
		}
		if r.Kind == pec.KindNotPEC && (text(t, m, "Verifica/SigillatoElettronicamente") != "false") {
			t.Error("a plain mail is said sealed")
		}
		if r.Kind == pec.KindAccettazione && text(t, m, "Verifica/SigillatoElettronicamente") != "true" {
			t.Error("a signed receipt is said not sealed")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(kinds) != len(pec.Kinds) || outgoing != 1 {
		t.Fatalf("kinds %v outgoing %d", kinds, outgoing)
	}
	aggs, _ := filepath.Glob(filepath.Join(pdir, "aggregazioni", "*.xml"))
	if len(aggs) < 2 {
		t.Fatalf("%d aggregation records", len(aggs))
	}
	if err := xmllint(t, "conserva-metadati.xsd", aggs...); err != nil {
		t.Fatalf("aggregations do not validate: %v", err)
	}
	index, _ := os.ReadFile(filepath.Join(pdir, "index.xml"))
	found := false
	for _, f := range aggs {
		if !strings.Contains(string(index), "aggregazioni/"+filepath.Base(f)) {
			t.Errorf("%s is not in the package index", filepath.Base(f))
		}
		doc := etree.NewDocument()
		doc.ReadFromFile(f)
		if doc.Root().FindElement("IdAgg/IdAggregazione").Text() == "fatture-2026" {
			found = true
			if text(t, doc.Root(), "Classificazione/IndiceDiClassificazione") != "4.2.1" || len(doc.Root().FindElements("IndiceDocumenti/Documento")) != 1 {
				t.Error("the fascicolo's record does not say its classification and document")
			}
			text(t, doc.Root(), "DataApertura")
			text(t, doc.Root(), "Soggetti/Ruolo/IndirizziDigitaliDiRiferimento")
		}
	}
	if !found {
		t.Error("no record of the fascicolo")
	}
	// Damage: a metadata file missing what the schema requires is refused.
	metas, _ := filepath.Glob(filepath.Join(pdir, "meta", "*.xml"))
	data, _ := os.ReadFile(metas[0])
	bad := filepath.Join(t.TempDir(), "bad.xml")
	os.WriteFile(bad, []byte(strings.Replace(string(data), "<ModalitaDiFormazione>b</ModalitaDiFormazione>", "", 1)), 0o644)
	if err := xmllint(t, "conserva-metadati.xsd", bad); err == nil {
		t.Fatal("a metadata file without ModalitaDiFormazione validates")
	}
	os.WriteFile(bad, []byte(strings.Replace(string(data), "<TempoDiConservazione>7<", "<TempoDiConservazione>sette<", 1)), 0o644)
	if err := xmllint(t, "conserva-metadati.xsd", bad); err == nil {
		t.Fatal("a non-numeric TempoDiConservazione validates")
	}
}

func TestClassifyRulesRefusedAtLoad(t *testing.T) {
	for _, bad := range []string{
		"[[classify]]\nsubject = \"(\"\nclass = \"1\"\n",
		"[[classify]]\nkind = \"telegramma\"\nclass = \"1\"\n",
		"[[classify]]\nsender = \"a@b\"\n",
		"[agid]\ntipo_registro = \"diario\"\n",
	} {
		dir := filepath.Join(t.TempDir(), "archive")
		os.MkdirAll(dir, 0o755)
		os.WriteFile(filepath.Join(dir, "conserva.toml"), []byte(bad), 0o644)
		if a, err := archive.Open(dir, nil); err == nil {
			a.Close()
			t.Errorf("accepted %q", bad)
		}
	}
}
