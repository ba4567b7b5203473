// Package smistamento files messages in the organisation's titolario: the
// [[classify]] rules of conserva.toml that classify a new message at
// ingest (the first rule whose every condition matches), and the
// reclassifications a person records later, each a new event that leaves
// the earlier ones in the history.
//
// It holds the rules, their matching and the classification model; it
// reads no catalog and no store. Where the classification goes (the
// record's class and class_history, the Allegato 5 metadata) and how a
// reclassification is kept (classifications/<sha256>/<time>.json,
// write-once) are written down in docs/AGID.md ("Classification and
// routing") and docs/FORMAT.md.
package smistamento

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/conserva/conserva/pec"
)

// Rule is one [[classify]] of conserva.toml: the first rule whose every
// given condition matches classifies a new message.
type Rule struct {
	// Conditions: all those given must match.
	Mailbox   string `toml:"mailbox"`   // a source label or URL (substring of the message's source)
	Sender    string `toml:"sender"`    // address, case-insensitive
	Recipient string `toml:"recipient"` // one of the recipients
	Subject   string `toml:"subject"`   // regular expression (RE2)
	Kind      string `toml:"kind"`      // a PEC kind (posta-certificata, avvenuta-consegna, …)
	// What it gives.
	Class          string `toml:"class"` // titolario code
	Description    string `toml:"description"`
	Fascicolo      string `toml:"fascicolo"`
	TipoRegistro   string `toml:"tipo_registro"`
	CodiceRegistro string `toml:"codice_registro"`
	Riservato      bool   `toml:"riservato"`

	subject *regexp.Regexp
}

// Classification is where a message is filed.
type Classification struct {
	Code           string `json:"code,omitempty"` // titolario
	Description    string `json:"description,omitempty"`
	Piano          string `json:"piano,omitempty"`
	Fascicolo      string `json:"fascicolo,omitempty"`
	TipoRegistro   string `json:"tipo_registro,omitempty"`
	CodiceRegistro string `json:"codice_registro,omitempty"`
	Numero         string `json:"numero,omitempty"`
	Riservato      bool   `json:"riservato,omitempty"`
}

// Event is one classification of a message: at ingest by a rule, or
// later by a person. The record's class is the latest; nothing here is
// overwritten.
type Event struct {
	At     time.Time      `json:"at,omitzero"` // zero at ingest: the record's ingested_at
	By     string         `json:"by"`          // "ingest", "rule N", or who reclassified it
	Class  Classification `json:"class"`
	Reason string         `json:"reason,omitempty"`
}

// Message is what the rules look at.
type Message struct {
	Sources []string // where it was acquired from (source labels or URLs)
	From    string
	To      []string
	Subject string
	Kind    pec.Kind
}

var tipiRegistro = map[string]string{
	"":                     "",
	"nessuno":              "Nessuno",
	"protocollo":           "Protocollo Ordinario/Protocollo Emergenza",
	"protocollo ordinario": "Protocollo Ordinario/Protocollo Emergenza",
	"protocollo ordinario/protocollo emergenza": "Protocollo Ordinario/Protocollo Emergenza",
	"repertorio":          "Repertorio/Registro",
	"registro":            "Repertorio/Registro",
	"repertorio/registro": "Repertorio/Registro",
}

// TipoRegistro normalises a register type to Allegato 5's words.
func TipoRegistro(s string) (string, error) {
	v, ok := tipiRegistro[strings.ToLower(strings.TrimSpace(s))]
	if !ok {
		return "", fmt.Errorf("tipo_registro %q: Nessuno, Protocollo or Repertorio", s)
	}
	return v, nil
}

// Compile checks the rules and compiles their subjects, refusing a broken
// one: at load time, not at the first message it would have filed.
func Compile(rules []Rule) error {
	for i := range rules {
		r := &rules[i]
		if r.Subject != "" {
			re, err := regexp.Compile(r.Subject)
			if err != nil {
				return fmt.Errorf("[[classify]] %d: subject: %w", i+1, err)
			}
			r.subject = re
		}
		if r.Kind != "" {
			if _, ok := pec.ParseKind(r.Kind); !ok {
				return fmt.Errorf("[[classify]] %d: unknown kind %q", i+1, r.Kind)
			}
		}
		if _, err := TipoRegistro(r.TipoRegistro); err != nil {
			return fmt.Errorf("[[classify]] %d: %w", i+1, err)
		}
		if r.Class == "" && r.Fascicolo == "" && r.TipoRegistro == "" {
			return fmt.Errorf("[[classify]] %d: gives neither class, fascicolo nor tipo_registro", i+1)
		}
	}
	return nil
}

