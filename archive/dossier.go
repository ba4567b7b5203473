package archive

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/conserva/conserva/pec"
)

// Recipient statuses in a dossier.
const (
	StatusDelivered = "delivered" // an avvenuta-consegna proves it
	StatusFailed    = "failed"    // a failure notice and no delivery receipt
	StatusAccepted  = "accepted"  // the sender's provider accepted it; no delivery receipt yet
	StatusPending   = "pending"   // nothing from the providers yet
)

// Dossier is everything about one original message.
type Dossier struct {
	MessageID  string            `json:"message_id"`
	Messages   []*Record         `json:"messages"` // envelopes and anything that is not a receipt
	Receipts   []DossierReceipt  `json:"receipts"`
	Recipients []RecipientStatus `json:"recipients"`
	Warnings   []string          `json:"warnings,omitempty"`
	// LegalHold: a legal hold is set on at least one of its messages.
	LegalHold bool `json:"legal_hold"`
	records   []*Record
}

// DossierReceipt is one receipt or notice in a dossier.
type DossierReceipt struct {
	ID           string      `json:"id"`
	Kind         pec.Kind    `json:"kind"`
	ReceiptType  string      `json:"receipt_type"`
	Recipient    string      `json:"recipient"`
	Date         *time.Time  `json:"date"`
	Signature    pec.Verdict `json:"signature"`
	Errore       string      `json:"errore,omitempty"`
	ErroreEsteso string      `json:"errore_esteso,omitempty"`
}

// RecipientStatus is where one recipient stands.
type RecipientStatus struct {
	Address string `json:"address"`
	Status  string `json:"status"`
	// Evidence is the id of the receipt that decided the status.
	Evidence string `json:"evidence,omitempty"`
}

// ErrNoDossier: nothing matches the id or Message-ID given.
var ErrNoDossier = fmt.Errorf("no message with that id or Message-ID")

var sha256Hex = regexp.MustCompile(`^[0-9a-f]{64}$`)

// FindDossier returns the dossier of a message given by its id (SHA-256),
// an unambiguous prefix of it (at least MinShortID hex digits; an ambiguous
// one is an *AmbiguousError listing the candidates) or any Message-ID it
// carries (its own, the original, the provider's identificativo).
func (a *Archive) FindDossier(ref string) (*Dossier, error) {
	ref = strings.TrimSpace(ref)
	var key string
	if sha256Hex.MatchString(strings.ToLower(ref)) {
		r, err := a.Catalog.Get(strings.ToLower(ref))
		if err != nil {
			return nil, err
		}
		if r != nil {
			key = r.Dossier
		}
	}
	if key == "" {
		// A short id, as search and ingest print them.
		k, err := a.dossierByIDPrefix(ref)
		if err != nil {
			return nil, err
		}
		key = k
	}
	// A damaged index may hide some of the dossier's messages: the ones it
	// could read are shown, and a warning says so (on the page, in show,
	// in an evidence pack's report).
	skipped := 0
	incomplete := func(err error) error {
		var inc *IncompleteError
		if errors.As(err, &inc) {
			skipped += inc.Skipped
			return nil
		}
		return err
	}
	build := func(key string, recs []*Record) *Dossier {
		d := buildDossier(key, recs)
		if skipped > 0 {
			d.Warnings = append(d.Warnings, fmt.Sprintf("the catalog's index has %d damaged entries where this dossier's messages are listed: the dossier may lack some (conserva catalog check names the damage; conserva catalog rebuild mends it)", skipped))
		}
		return d
	}
	if key == "" {
		k, recs, found, err := a.Catalog.DossierByMessageID(ref)
		if err = incomplete(err); err != nil {
			return nil, err
		}
		if !found {
			return nil, fmt.Errorf("%s: %w", ref, ErrNoDossier)
		}
		if recs != nil {
			return build(k, recs), nil
		}
		key = k
	}
	recs, err := a.Catalog.DossierRecords(key)
	if err = incomplete(err); err != nil {
		return nil, err
	}
	return build(key, recs), nil
}

