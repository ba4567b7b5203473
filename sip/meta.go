package sip

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/beevik/etree"
	"github.com/conserva/conserva/schemas"
)

// Document is what the metadata of one preserved message says: the AgID
// Linee Guida's Allegato 5 (metadati del documento informatico), plus the
// PEC specifics in an extension block. See docs/AGID.md for the mapping.
type Document struct {
	SHA256 string
	// Kind is the PEC kind (posta-certificata, avvenuta-consegna, …);
	// TipologiaDocumentale is said in words from it.
	Kind string
	Flow string // E (received), U (sent), I (internal), from the mailbox's point of view
	// Registration: when conserva acquired it, in which register.
	Registered   time.Time
	TipoRegistro string // Nessuno, Protocollo Ordinario/Protocollo Emergenza, Repertorio/Registro
	CodiceReg    string // the register's code, when TipoRegistro is not Nessuno
	NumeroReg    string // the protocol / repertory number, when configured
	Sender       string
	Recipients   []string
	Operator     string // the mailbox or folder it was acquired from
	Subject      string
	Attachments  []Attachment
	// AttachmentsNote says why the list may be incomplete.
	AttachmentsNote string
	Class           string // titolario code
	ClassDesc       string
	Piano           string // the classification plan's name
	Fascicolo       string // the aggregazione the document belongs to
	Riservato       bool
	// The software that produced the message: the provider's PEC system.
	Product, ProductVersion, Producer string
	Verdict, Reason, Signer           string
	SignedAt                          *time.Time
	// Signed: an attachment of the original is itself digitally signed.
	Signed         bool
	TimeStamped    bool
	Name           string // NomeDelDocumento
	Version        string
	RetentionYears int
	Note           string

	// PEC specifics.
	Identificativo string
	Msgid          string
	ReceiptType    string
	Consegna       string
	Linked         string // the original Message-ID of the dossier
	Date           *time.Time
	Errore         string
}

// Attachment is one file attached to the original message.
type Attachment struct {
	Name   string
	SHA256 string
	Size   int64
	Type   string
}

// DocumentType says a PEC kind as Allegato 5's TipologiaDocumentale.
func DocumentType(kind string) string {
	switch kind {
	case "posta-certificata":
		return "PEC - busta di trasporto"
	case "anomalia":
		return "PEC - busta di anomalia"
	case "accettazione":
		return "Ricevuta di accettazione"
	case "non-accettazione":
		return "Avviso di non accettazione"
	case "presa-in-carico":
		return "Ricevuta di presa in carico"
	case "avvenuta-consegna":
		return "Ricevuta di avvenuta consegna"
	case "errore-consegna":
		return "Avviso di mancata consegna"
	case "preavviso-errore-consegna":
		return "Avviso di mancata consegna per superamento dei tempi massimi"
	case "rilevazione-virus":
		return "Avviso di rilevazione virus informatico"
	}
	return "Messaggio di posta elettronica non PEC"
}

// RetentionYears is a retention such as "10y" or "3650d" in whole years,
// rounded up: TempoDiConservazione is a number of years.
func RetentionYears(s string) int {
	y, d := 0, 0
	rest := strings.ToLower(strings.TrimSpace(s))
	for rest != "" {
		i := strings.IndexAny(rest, "yd")
		if i <= 0 {
			return 0
		}
		n, err := strconv.Atoi(rest[:i])
		if err != nil {
			return 0
		}
		if rest[i] == 'y' {
			y += n
		} else {
			d += n
		}
		rest = rest[i+1:]
	}
	return y + (d+364)/365
}

