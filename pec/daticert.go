package pec

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/beevik/etree"
	"github.com/emersion/go-message/charset"
)

// Daticert is the certification data (daticert.xml) a provider attaches to
// every envelope and receipt. Strings are kept as written (trimmed); the
// time is also given parsed.
type Daticert struct {
	Tipo   string `json:"tipo"`   // postacert@tipo: posta-certificata, accettazione, …
	Errore string `json:"errore"` // postacert@errore: nessuno, no-dest, no-dominio, virus, altro

	Mittente    string         `json:"mittente"`
	Destinatari []Destinatario `json:"destinatari"`
	Risposte    string         `json:"risposte,omitempty"`
	Oggetto     string         `json:"oggetto,omitempty"`

	GestoreEmittente string    `json:"gestore_emittente"`
	Giorno           string    `json:"giorno"` // dd/mm/yyyy as written
	Ora              string    `json:"ora"`    // hh:mm:ss as written
	Zona             string    `json:"zona"`   // +0100 as written
	Data             time.Time `json:"data"`   // zero when giorno/ora/zona do not parse

	Identificativo string   `json:"identificativo"`
	Msgid          string   `json:"msgid,omitempty"`
	Ricevuta       string   `json:"ricevuta,omitempty"` // ricevuta@tipo: completa, breve, sintetica
	Consegna       string   `json:"consegna,omitempty"`
	Ricezione      []string `json:"ricezione,omitempty"`
	ErroreEsteso   string   `json:"errore_esteso,omitempty"`
	// ErroreCodice is the enhanced status code errore-esteso starts with
	// (e.g. "5.1.1"); the text itself is free-form and provider-specific.
	ErroreCodice string `json:"errore_codice,omitempty"`
}

// Destinatario is one recipient of the certified message.
type Destinatario struct {
	Address string `json:"address"`
	Tipo    string `json:"tipo"` // certificato (a PEC domain) or esterno
}

var statusCode = regexp.MustCompile(`^\s*(\d\.\d{1,3}\.\d{1,3})`)

// ParseDaticert reads daticert.xml leniently: it tolerates a DOCTYPE line,
// declared encodings other than UTF-8, stray text and unknown elements, and
// never resolves an external entity (encoding/xml, under etree, does not
// process DTDs at all).
func ParseDaticert(data []byte) (*Daticert, error) {
	doc := etree.NewDocument()
	doc.ReadSettings.Permissive = true
	doc.ReadSettings.CharsetReader = charset.Reader
	if err := doc.ReadFromBytes(data); err != nil {
		return nil, fmt.Errorf("daticert.xml: %w", err)
	}
	root := doc.Root()
	if root == nil || root.Tag != "postacert" {
		return nil, fmt.Errorf("daticert.xml: root element is not postacert")
	}
	d := &Daticert{
		Tipo:   strings.TrimSpace(root.SelectAttrValue("tipo", "")),
		Errore: strings.TrimSpace(root.SelectAttrValue("errore", "nessuno")),
	}
	if h := root.SelectElement("intestazione"); h != nil {
		d.Mittente = text(h.SelectElement("mittente"))
		for _, e := range h.SelectElements("destinatari") {
			d.Destinatari = append(d.Destinatari, Destinatario{
				Address: text(e),
				Tipo:    strings.TrimSpace(e.SelectAttrValue("tipo", "")),
			})
		}
		d.Risposte = text(h.SelectElement("risposte"))
		d.Oggetto = text(h.SelectElement("oggetto"))
	}
	if dati := root.SelectElement("dati"); dati != nil {
		d.GestoreEmittente = text(dati.SelectElement("gestore-emittente"))
		if data := dati.SelectElement("data"); data != nil {
			d.Zona = strings.TrimSpace(data.SelectAttrValue("zona", ""))
			d.Giorno = text(data.SelectElement("giorno"))
			d.Ora = text(data.SelectElement("ora"))
			d.Data, _ = daticertTime(d.Giorno, d.Ora, d.Zona)
		}
		d.Identificativo = text(dati.SelectElement("identificativo"))
		d.Msgid = text(dati.SelectElement("msgid"))
		if r := dati.SelectElement("ricevuta"); r != nil {
			// The DTD's default is completa when the attribute is omitted.
			d.Ricevuta = strings.ToLower(strings.TrimSpace(r.SelectAttrValue("tipo", "completa")))
		}
		d.Consegna = text(dati.SelectElement("consegna"))
		for _, e := range dati.SelectElements("ricezione") {
			d.Ricezione = append(d.Ricezione, text(e))
		}
		d.ErroreEsteso = text(dati.SelectElement("errore-esteso"))
		if m := statusCode.FindStringSubmatch(d.ErroreEsteso); m != nil {
			d.ErroreCodice = m[1]
		}
	}
	return d, nil
}

func text(e *etree.Element) string {
	if e == nil {
		return ""
	}
	return strings.TrimSpace(e.Text())
}

// daticertTime turns giorno (dd/mm/yyyy), ora (hh:mm:ss) and zona (+0100)
// into an instant. This is the legal time reference of the PEC.
func daticertTime(giorno, ora, zona string) (time.Time, error) {
	if zona == "" {
		return time.Time{}, fmt.Errorf("daticert data has no zona")
	}
	s := giorno + " " + ora + " " + zona
	t, err := time.Parse("02/01/2006 15:04:05 -0700", s)
	if err != nil {
		return time.Time{}, fmt.Errorf("daticert data %q: %w", s, err)
	}
	return t, nil
}

// looksLikeDaticert says whether a part without the usual file name is
// certification data all the same.
func looksLikeDaticert(data []byte) bool {
	head := data
	if len(head) > 512 {
		head = head[:512]
	}
	return bytes.Contains(head, []byte("<postacert"))
}