// Matches says whether every condition the rule gives holds for m.
func (r *Rule) Matches(m Message) bool {
	eq := func(a, b string) bool { return strings.EqualFold(strings.TrimSpace(a), strings.TrimSpace(b)) }
	if r.Mailbox != "" {
		ok := false
		for _, s := range m.Sources {
			if strings.Contains(s, r.Mailbox) {
				ok = true
			}
		}
		if !ok {
			return false
		}
	}
	if r.Sender != "" && !eq(r.Sender, m.From) {
		return false
	}
	if r.Recipient != "" {
		ok := false
		for _, t := range m.To {
			ok = ok || eq(r.Recipient, t)
		}
		if !ok {
			return false
		}
	}
	if r.Subject != "" {
		re := r.subject
		if re == nil {
			// Rules not given to Compile: compiled here, never stored
			// (ingest workers classify concurrently).
			var err error
			if re, err = regexp.Compile(r.Subject); err != nil {
				return false
			}
		}
		if !re.MatchString(m.Subject) && !re.MatchString(originalSubject(m.Subject)) {
			return false
		}
	}
	if r.Kind != "" {
		if k, _ := pec.ParseKind(r.Kind); k != m.Kind {
			return false
		}
	}
	return true
}

// File classifies a new message: the first rule that matches it, over the
// defaults def ([agid]); a register type nobody gives is "Nessuno". The
// event is the first of its history: by "rule N", or "ingest" when no
// rule matched.
func File(rules []Rule, def Classification, m Message) Event {
	c := def
	by := "ingest"
	for i := range rules {
		r := &rules[i]
		if !r.Matches(m) {
			continue
		}
		c.Code, c.Description, c.Fascicolo = r.Class, r.Description, r.Fascicolo
		if r.TipoRegistro != "" {
			c.TipoRegistro, _ = TipoRegistro(r.TipoRegistro)
		}
		if r.CodiceRegistro != "" {
			c.CodiceRegistro = r.CodiceRegistro
		}
		c.Riservato = c.Riservato || r.Riservato
		by = fmt.Sprintf("rule %d", i+1)
		break
	}
	if c.TipoRegistro == "" {
		c.TipoRegistro = "Nessuno"
	}
	return Event{By: by, Class: c}
}

// originalSubject strips the provider's prefix ("POSTA CERTIFICATA: ",
// "ACCETTAZIONE: ", …): rules are written for the sender's subject.
func originalSubject(s string) string {
	i := strings.Index(s, ": ")
	if i <= 0 || strings.ToUpper(s[:i]) != s[:i] {
		return s
	}
	return s[i+2:]
}

// Change is what a reclassification sets; empty fields keep their current
// value.
type Change struct {
	Code, Description, Fascicolo, TipoRegistro, CodiceRegistro, Numero string
}

// Check refuses a reclassification without its author (by), one that
// changes nothing and an unknown register type; it returns the change
// with the register type in Allegato 5's words.
func (ch Change) Check(by string) (Change, error) {
	if strings.TrimSpace(by) == "" {
		return ch, errors.New("say who reclassifies (--by)")
	}
	if ch == (Change{}) {
		return ch, errors.New("nothing to change: give --class, --fascicolo, --tipo-registro, --codice-registro or --numero")
	}
	if ch.TipoRegistro != "" {
		t, err := TipoRegistro(ch.TipoRegistro)
		if err != nil {
			return ch, err
		}
		ch.TipoRegistro = t
	}
	return ch, nil
}

// Apply is cur with the change's non-empty fields.
func (ch Change) Apply(cur Classification) Classification {
	c := cur
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	set(&c.Code, ch.Code)
	set(&c.Description, ch.Description)
	set(&c.Fascicolo, ch.Fascicolo)
	set(&c.TipoRegistro, ch.TipoRegistro)
	set(&c.CodiceRegistro, ch.CodiceRegistro)
	set(&c.Numero, ch.Numero)
	return c
}

// EventsPrefix is where the store keeps the reclassifications of the
// message id: one object each, write-once, so that a rebuilt catalog gets
// them back; their names sort in time order.
func EventsPrefix(id string) string { return "classifications/" + id + "/" }

// EventKey is the object of the reclassification of id made at at.
func EventKey(id string, at time.Time) string {
	return EventsPrefix(id) + at.UTC().Format("20060102T150405.000000000Z") + ".json"
}
