// Package versamento writes and reads the rapporto di versamento: the
// conservator's signed acceptance report of one ingest run (AgID Linee
// Guida, §4.7), listing what the run archived, flagged and refused.
// Schema: schemas/conserva-versamento.xsd.
package versamento

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/beevik/etree"
	"github.com/conserva/conserva/schemas"
)

// Report is one rapporto di versamento.
type Report struct {
	Run         string    `json:"run"`
	Created     time.Time `json:"created"` // the UTC time reference of the report
	Started     time.Time `json:"started"`
	Producer    string    `json:"producer"`    // produttore (submitter)
	Conservator string    `json:"conservator"` // who keeps it (holder)
	Sources     []string  `json:"sources"`
	Seen        int       `json:"seen"`
	Duplicates  int       `json:"duplicates"`
	Entries     []Entry   `json:"documents"`
	Refused     []Refusal `json:"refused,omitempty"`
}

// Entry is one message the run archived.
type Entry struct {
	ID      string `json:"id"` // SHA-256 of the stored bytes
	Source  string `json:"source"`
	Kind    string `json:"kind"`
	Verdict string `json:"verdict"`
	Reason  string `json:"reason,omitempty"`
	Flagged bool   `json:"flagged"`
}

// Refusal is something the run could not archive, and why.
type Refusal struct {
	Source string `json:"source"`
	Reason string `json:"reason"`
}

// Flagged counts the entries archived with a finding.
func (r *Report) Flagged() int {
	n := 0
	for _, e := range r.Entries {
		if e.Flagged {
			n++
		}
	}
	return n
}

func utc(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// XML renders the report.
func (r *Report) XML() ([]byte, error) {
	doc := etree.NewDocument()
	doc.CreateProcInst("xml", `version="1.0" encoding="UTF-8"`)
	root := doc.CreateElement("RapportoDiVersamento")
	root.CreateAttr("xmlns", schemas.VersamentoNS)
	root.CreateElement("IdRapporto").SetText(r.Run)
	root.CreateElement("RiferimentoTemporale").SetText(utc(r.Created))
	root.CreateElement("InizioVersamento").SetText(utc(r.Started))
	root.CreateElement("Produttore").SetText(r.Producer)
	root.CreateElement("Conservatore").SetText(r.Conservator)
	src := root.CreateElement("Sorgenti")
	for _, s := range r.Sources {
		src.CreateElement("Sorgente").SetText(s)
	}
	sum := root.CreateElement("Riepilogo")
	sum.CreateElement("Esaminati").SetText(strconv.Itoa(r.Seen))
	sum.CreateElement("Archiviati").SetText(strconv.Itoa(len(r.Entries)))
	sum.CreateElement("Segnalati").SetText(strconv.Itoa(r.Flagged()))
	sum.CreateElement("Duplicati").SetText(strconv.Itoa(r.Duplicates))
	sum.CreateElement("Rifiutati").SetText(strconv.Itoa(len(r.Refused)))
	docs := root.CreateElement("Documenti")
	for _, e := range r.Entries {
		d := docs.CreateElement("Documento")
		d.CreateElement("Identificativo").SetText(e.ID)
		imp := d.CreateElement("Impronta")
		imp.CreateAttr("Algoritmo", "SHA-256")
		imp.SetText(e.ID)
		d.CreateElement("Sorgente").SetText(e.Source)
		d.CreateElement("Tipo").SetText(e.Kind)
		d.CreateElement("EsitoFirmaGestore").SetText(e.Verdict)
		if e.Reason != "" {
			d.CreateElement("Motivo").SetText(e.Reason)
		}
		st := "accettato"
		if e.Flagged {
			st = "accettato con segnalazione"
		}
		d.CreateElement("Stato").SetText(st)
	}
	ref := root.CreateElement("Rifiutati")
	for _, f := range r.Refused {
		x := ref.CreateElement("Rifiutato")
		x.CreateElement("Sorgente").SetText(f.Source)
		x.CreateElement("Motivo").SetText(f.Reason)
	}
	doc.Indent(1)
	return doc.WriteToBytes()
}

// Parse reads a report back (to list the reports of a store whose catalog
// was rebuilt).
func Parse(data []byte) (*Report, error) {
	doc := etree.NewDocument()
	doc.ReadSettings.Permissive = false
	if err := doc.ReadFromBytes(data); err != nil {
		return nil, fmt.Errorf("rapporto.xml: %w", err)
	}
	root := doc.Root()
	if root == nil || root.Tag != "RapportoDiVersamento" || root.SelectAttrValue("xmlns", "") != schemas.VersamentoNS {
		return nil, errors.New("rapporto.xml: not a rapporto di versamento")
	}
	get := func(e *etree.Element, p string) string {
		if x := e.FindElement(p); x != nil {
			return x.Text()
		}
		return ""
	}
	at := func(p string) time.Time {
		t, _ := time.Parse(time.RFC3339, get(root, p))
		return t
	}
	r := &Report{Run: get(root, "IdRapporto"), Created: at("RiferimentoTemporale"), Started: at("InizioVersamento"),
		Producer: get(root, "Produttore"), Conservator: get(root, "Conservatore")}
	if r.Run == "" || r.Created.IsZero() {
		return nil, errors.New("rapporto.xml: no IdRapporto or RiferimentoTemporale")
	}
	for _, s := range root.FindElements("Sorgenti/Sorgente") {
		r.Sources = append(r.Sources, s.Text())
	}
	r.Seen, _ = strconv.Atoi(get(root, "Riepilogo/Esaminati"))
	r.Duplicates, _ = strconv.Atoi(get(root, "Riepilogo/Duplicati"))
	for _, d := range root.FindElements("Documenti/Documento") {
		r.Entries = append(r.Entries, Entry{ID: get(d, "Identificativo"), Source: get(d, "Sorgente"), Kind: get(d, "Tipo"),
			Verdict: get(d, "EsitoFirmaGestore"), Reason: get(d, "Motivo"), Flagged: get(d, "Stato") != "accettato"})
	}
	for _, f := range root.FindElements("Rifiutati/Rifiutato") {
		r.Refused = append(r.Refused, Refusal{Source: get(f, "Sorgente"), Reason: get(f, "Motivo")})
	}
	return r, nil
}
