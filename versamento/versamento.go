// Package versamento writes and reads the rapporto di versamento: the
// conservator's signed acceptance report of one ingest run (AgID Linee
// Guida, §4.7), listing what the run archived, flagged and refused.
// Schema: schemas/conserva-versamento.xsd.
package versamento

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"time"
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
	// Stream, when set, gives the entries instead of Entries, one at a
	// time in order: a run's list, kept on disk, is never held whole.
	Stream *Stream `json:"-"`
	// Refusals, when set, gives the refusals instead of Refused, in the
	// same way.
	Refusals *RefusalStream `json:"-"`
}

// RefusalStream is a list of refusals read one at a time: Count of them;
// Each gives them in order.
type RefusalStream struct {
	Count int
	Each  func(fn func(Refusal) error) error
}

// RefusedCount counts the refusals.
func (r *Report) RefusedCount() int {
	if r.Refusals != nil {
		return r.Refusals.Count
	}
	return len(r.Refused)
}

// Stream is a list of entries read one at a time: Count of them, Flagged
// of which with a finding; Each gives them in order.
type Stream struct {
	Count, Flagged int
	Each           func(fn func(Entry) error) error
}

// Archived counts the entries.
func (r *Report) Archived() int {
	if r.Stream != nil {
		return r.Stream.Count
	}
	return len(r.Entries)
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
	if r.Stream != nil {
		return r.Stream.Flagged
	}
	n := 0
	for _, e := range r.Entries {
		if e.Flagged {
			n++
		}
	}
	return n
}

// The XML form (schemas/conserva-versamento.xsd), through encoding/xml,
// which renders a night of 100,000 messages without a DOM of them.
type xmlReport struct {
	XMLName     xml.Name   `xml:"urn:conserva:versamento:1 RapportoDiVersamento"`
	Run         string     `xml:"IdRapporto"`
	Created     string     `xml:"RiferimentoTemporale"`
	Started     string     `xml:"InizioVersamento"`
	Producer    string     `xml:"Produttore"`
	Conservator string     `xml:"Conservatore"`
	Sources     []string   `xml:"Sorgenti>Sorgente"`
	Summary     xmlSummary `xml:"Riepilogo"`
	Documents   xmlDocs    `xml:"Documenti"`
	Refused     xmlRefused `xml:"Rifiutati"` // written even when empty
}

type xmlSummary struct {
	Seen       int `xml:"Esaminati"`
	Archived   int `xml:"Archiviati"`
	Flagged    int `xml:"Segnalati"`
	Duplicates int `xml:"Duplicati"`
	Refused    int `xml:"Rifiutati"`
}

type xmlDoc struct {
	ID       string      `xml:"Identificativo"`
	Impronta xmlImpronta `xml:"Impronta"`
	Source   string      `xml:"Sorgente"`
	Kind     string      `xml:"Tipo"`
	Verdict  string      `xml:"EsitoFirmaGestore"`
	Reason   string      `xml:"Motivo,omitempty"`
	State    string      `xml:"Stato"`
}

// xmlDocs writes the entries as Documento elements one at a time, never
// all at once (a 100,000-message report held them twice); from the
// stream when there is one.
type xmlDocs struct {
	list   []Entry
	stream *Stream
}

func (d xmlDocs) MarshalXML(enc *xml.Encoder, start xml.StartElement) error {
	if err := enc.EncodeToken(start); err != nil {
		return err
	}
	one := func(e Entry) error {
		st := stateAccepted
		if e.Flagged {
			st = stateFlagged
		}
		doc := xmlDoc{ID: e.ID, Impronta: xmlImpronta{"SHA-256", e.ID}, Source: e.Source, Kind: e.Kind, Verdict: e.Verdict, Reason: e.Reason, State: st}
		return enc.EncodeElement(doc, xml.StartElement{Name: xml.Name{Local: "Documento"}})
	}
	var each func(func(Entry) error) error
	count := 0
	if d.stream != nil {
		each, count = d.stream.Each, d.stream.Count
	}
	if err := writeAll(each, count, d.list, one, "entries"); err != nil {
		return err
	}
	return enc.EncodeToken(start.End())
}

// writeAll calls one for every item of a stream (each, which must give
// count of them) and then of list: a report never lists fewer than it
// counts.
func writeAll[T any](each func(func(T) error) error, count int, list []T, one func(T) error, what string) error {
	if each != nil {
		n := 0
		err := each(func(v T) error { n++; return one(v) })
		if err == nil && n != count {
			err = fmt.Errorf("rapporto: %d %s listed, %d counted", n, what, count)
		}
		if err != nil {
			return err
		}
	}
	for _, v := range list {
		if err := one(v); err != nil {
			return err
		}
	}
	return nil
}