func yesNo(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

func utc(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// MetadataXML renders the metadata of a document (schemas/conserva-allegato5.xsd).
// It depends on the document alone, so that an interrupted seal writes the
// same bytes again.
func (d *Document) MetadataXML() ([]byte, error) {
	doc := etree.NewDocument()
	doc.CreateProcInst("xml", `version="1.0" encoding="UTF-8"`)
	root := doc.CreateElement("DocumentoInformatico")
	root.CreateAttr("xmlns", schemas.MetadataNS)
	iddoc := root.CreateElement("IdDoc")
	imp := iddoc.CreateElement("ImprontaCrittograficaDelDocumento")
	imp.CreateElement("Impronta").SetText(d.SHA256)
	imp.CreateElement("Algoritmo").SetText("SHA-256")
	iddoc.CreateElement("Identificativo").SetText(d.SHA256)
	// b: "acquisizione di un documento informatico per via telematica".
	root.CreateElement("ModalitaDiFormazione").SetText("b")
	root.CreateElement("TipologiaDocumentale").SetText(DocumentType(d.Kind))
	reg := root.CreateElement("DatiDiRegistrazione")
	reg.CreateElement("TipologiaDiFlusso").SetText(d.Flow)
	tr := reg.CreateElement("TipoRegistro")
	kind := firstNonEmptyString(d.TipoRegistro, "Nessuno")
	tr.CreateElement("Tipo").SetText(kind)
	tr.CreateElement("DataRegistrazioneDocumento").SetText(utc(d.Registered))
	if d.NumeroReg != "" {
		if strings.HasPrefix(kind, "Protocollo") {
			tr.CreateElement("NumeroProtocolloDocumento").SetText(d.NumeroReg)
		} else {
			tr.CreateElement("NumeroDocumento").SetText(d.NumeroReg)
		}
	}
	if d.CodiceReg != "" {
		tr.CreateElement("CodiceRegistro").SetText(d.CodiceReg)
	}
	subj := root.CreateElement("Soggetti")
	if d.Sender != "" {
		soggetto(subj, "Mittente", d.Sender, "")
	}
	for _, r := range d.Recipients {
		soggetto(subj, "Destinatario", r, "")
	}
	if d.Operator != "" {
		soggetto(subj, "Operatore", "", d.Operator)
	}
	ck := root.CreateElement("ChiaveDescrittiva")
	ck.CreateElement("Oggetto").SetText(d.Subject)
	al := root.CreateElement("Allegati")
	al.CreateElement("NumeroAllegati").SetText(strconv.Itoa(len(d.Attachments)))
	for _, a := range d.Attachments {
		ia := al.CreateElement("IndiceAllegati")
		ia.CreateElement("NomeAllegato").SetText(a.Name)
		ai := ia.CreateElement("ImprontaCrittograficaDelDocumento")
		ai.CreateElement("Impronta").SetText(a.SHA256)
		ai.CreateElement("Algoritmo").SetText("SHA-256")
		ia.CreateElement("Descrizione").SetText(fmt.Sprintf("%s, %d byte", firstNonEmptyString(a.Type, "application/octet-stream"), a.Size))
	}
	if d.Class != "" {
		c := root.CreateElement("Classificazione")
		c.CreateElement("IndiceDiClassificazione").SetText(d.Class)
		if d.ClassDesc != "" {
			c.CreateElement("Descrizione").SetText(d.ClassDesc)
		}
		if d.Piano != "" {
			c.CreateElement("PianoDiClassificazione").SetText(d.Piano)
		}
	}
	root.CreateElement("Riservato").SetText(yesNo(d.Riservato))
	f := root.CreateElement("IdentificativoDelFormato")
	f.CreateElement("Formato").SetText("message/rfc822")
	ps := f.CreateElement("ProdottoSoftware")
	ps.CreateElement("NomeProdotto").SetText(d.Product)
	if d.ProductVersion != "" {
		ps.CreateElement("VersioneProdotto").SetText(d.ProductVersion)
	}
	if d.Producer != "" {
		ps.CreateElement("Produttore").SetText(d.Producer)
	}
	v := root.CreateElement("Verifica")
	v.CreateElement("FirmatoDigitalmente").SetText(yesNo(d.Signed))
	// The provider's S/MIME signature is the gestore's electronic seal.
	v.CreateElement("SigillatoElettronicamente").SetText(yesNo(d.Verdict != "" && d.Verdict != "absent"))
	v.CreateElement("MarcaturaTemporale").SetText(yesNo(d.TimeStamped))
	v.CreateElement("ConformitaCopieImmagineSuSupportoInformatico").SetText("false")
	if d.Fascicolo != "" {
		ag := root.CreateElement("IdAgg")
		ag.CreateElement("TipoAggregazione").SetText("Fascicolo")
		ag.CreateElement("IdAggregazione").SetText(d.Fascicolo)
	}
	root.CreateElement("NomeDelDocumento").SetText(d.Name)
	root.CreateElement("VersioneDelDocumento").SetText(firstNonEmptyString(d.Version, "1"))
	root.CreateElement("TempoDiConservazione").SetText(strconv.Itoa(d.RetentionYears))
	if d.Note != "" {
		root.CreateElement("Note").SetText(d.Note)
	}
	p := root.CreateElement("Estensioni").CreateElement("PEC")
	opt := func(tag, val string) {
		if strings.TrimSpace(val) != "" {
			p.CreateElement(tag).SetText(val)
		}
	}
	p.CreateElement("Tipo").SetText(firstNonEmptyString(d.Kind, "not-pec"))
	opt("Identificativo", d.Identificativo)
	opt("Msgid", d.Msgid)
	opt("TipoRicevuta", d.ReceiptType)
	opt("Consegna", d.Consegna)
	if d.Date != nil {
		p.CreateElement("Data").SetText(utc(*d.Date))
	}
	opt("Errore", d.Errore)
	opt("MessaggioCollegato", d.Linked)
	g := p.CreateElement("FirmaDelGestore")
	g.CreateElement("Esito").SetText(firstNonEmptyString(d.Verdict, "absent"))
	g.CreateElement("Motivo").SetText(d.Reason)
	if d.Signer != "" {
		g.CreateElement("Firmatario").SetText(d.Signer)
	}
	if d.SignedAt != nil {
		g.CreateElement("DataFirma").SetText(utc(*d.SignedAt))
	}
	if d.AttachmentsNote != "" {
		p.CreateElement("NotaAllegati").SetText(d.AttachmentsNote)
	}
	return render(doc.Root())
}

func soggetto(parent *etree.Element, ruolo, addr, name string) {
	r := parent.CreateElement("Ruolo")
	r.CreateElement("TipoRuolo").SetText(ruolo)
	if name != "" {
		r.CreateElement("Denominazione").SetText(name)
	}
	if addr != "" {
		r.CreateElement("IndirizziDigitaliDiRiferimento").SetText(addr)
	}
}

func firstNonEmptyString(s ...string) string {
	for _, v := range s {
		if strings.TrimSpace(v) != "" {
			return v
		}
	}
	return ""
}

// Aggregation is the record of an aggregazione documentale (a dossier: a
// PEC message and everything about it), as a package that holds part of it
// describes it.
type Aggregation struct {
	ID        string // IdAgg: the original Message-ID (or sha256:…)
	Type      string // Fascicolo
	Subjects  []AggSubject
	Opened    time.Time // DataApertura: its earliest document's date
	Class     string
	ClassDesc string
	Piano     string
	Subject   string // the original's subject
	Documents []AggDocument
	// RetentionYears of the aggregation.
	RetentionYears int
}

// AggSubject is one party of an aggregation.
type AggSubject struct{ Role, Address string }

// AggDocument is one document of an aggregation in this package.
type AggDocument struct {
	ID, Kind string
	Date     time.Time
}

// AggregationXML renders an aggregazione documentale record
// (schemas/conserva-allegato5.xsd, root AggregazioneDocumentaleInformatica).
func (g *Aggregation) AggregationXML() ([]byte, error) {
	doc := etree.NewDocument()
	doc.CreateProcInst("xml", `version="1.0" encoding="UTF-8"`)
	root := doc.CreateElement("AggregazioneDocumentaleInformatica")
	root.CreateAttr("xmlns", schemas.MetadataNS)
	id := root.CreateElement("IdAgg")
	id.CreateElement("TipoAggregazione").SetText(firstNonEmptyString(g.Type, "Fascicolo"))
	id.CreateElement("IdAggregazione").SetText(g.ID)
	s := root.CreateElement("Soggetti")
	for _, p := range g.Subjects {
		soggetto(s, p.Role, p.Address, "")
	}
	root.CreateElement("DataApertura").SetText(utc(g.Opened))
	if g.Class != "" {
		c := root.CreateElement("Classificazione")
		c.CreateElement("IndiceDiClassificazione").SetText(g.Class)
		if g.ClassDesc != "" {
			c.CreateElement("Descrizione").SetText(g.ClassDesc)
		}
		if g.Piano != "" {
			c.CreateElement("PianoDiClassificazione").SetText(g.Piano)
		}
	}
	root.CreateElement("Oggetto").SetText(g.Subject)
	ix := root.CreateElement("IndiceDocumenti")
	for _, d := range g.Documents {
		e := ix.CreateElement("Documento")
		e.CreateElement("IdDoc").SetText(d.ID)
		e.CreateElement("TipologiaDocumentale").SetText(DocumentType(d.Kind))
		e.CreateElement("Data").SetText(utc(d.Date))
	}
	root.CreateElement("TempoDiConservazione").SetText(strconv.Itoa(g.RetentionYears))
	return render(doc.Root())
}