// buildDossier orders the records in time and derives each recipient's
// status. A delivery receipt is proof and wins over any failure notice for
// the same recipient; both are kept, with a warning.
func buildDossier(key string, recs []*Record) *Dossier {
	// Providers stamp times to the second: objects of the same second go in
	// the order of the PEC flow (accettazione before the envelope, the
	// envelope before its receipts), then by id so that every run agrees.
	sort.SliceStable(recs, func(i, j int) bool {
		ti, tj := recs[i].Time(), recs[j].Time()
		if !ti.Equal(tj) {
			return ti.Before(tj)
		}
		if fi, fj := flowRank(recs[i].Kind), flowRank(recs[j].Kind); fi != fj {
			return fi < fj
		}
		return recs[i].ID < recs[j].ID
	})
	d := &Dossier{MessageID: key, Messages: []*Record{}, Receipts: []DossierReceipt{}, Recipients: []RecipientStatus{}, records: recs}
	status := map[string]*RecipientStatus{}
	var order []string
	addr := func(a string) *RecipientStatus {
		a = strings.ToLower(strings.TrimSpace(a))
		if a == "" {
			return nil
		}
		if s, ok := status[a]; ok {
			return s
		}
		s := &RecipientStatus{Address: a, Status: StatusPending}
		status[a] = s
		order = append(order, a)
		return s
	}
	accepted := false
	for _, r := range recs {
		if r.LegalHold {
			d.LegalHold = true
		}
		switch r.Kind {
		case pec.KindPostaCertificata, pec.KindAnomalia, pec.KindAccettazione, pec.KindNonAccettazione:
			for _, to := range r.To {
				addr(to)
			}
		}
		if !r.Kind.IsReceipt() {
			d.Messages = append(d.Messages, r)
			continue
		}
		recipient := r.Consegna
		if recipient == "" && len(r.Ricezione) > 0 {
			recipient = strings.Join(r.Ricezione, ", ")
		}
		d.Receipts = append(d.Receipts, DossierReceipt{ID: r.ID, Kind: r.Kind, ReceiptType: r.ReceiptType, Recipient: recipient,
			Date: r.Date, Signature: r.Signature, Errore: r.Errore, ErroreEsteso: r.ErroreEsteso})
		if r.Kind == pec.KindAccettazione {
			accepted = true
		}
	}
	// Decide statuses from the receipts, strongest evidence last.
	fail := func(s *RecipientStatus, r *Record) {
		if s == nil {
			return
		}
		if s.Status == StatusDelivered {
			d.Warnings = append(d.Warnings, fmt.Sprintf("%s: %s notice %s despite the delivery receipt %s (delivery stands)", s.Address, r.Kind, ShortID(r.ID), ShortID(s.Evidence)))
			return
		}
		s.Status, s.Evidence = StatusFailed, r.ID
	}
	for _, r := range recs {
		if r.Kind == pec.KindAvvenutaConsegna {
			if s := addr(r.Consegna); s != nil {
				if s.Status == StatusFailed {
					d.Warnings = append(d.Warnings, fmt.Sprintf("%s: delivery receipt %s despite the failure notice %s (delivery stands)", s.Address, ShortID(r.ID), ShortID(s.Evidence)))
				}
				s.Status, s.Evidence = StatusDelivered, r.ID
			}
		}
	}
	for _, r := range recs {
		switch r.Kind {
		case pec.KindErroreConsegna:
			fail(addr(r.Consegna), r)
		case pec.KindPreavvisoErroreConsegna:
			// The 12-hour notice is a warning; providers mark the final one
			// with a 5.x.x code (5.4.1: time limit exceeded).
			if strings.HasPrefix(strings.TrimSpace(r.ErroreEsteso), "5.") {
				fail(addr(r.Consegna), r)
			} else if s := addr(r.Consegna); s != nil {
				d.Warnings = append(d.Warnings, fmt.Sprintf("%s: delivery not yet confirmed after the time limit (%s)", s.Address, ShortID(r.ID)))
			}
		case pec.KindRilevazioneVirus:
			for _, a := range r.Ricezione {
				fail(addr(a), r)
			}
		case pec.KindNonAccettazione:
			for _, a := range order {
				fail(status[a], r)
			}
		}
	}
	for _, a := range order {
		s := status[a]
		if s.Status == StatusPending && accepted {
			s.Status = StatusAccepted
		}
		d.Recipients = append(d.Recipients, *s)
	}
	return d
}

// flowRank is the place of a kind in the PEC flow: the sender's message,
// its acceptance (or refusal), the transport envelope, the recipient
// provider's taking charge, then delivery or its failure.
func flowRank(k pec.Kind) int {
	switch k {
	case pec.KindNotPEC:
		return 0
	case pec.KindAccettazione, pec.KindNonAccettazione:
		return 1
	case pec.KindPostaCertificata, pec.KindAnomalia:
		return 2
	case pec.KindPresaInCarico:
		return 3
	case pec.KindAvvenutaConsegna:
		return 4
	case pec.KindPreavvisoErroreConsegna, pec.KindRilevazioneVirus:
		return 5
	case pec.KindErroreConsegna:
		return 6
	}
	return 7
}

// ShortID is the first 12 hex digits of an id, for people to read.
func ShortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// Event is one line of a dossier's timeline.
type Event struct {
	Date      *time.Time
	Kind      string
	About     string // subject for messages, recipient for receipts
	Signature pec.Verdict
	Reason    string // why the signature is not valid ("" when it is)
	ID        string
	LegalHold bool
}

// Timeline lists the dossier's messages and receipts in time order.
func (d *Dossier) Timeline() []Event {
	var out []Event
	for _, r := range d.records {
		about := r.Subject
		if r.Kind.IsReceipt() {
			about = r.Consegna
			if about == "" {
				about = strings.Join(r.To, ", ")
			}
		}
		kind := string(r.Kind)
		if r.ReceiptType != "" {
			kind += " (" + r.ReceiptType + ")"
		}
		ev := Event{Date: r.Date, Kind: kind, About: about, Signature: r.Signature, ID: r.ID, LegalHold: r.LegalHold}
		if r.Signature != pec.Valid {
			ev.Reason = r.Reason
		}
		out = append(out, ev)
	}
	return out
}
