// Package agid says of each preserved message what the AgID Linee Guida
// want said: the [agid] section of conserva.toml (the organisation's own
// addresses, its classification plan and register), the flow of a message
// seen from the organisation's mailboxes (E, U or I), what the Allegato 5
// metadata derive from the rest of a document's (the software that made
// it, whether an attachment is signed or timestamped), and the aggregazione
// records a package holds, with their names in the package.
//
// It reads no catalog and no store: archive maps a catalog record onto a
// sip.Document and stores what this package describes; sip writes the XML.
// The mapping onto Allegato 5, element by element, is docs/AGID.md; the
// place of each file in a package is docs/FORMAT.md.
package agid

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"iter"
	"net/url"
	"path"
	"sort"
	"strings"

	"github.com/conserva/conserva/pec"
	"github.com/conserva/conserva/sip"
	"github.com/conserva/conserva/smistamento"
)

// Config is the [agid] section: what the AgID metadata say of the
// organisation's registers (docs/AGID.md).
type Config struct {
	// Addresses are the organisation's own PEC addresses: a message sent
	// from one is outgoing (U), one received is incoming (E). The
	// addresses of IMAP sources are added to them.
	Addresses []string `toml:"addresses"`
	// Piano is the name of the classification plan (titolario).
	Piano string `toml:"piano"`
	// TipoRegistro and CodiceRegistro apply when no [[classify]] rule says
	// otherwise: "Nessuno" by default.
	TipoRegistro   string `toml:"tipo_registro"`
	CodiceRegistro string `toml:"codice_registro"`
	// Riservato marks every document as confidential.
	Riservato bool `toml:"riservato"`
}

// Check refuses a register type Allegato 5 does not know.
func (c Config) Check() error {
	if _, err := smistamento.TipoRegistro(c.TipoRegistro); err != nil {
		return fmt.Errorf("[agid] %w", err)
	}
	return nil
}

// Defaults is where a message is filed when no [[classify]] rule says
// otherwise.
func (c Config) Defaults() smistamento.Classification {
	d := smistamento.Classification{Piano: c.Piano, Riservato: c.Riservato, CodiceRegistro: c.CodiceRegistro}
	d.TipoRegistro, _ = smistamento.TipoRegistro(c.TipoRegistro)
	return d
}

// OwnAddresses are the organisation's addresses, lower-case: those
// configured, and the users of its IMAP sources (sourceURLs) when they are
// addresses.
func (c Config) OwnAddresses(sourceURLs []string) map[string]bool {
	own := map[string]bool{}
	for _, s := range c.Addresses {
		own[strings.ToLower(strings.TrimSpace(s))] = true
	}
	for _, s := range sourceURLs {
		u, err := url.Parse(s)
		if err != nil || u.User == nil || !strings.HasPrefix(u.Scheme, "imap") {
			continue
		}
		if name := u.User.Username(); strings.Contains(name, "@") {
			own[strings.ToLower(name)] = true
		}
	}
	return own
}

// Flow says whether a message came in (E), went out (U) or stayed inside
// (I), from the point of view of the organisation's mailboxes (own, as
// OwnAddresses gives them). Receipts come back to the sender: they
// document an outgoing message.
func Flow(kind pec.Kind, from string, to []string, own map[string]bool) string {
	if kind.IsReceipt() {
		return "U"
	}
	isFrom := own[strings.ToLower(strings.TrimSpace(from))]
	isTo := false
	for _, t := range to {
		if own[strings.ToLower(strings.TrimSpace(t))] {
			isTo = true
		}
	}
	switch {
	case isFrom && isTo:
		return "I"
	case isFrom:
		return "U"
	}
	return "E"
}

// Complete fills in what Allegato 5 derives from the rest of a document's
// metadata: its flow when none was recorded (without the organisation's
// addresses), the software that made it (the provider's PEC system, named
// by the certificate it signed with), and whether one of its attachments
// is signed or timestamped (by name and type).
func Complete(d *sip.Document) {
	if d.Flow == "" {
		d.Flow = Flow(pec.Kind(d.Kind), d.Sender, d.Recipients, nil)
	}
	switch {
	case d.Signer != "":
		d.Product, d.Producer = "Sistema PEC del gestore", d.Signer
	case d.Kind == string(pec.KindNotPEC):
		d.Product = "Sistema di posta elettronica (non PEC)"
	default:
		d.Product = "Sistema PEC del gestore (non firmato)"
	}
	for _, at := range d.Attachments {
		low := strings.ToLower(at.Name)
		if strings.HasSuffix(low, ".p7m") || strings.HasSuffix(low, ".p7s") || strings.Contains(at.Type, "pkcs7") ||
			strings.HasSuffix(low, ".m7m") {
			d.Signed = true
		}
		if strings.HasSuffix(low, ".tsd") || strings.HasSuffix(low, ".tsr") || strings.HasSuffix(low, ".m7m") || strings.Contains(at.Type, "timestamp") {
			d.TimeStamped = true
		}
	}
}

