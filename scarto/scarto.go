// Package scarto writes the documents of a disposal (scarto) at the end of
// retention: the proposal, its approval and the disposal record (verbale),
// each signed and timestamped by the conservator and kept.
// Schema: schemas/conserva-scarto.xsd.
package scarto

import (
	"strconv"
	"time"

	"github.com/beevik/etree"
	"github.com/conserva/conserva/schemas"
)

// Message is one document of a dossier proposed for disposal.
type Message struct {
	ID           string    `json:"id"` // SHA-256 of the stored bytes
	Key          string    `json:"key"`
	Version      string    `json:"version,omitempty"`
	Kind         string    `json:"kind"`
	Size         int64     `json:"size"`
	Package      string    `json:"package"`
	RetentionEnd time.Time `json:"retention_end"`
}

// Dossier is one aggregation proposed for disposal, whole.
type Dossier struct {
	ID           string    `json:"dossier"`
	Fascicolo    string    `json:"fascicolo,omitempty"`
	Class        string    `json:"class,omitempty"`
	RetentionEnd time.Time `json:"retention_end"` // the latest of its messages'
	Messages     []Message `json:"messages"`
}

// Outcome is what happened to one message at execution.
type Outcome struct {
	ID     string `json:"id"`
	Key    string `json:"key"`
	Reason string `json:"reason,omitempty"` // why it was not deleted
}

func utc(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func newDoc(root string) (*etree.Document, *etree.Element) {
	doc := etree.NewDocument()
	doc.CreateProcInst("xml", `version="1.0" encoding="UTF-8"`)
	e := doc.CreateElement(root)
	e.CreateAttr("xmlns", schemas.ScartoNS)
	return doc, e
}

func bytesOf(doc *etree.Document) ([]byte, error) {
	doc.Indent(1)
	return doc.WriteToBytes()
}

// ProposalXML renders the proposta di scarto.
func ProposalXML(id string, created, before time.Time, holder string, dossiers []Dossier) ([]byte, error) {
	doc, root := newDoc("PropostaDiScarto")
	root.CreateElement("IdProposta").SetText(id)
	root.CreateElement("Data").SetText(utc(created))
	root.CreateElement("RetenzioneTerminataEntro").SetText(utc(before))
	root.CreateElement("Conservatore").SetText(holder)
	root.CreateElement("NumeroAggregazioni").SetText(strconv.Itoa(len(dossiers)))
	for _, d := range dossiers {
		a := root.CreateElement("Aggregazione")
		a.CreateElement("IdAggregazione").SetText(d.ID)
		if d.Fascicolo != "" {
			a.CreateElement("Fascicolo").SetText(d.Fascicolo)
		}
		if d.Class != "" {
			a.CreateElement("IndiceDiClassificazione").SetText(d.Class)
		}
		a.CreateElement("FineConservazione").SetText(utc(d.RetentionEnd))
		for _, m := range d.Messages {
			e := a.CreateElement("Documento")
			e.CreateElement("Identificativo").SetText(m.ID)
			imp := e.CreateElement("Impronta")
			imp.CreateAttr("Algoritmo", "SHA-256")
			imp.SetText(m.ID)
			e.CreateElement("Oggetto").SetText(m.Key)
			e.CreateElement("Tipo").SetText(m.Kind)
			e.CreateElement("Pacchetto").SetText(m.Package)
			e.CreateElement("FineConservazione").SetText(utc(m.RetentionEnd))
		}
	}
	return bytesOf(doc)
}

// ApprovalXML renders the approval of a proposal: who approved it, and the
// reference of the authorisation (for public archives, the
// Soprintendenza's).
func ApprovalXML(proposal, proposalSHA256 string, at time.Time, by, authorization string) ([]byte, error) {
	doc, root := newDoc("ApprovazioneScarto")
	root.CreateElement("IdProposta").SetText(proposal)
	imp := root.CreateElement("ImprontaProposta")
	imp.CreateAttr("Algoritmo", "SHA-256")
	imp.SetText(proposalSHA256)
	root.CreateElement("Data").SetText(utc(at))
	root.CreateElement("ApprovatoDa").SetText(by)
	if authorization != "" {
		root.CreateElement("Autorizzazione").SetText(authorization)
	}
	return bytesOf(doc)
}

// DisposalXML renders the verbale di scarto: what was deleted, when, on
// whose approval, and what the store refused.
func DisposalXML(proposal, proposalSHA256 string, at time.Time, by, authorization string, deleted, refused []Outcome) ([]byte, error) {
	doc, root := newDoc("VerbaleDiScarto")
	root.CreateElement("IdProposta").SetText(proposal)
	imp := root.CreateElement("ImprontaProposta")
	imp.CreateAttr("Algoritmo", "SHA-256")
	imp.SetText(proposalSHA256)
	root.CreateElement("Data").SetText(utc(at))
	root.CreateElement("ApprovatoDa").SetText(by)
	if authorization != "" {
		root.CreateElement("Autorizzazione").SetText(authorization)
	}
	root.CreateElement("NumeroEliminati").SetText(strconv.Itoa(len(deleted)))
	root.CreateElement("NumeroNonEliminati").SetText(strconv.Itoa(len(refused)))
	for _, o := range deleted {
		e := root.CreateElement("Eliminato")
		e.CreateElement("Identificativo").SetText(o.ID)
		e.CreateElement("Oggetto").SetText(o.Key)
	}
	for _, o := range refused {
		e := root.CreateElement("NonEliminato")
		e.CreateElement("Identificativo").SetText(o.ID)
		e.CreateElement("Oggetto").SetText(o.Key)
		e.CreateElement("Motivo").SetText(o.Reason)
	}
	return bytesOf(doc)
}