func (d *xmlDocs) UnmarshalXML(dec *xml.Decoder, start xml.StartElement) error {
	var in struct {
		Docs []xmlDoc `xml:"Documento"`
	}
	if err := dec.DecodeElement(&in, &start); err != nil {
		return err
	}
	for _, x := range in.Docs {
		d.list = append(d.list, Entry{ID: x.ID, Source: x.Source, Kind: x.Kind, Verdict: x.Verdict, Reason: x.Reason, Flagged: x.State != stateAccepted})
	}
	return nil
}

type xmlImpronta struct {
	Algoritmo string `xml:"Algoritmo,attr"`
	Value     string `xml:",chardata"`
}

// xmlRefused writes the refusals one at a time, from the stream when
// there is one, as xmlDocs writes the entries.
type xmlRefused struct {
	list   []Refusal
	stream *RefusalStream
}

func (d xmlRefused) MarshalXML(enc *xml.Encoder, start xml.StartElement) error {
	if err := enc.EncodeToken(start); err != nil {
		return err
	}
	one := func(f Refusal) error {
		return enc.EncodeElement(xmlRefusal{Source: f.Source, Reason: f.Reason}, xml.StartElement{Name: xml.Name{Local: "Rifiutato"}})
	}
	var each func(func(Refusal) error) error
	count := 0
	if d.stream != nil {
		each, count = d.stream.Each, d.stream.Count
	}
	if err := writeAll(each, count, d.list, one, "refusals"); err != nil {
		return err
	}
	return enc.EncodeToken(start.End())
}

func (d *xmlRefused) UnmarshalXML(dec *xml.Decoder, start xml.StartElement) error {
	var in struct {
		Items []xmlRefusal `xml:"Rifiutato"`
	}
	if err := dec.DecodeElement(&in, &start); err != nil {
		return err
	}
	for _, x := range in.Items {
		d.list = append(d.list, Refusal{Source: x.Source, Reason: x.Reason})
	}
	return nil
}

type xmlRefusal struct {
	Source string `xml:"Sorgente"`
	Reason string `xml:"Motivo"`
}

const (
	stateAccepted = "accettato"
	stateFlagged  = "accettato con segnalazione"
)

func utc(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// XML renders the report.
func (r *Report) XML() ([]byte, error) {
	// One buffer of about the final size: growing by doubling, and then
	// copying behind the header, held two or three times a report of
	// 100,000 messages (tens of MB) at the end of an ingest.
	var buf bytes.Buffer
	size := len(xml.Header) + 1024
	for _, e := range r.Entries {
		size += 2*len(e.ID) + len(e.Source) + len(e.Kind) + len(e.Verdict) + len(e.Reason) + 320
	}
	buf.Grow(size)
	if err := r.WriteXML(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// WriteXML writes the report as XML() gives it, as it renders: an ingest
// streams it to a file rather than holding it whole.
func (r *Report) WriteXML(w io.Writer) error {
	x := xmlReport{Run: r.Run, Created: utc(r.Created), Started: utc(r.Started), Producer: r.Producer, Conservator: r.Conservator,
		Sources: r.Sources, Summary: xmlSummary{Seen: r.Seen, Archived: r.Archived(), Flagged: r.Flagged(), Duplicates: r.Duplicates, Refused: r.RefusedCount()}}
	x.Documents = xmlDocs{list: r.Entries, stream: r.Stream}
	x.Refused = xmlRefused{list: r.Refused, stream: r.Refusals}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", " ")
	if err := enc.Encode(x); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

// Parse reads a report back (to list the reports of a store whose catalog
// was rebuilt).
func Parse(data []byte) (*Report, error) {
	var x xmlReport
	if err := xml.Unmarshal(data, &x); err != nil {
		return nil, fmt.Errorf("rapporto.xml: %w", err)
	}
	created, _ := time.Parse(time.RFC3339, x.Created)
	started, _ := time.Parse(time.RFC3339, x.Started)
	if x.Run == "" || created.IsZero() {
		return nil, errors.New("rapporto.xml: no IdRapporto or RiferimentoTemporale")
	}
	r := &Report{Run: x.Run, Created: created, Started: started, Producer: x.Producer, Conservator: x.Conservator,
		Sources: x.Sources, Seen: x.Summary.Seen, Duplicates: x.Summary.Duplicates}
	r.Entries, r.Refused = x.Documents.list, x.Refused.list
	return r, nil
}
