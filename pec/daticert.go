package pec

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"regexp"
	"slices"
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
// never resolves an external entity (encoding/xml does not process DTDs at
// all). It reads the document as etree does with Permissive set (same
// decoder settings, same tokens, same errors) into a lighter tree: etree's
// was a tenth of an ingest's allocations.
func ParseDaticert(data []byte) (*Daticert, error) {
	root, err := readXMLTree(data)
	if err != nil {
		return nil, fmt.Errorf("daticert.xml: %w", err)
	}
	if root == nil || root.tag != "postacert" {
		return nil, fmt.Errorf("daticert.xml: root element is not postacert")
	}
	d := &Daticert{
		Tipo:   strings.TrimSpace(root.attr("tipo", "")),
		Errore: strings.TrimSpace(root.attr("errore", "nessuno")),
	}
	if h := root.child("intestazione"); h != nil {
		d.Mittente = h.child("mittente").trimmed()
		for _, e := range h.children("destinatari") {
			d.Destinatari = append(d.Destinatari, Destinatario{
				Address: e.trimmed(),
				Tipo:    strings.TrimSpace(e.attr("tipo", "")),
			})
		}
		d.Risposte = h.child("risposte").trimmed()
		d.Oggetto = h.child("oggetto").trimmed()
	}
	if dati := root.child("dati"); dati != nil {
		d.GestoreEmittente = dati.child("gestore-emittente").trimmed()
		if data := dati.child("data"); data != nil {
			d.Zona = strings.TrimSpace(data.attr("zona", ""))
			d.Giorno = data.child("giorno").trimmed()
			d.Ora = data.child("ora").trimmed()
			d.Data, _ = daticertTime(d.Giorno, d.Ora, d.Zona)
		}
		d.Identificativo = dati.child("identificativo").trimmed()
		d.Msgid = dati.child("msgid").trimmed()
		if r := dati.child("ricevuta"); r != nil {
			// The DTD's default is completa when the attribute is omitted.
			d.Ricevuta = strings.ToLower(strings.TrimSpace(r.attr("tipo", "completa")))
		}
		d.Consegna = dati.child("consegna").trimmed()
		for _, e := range dati.children("ricezione") {
			d.Ricezione = append(d.Ricezione, e.trimmed())
		}
		d.ErroreEsteso = dati.child("errore-esteso").trimmed()
		if m := statusCode.FindStringSubmatch(d.ErroreEsteso); m != nil {
			d.ErroreCodice = m[1]
		}
	}
	return d, nil
}

// xmlElement is an element as etree would hold it, reduced to what is read
// here: its name, its attributes, its child elements and its text (etree's
// Text: the character data right after the start tag, comments skipped).
type xmlElement struct {
	space, tag string
	attrs      []xml.Attr
	kids       []*xmlElement
	text       string
	more       []byte // the text, when it came in more than one piece
	textDone   bool   // something other than text or a comment followed
}

// maxXMLDepth is etree's default ReadSettings.MaxDepth.
const maxXMLDepth = 1024

// readXMLTree reads data as etree's Document.ReadFromBytes does with
// Permissive set and charset.Reader, and returns the root element (nil
// when there is none) or the error etree would give.
func readXMLTree(data []byte) (*xmlElement, error) {
	dec := xml.NewDecoder(bytes.NewReader(data))
	dec.CharsetReader = charset.Reader
	dec.Strict = false
	doc := &xmlElement{}
	stack := []*xmlElement{doc}
	var root *xmlElement
	for {
		t, err := dec.RawToken()
		switch {
		case err == io.EOF:
			if len(stack) != 1 {
				return nil, etree.ErrXML
			}
			return root, nil
		case err != nil:
			return nil, err
		case len(stack) == 0:
			return nil, etree.ErrXML
		}
		top := stack[len(stack)-1]
		switch t := t.(type) {
		case xml.StartElement:
			if len(stack) > maxXMLDepth {
				return nil, etree.ErrMaxDepth
			}
			e := &xmlElement{space: t.Name.Space, tag: t.Name.Local}
			// A repeated attribute keeps its first place and its last value.
			for _, a := range t.Attr {
				if i := slices.IndexFunc(e.attrs, func(b xml.Attr) bool { return b.Name == a.Name }); i >= 0 {
					e.attrs[i].Value = a.Value
				} else {
					e.attrs = append(e.attrs, a)
				}
			}
			top.textDone = true
			top.kids = append(top.kids, e)
			if top == doc && root == nil {
				root = e
			}
			stack = append(stack, e)
		case xml.EndElement:
			if top.tag != t.Name.Local || top.space != t.Name.Space {
				return nil, etree.ErrXML
			}
			if top.more != nil {
				top.text = string(top.more)
			}
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if top.textDone {
				break
			}
			switch {
			case top.text == "":
				top.text = string(t)
			case top.more == nil:
				top.more = append([]byte(top.text), t...)
			default:
				top.more = append(top.more, t...)
			}
		case xml.Comment:
		case xml.Directive, xml.ProcInst:
			top.textDone = true
		}
	}
}

// attr is etree's SelectAttrValue for a name without a prefix.
func (e *xmlElement) attr(key, dflt string) string {
	for _, a := range e.attrs {
		if a.Name.Local == key {
			return a.Value
		}
	}
	return dflt
}

// child is etree's SelectElement for a name without a prefix.
func (e *xmlElement) child(tag string) *xmlElement {
	for _, k := range e.kids {
		if k.tag == tag {
			return k
		}
	}
	return nil
}

// children is etree's SelectElements for a name without a prefix.
func (e *xmlElement) children(tag string) []*xmlElement {
	var out []*xmlElement
	for _, k := range e.kids {
		if k.tag == tag {
			out = append(out, k)
		}
	}
	return out
}

// trimmed is the element's text without surrounding blanks, "" for none.
func (e *xmlElement) trimmed() string {
	if e == nil {
		return ""
	}
	if e.more != nil {
		return strings.TrimSpace(string(e.more))
	}
	return strings.TrimSpace(e.text)
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
