package archive

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/conserva/conserva/pec"
)

// ClassifyRule is one [[classify]] of conserva.toml: the first rule whose
// every given condition matches classifies a new message (smistamento).
type ClassifyRule struct {
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

// ClassEvent is one classification of a message: at ingest by a rule, or
// later by a person. Class is the latest; nothing here is overwritten.
type ClassEvent struct {
	At     time.Time      `json:"at,omitzero"` // zero at ingest: the record's ingested_at
	By     string         `json:"by"`          // "ingest", "rule N", or who reclassified it
	Class  Classification `json:"class"`
	Reason string         `json:"reason,omitempty"`
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

// checkClassify compiles the rules, refusing a broken one at load time.
func (c *Config) checkClassify() error {
	if _, err := TipoRegistro(c.AgID.TipoRegistro); err != nil {
		return fmt.Errorf("[agid] %w", err)
	}
	for i := range c.Classify {
		r := &c.Classify[i]
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

func (r *ClassifyRule) matches(rec *Record) bool {
	eq := func(a, b string) bool { return strings.EqualFold(strings.TrimSpace(a), strings.TrimSpace(b)) }
	if r.Mailbox != "" {
		ok := false
		for _, s := range rec.Sources {
			if strings.Contains(s, r.Mailbox) {
				ok = true
			}
		}
		if !ok {
			return false
		}
	}
	if r.Sender != "" && !eq(r.Sender, rec.From) {
		return false
	}
	if r.Recipient != "" {
		ok := false
		for _, t := range rec.To {
			ok = ok || eq(r.Recipient, t)
		}
		if !ok {
			return false
		}
	}
	if r.subject != nil && !r.subject.MatchString(rec.Subject) && !r.subject.MatchString(originalSubject(rec.Subject)) {
		return false
	}
	if r.Kind != "" {
		if k, _ := pec.ParseKind(r.Kind); k != rec.Kind {
			return false
		}
	}
	return true
}

// classifyNew applies the first matching rule (or the defaults) to a new
// record, and records it as the first classification event.
func (a *Archive) classifyNew(rec *Record) {
	cfg := a.Config.AgID
	c := Classification{Piano: cfg.Piano, Riservato: cfg.Riservato, CodiceRegistro: cfg.CodiceRegistro}
	c.TipoRegistro, _ = TipoRegistro(cfg.TipoRegistro)
	by := "ingest"
	for i := range a.Config.Classify {
		r := &a.Config.Classify[i]
		if r.subject == nil && r.Subject != "" {
			r.subject, _ = regexp.Compile(r.Subject)
		}
		if !r.matches(rec) {
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
	rec.Class = c
	rec.ClassHistory = []ClassEvent{{By: by, Class: c}}
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
