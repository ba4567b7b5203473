package sip

import (
	"strings"
	"time"

	"github.com/beevik/etree"
	"github.com/conserva/conserva/schemas"
)

// Document is what the metadata of one preserved message says.
type Document struct {
	SHA256         string
	Kind           string // PEC kind: TipologiaDocumentale
	Flow           string // E (received), U (sent), I (internal)
	Registered     time.Time
	Sender         string
	Recipients     []string
	Subject        string
	Verdict        string
	Reason         string
	Signer         string
	SignedAt       *time.Time
	Retention      string
	Identificativo string
	Msgid          string
	ReceiptType    string
	Consegna       string
	Linked         string // the original Message-ID of the dossier
}

// MetadataXML renders the AgID Allegato 5 metadata of a document, in
// conserva's schema (schemas/conserva-metadati.xsd). It depends on the
// document alone, so that an interrupted seal writes the same bytes again.
func (d *Document) MetadataXML() ([]byte, error) {
	doc := etree.NewDocument()
	doc.CreateProcInst("xml", `version="1.0" encoding="UTF-8"`)
	root := doc.CreateElement("m:Documento")
	root.CreateAttr("xmlns:m", schemas.MetadataNS)
	iddoc := root.CreateElement("m:IdDoc")
	iddoc.CreateElement("m:ImprontaCrittografica").SetText(d.SHA256)
	iddoc.CreateElement("m:Algoritmo").SetText("SHA-256")
	iddoc.CreateElement("m:Identificativo").SetText(d.SHA256)
	// b: "acquisizione di un documento informatico per via telematica".
	root.CreateElement("m:ModalitaDiFormazione").SetText("b")
	root.CreateElement("m:TipologiaDocumentale").SetText(d.Kind)
	reg := root.CreateElement("m:DatiDiRegistrazione")
	reg.CreateElement("m:TipologiaDiFlusso").SetText(d.Flow)
	reg.CreateElement("m:DataRegistrazione").SetText(d.Registered.UTC().Format(time.RFC3339))
	subj := root.CreateElement("m:Soggetti")
	if d.Sender != "" {
		soggetto(subj, "mittente", d.Sender)
	}
	for _, r := range d.Recipients {
		soggetto(subj, "destinatario", r)
	}
	root.CreateElement("m:ChiaveDescrittiva").CreateElement("m:Oggetto").SetText(d.Subject)
	f := root.CreateElement("m:IdentificativoDelFormato")
	f.CreateElement("m:Formato").SetText("message/rfc822")
	f.CreateElement("m:Estensione").SetText("eml")
	v := root.CreateElement("m:Verifica")
	v.CreateElement("m:FirmaDelGestore").SetText(d.Verdict)
	v.CreateElement("m:Motivo").SetText(d.Reason)
	if d.Signer != "" {
		v.CreateElement("m:Firmatario").SetText(d.Signer)
	}
	if d.SignedAt != nil {
		v.CreateElement("m:DataFirma").SetText(d.SignedAt.UTC().Format(time.RFC3339))
	}
	root.CreateElement("m:TempoDiConservazione").SetText(d.Retention)
	p := root.CreateElement("m:PEC")
	opt := func(tag, val string) {
		if strings.TrimSpace(val) != "" {
			p.CreateElement(tag).SetText(val)
		}
	}
	opt("m:Identificativo", d.Identificativo)
	opt("m:Msgid", d.Msgid)
	opt("m:TipoRicevuta", d.ReceiptType)
	opt("m:Consegna", d.Consegna)
	opt("m:MessaggioCollegato", d.Linked)
	doc.Indent(1)
	return doc.WriteToBytes()
}

func soggetto(parent *etree.Element, ruolo, addr string) {
	s := parent.CreateElement("m:Soggetto")
	s.CreateAttr("ruolo", ruolo)
	s.CreateElement("m:IndirizzoPEC").SetText(addr)
}
