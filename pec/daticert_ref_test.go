package pec_test

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/beevik/etree"
	"github.com/conserva/conserva/pec"
	"github.com/emersion/go-message/charset"
)

// refParseDaticert is ParseDaticert as it was written on etree: the
// reference the lighter reader is fuzzed against.
func refParseDaticert(data []byte) (*pec.Daticert, error) {
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
	text := func(e *etree.Element) string {
		if e == nil {
			return ""
		}
		return strings.TrimSpace(e.Text())
	}
	d := &pec.Daticert{
		Tipo:   strings.TrimSpace(root.SelectAttrValue("tipo", "")),
		Errore: strings.TrimSpace(root.SelectAttrValue("errore", "nessuno")),
	}
	if h := root.SelectElement("intestazione"); h != nil {
		d.Mittente = text(h.SelectElement("mittente"))
		for _, e := range h.SelectElements("destinatari") {
			d.Destinatari = append(d.Destinatari, pec.Destinatario{
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
			d.Data, _ = pec.DaticertTime(d.Giorno, d.Ora, d.Zona)
		}
		d.Identificativo = text(dati.SelectElement("identificativo"))
		d.Msgid = text(dati.SelectElement("msgid"))
		if r := dati.SelectElement("ricevuta"); r != nil {
			d.Ricevuta = strings.ToLower(strings.TrimSpace(r.SelectAttrValue("tipo", "completa")))
		}
		d.Consegna = text(dati.SelectElement("consegna"))
		for _, e := range dati.SelectElements("ricezione") {
			d.Ricezione = append(d.Ricezione, text(e))
		}
		d.ErroreEsteso = text(dati.SelectElement("errore-esteso"))
		if m := regexp.MustCompile(`^\s*(\d\.\d{1,3}\.\d{1,3})`).FindStringSubmatch(d.ErroreEsteso); m != nil {
			d.ErroreCodice = m[1]
		}
	}
	return d, nil
}