// Aggregations groups a package's documents by aggregazione (their
// Fascicolo: the classification's fascicolo, else the dossier; a document
// with neither is its own), in the order of their ids, each listing its
// documents in the order of theirs.
func Aggregations(docs iter.Seq[*sip.Document], retentionYears int) []*sip.Aggregation {
	g := NewAggregator(retentionYears)
	for d := range docs {
		g.Add(d)
	}
	return g.Result()
}

// Aggregator is Aggregations fed one document at a time, in the order of
// their ids: a seal adds each as it reads it and keeps nothing else of it.
type Aggregator struct {
	years int
	by    map[string]*aggregation
	order []string
}

// aggregation is one being gathered; seen, made only when it has many
// parties, says which it names already.
type aggregation struct {
	sip.Aggregation
	seen map[string]bool
}

// subjectsScanned is how many parties are looked for one by one before
// they are indexed.
const subjectsScanned = 8

// NewAggregator gathers aggregations of the given retention.
func NewAggregator(retentionYears int) *Aggregator {
	return &Aggregator{years: retentionYears, by: map[string]*aggregation{}}
}

// Add counts d in its aggregazione.
func (a *Aggregator) Add(d *sip.Document) {
	id := d.Fascicolo
	if id == "" {
		id = "sha256:" + d.SHA256
	}
	g := a.by[id]
	if g == nil {
		g = &aggregation{Aggregation: sip.Aggregation{ID: id, Type: "Fascicolo", RetentionYears: a.years}}
		a.by[id] = g
		a.order = append(a.order, id)
	}
	at := d.Registered
	if d.Date != nil {
		at = *d.Date
	}
	if g.Opened.IsZero() || at.Before(g.Opened) {
		g.Opened = at
	}
	if g.Class == "" && d.Class != "" {
		g.Class, g.ClassDesc, g.Piano = d.Class, d.ClassDesc, d.Piano
	}
	// The original's subject, else the first one met.
	if g.Subject == "" || d.Kind == string(pec.KindPostaCertificata) {
		g.Subject = d.Subject
	}
	if !pec.Kind(d.Kind).IsReceipt() {
		g.add("Mittente", d.Sender)
		for _, t := range d.Recipients {
			g.add("Destinatario", t)
		}
	}
	g.Documents = append(g.Documents, sip.AggDocument{ID: d.SHA256, Kind: d.Kind, Date: at})
}

// add names a party once.
func (g *aggregation) add(role, addr string) {
	addr = strings.ToLower(strings.TrimSpace(addr))
	if addr == "" {
		return
	}
	if g.seen == nil {
		for _, s := range g.Subjects {
			if s.Role == role && s.Address == addr {
				return
			}
		}
		if len(g.Subjects) >= subjectsScanned {
			g.seen = map[string]bool{}
			for _, s := range g.Subjects {
				g.seen[s.Role+s.Address] = true
			}
		}
	}
	if g.seen != nil {
		if g.seen[role+addr] {
			return
		}
		g.seen[role+addr] = true
	}
	g.Subjects = append(g.Subjects, sip.AggSubject{Role: role, Address: addr})
}

// Result is every aggregation, in the order of their ids.
func (a *Aggregator) Result() []*sip.Aggregation {
	out := make([]*sip.Aggregation, 0, len(a.order))
	sort.Strings(a.order)
	for _, id := range a.order {
		g := &a.by[id].Aggregation
		sort.Slice(g.Documents, func(i, k int) bool { return g.Documents[i].ID < g.Documents[k].ID })
		out = append(out, g)
	}
	return out
}

// AggregationKey is where the record of the aggregazione id lives in the
// package whose keys begin with prefix: named by the SHA-256 of its id,
// since ids are fascicoli and Message-IDs, not file names.
func AggregationKey(prefix, id string) string {
	s := sha256.Sum256([]byte(id))
	return prefix + "aggregazioni/" + hex.EncodeToString(s[:]) + ".xml"
}

// AggregationFile is how a package's index lists the aggregazione record
// stored at key.
func AggregationFile(key string, data []byte) sip.File {
	sum := sha256.Sum256(data)
	return sip.File{ID: "agg-" + strings.TrimSuffix(path.Base(key), ".xml"), Path: key,
		SHA256: hex.EncodeToString(sum[:]), Format: "application/xml", Extension: "xml", Size: int64(len(data))}
}
