package archive

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/url"
	"path"
	"sort"
	"strings"

	"github.com/conserva/conserva/pec"
	"github.com/conserva/conserva/sip"
	"github.com/conserva/conserva/storage"
)

// AgIDConfig is the [agid] section: what the AgID metadata say of the
// organisation's registers (docs/AGID.md).
type AgIDConfig struct {
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

// Attachment of the original message, as the catalog keeps it.
type Attachment struct {
	Name   string `json:"name"`
	Type   string `json:"type,omitempty"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// ownAddresses are the organisation's addresses: configured, and the
// users of its IMAP sources when they are addresses.
func (a *Archive) ownAddresses() map[string]bool {
	own := map[string]bool{}
	for _, s := range a.Config.AgID.Addresses {
		own[strings.ToLower(strings.TrimSpace(s))] = true
	}
	for _, s := range a.Config.Sources {
		u, err := url.Parse(s.URL)
		if err != nil || u.User == nil || !strings.HasPrefix(u.Scheme, "imap") {
			continue
		}
		if name := u.User.Username(); strings.Contains(name, "@") {
			own[strings.ToLower(name)] = true
		}
	}
	return own
}

// describeAgID completes a new record with what the AgID metadata need
// from the message itself (attachments of postacert.eml), its flow seen
// from the organisation's mailboxes, and its classification.
func (a *Archive) describeAgID(ctx context.Context, r *Record, m *pec.Message, rebuilding bool) {
	if m != nil {
		atts, err := m.Attachments()
		for _, at := range atts {
			name, _ := capField(at.Name)
			r.Attachments = append(r.Attachments, Attachment{Name: name, Type: at.Type, Size: at.Size, SHA256: at.SHA256})
		}
		if err != nil {
			r.AttachmentsNote, _ = capField("the list of attachments may be incomplete: " + err.Error())
		}
	}
	r.Flow = flowOf(r, a.ownAddresses())
	a.classifyNew(r)
	if rebuilding {
		// Read back from the store: the reclassifications it keeps too.
		if err := a.restoreClassifications(ctx, r); err != nil {
			r.Warnings = append(r.Warnings, "reclassifications not restored: "+err.Error())
		}
	}
}

// flowOf says whether a message came in (E), went out (U) or stayed
// inside (I), from the point of view of the organisation's mailboxes.
// Receipts come back to the sender: they document an outgoing message.
func flowOf(r *Record, own map[string]bool) string {
	if r.Kind.IsReceipt() {
		return "U"
	}
	from := own[strings.ToLower(strings.TrimSpace(r.From))]
	to := false
	for _, t := range r.To {
		if own[strings.ToLower(strings.TrimSpace(t))] {
			to = true
		}
	}
	switch {
	case from && to:
		return "I"
	case from:
		return "U"
	}
	return "E"
}

// documentOfRecord is the Allegato 5 metadata of a catalogued message: it
// depends on the record and the retention of the seal's journal only.
func documentOfRecord(r *Record, retention string) *sip.Document {
	d := &sip.Document{
		SHA256: r.ID, Kind: string(r.Kind), Flow: firstNonEmpty(r.Flow, flowOf(r, nil)), Registered: r.IngestedAt,
		TipoRegistro: r.Class.TipoRegistro, CodiceReg: r.Class.CodiceRegistro, NumeroReg: r.Class.Numero,
		Sender: r.From, Recipients: r.To, Subject: r.Subject,
		AttachmentsNote: r.AttachmentsNote,
		Class:           r.Class.Code, ClassDesc: r.Class.Description, Piano: r.Class.Piano,
		Fascicolo: firstNonEmpty(r.Class.Fascicolo, r.Dossier), Riservato: r.Class.Riservato,
		Verdict: string(r.Signature), Reason: r.Reason, Signer: r.Signer, SignedAt: r.SignedAt,
		Name: path.Base(r.Key), Version: "1", RetentionYears: sip.RetentionYears(retention),
		Identificativo: r.Identificativo, Msgid: r.Msgid,
		ReceiptType: r.ReceiptType, Consegna: r.Consegna, Linked: r.Dossier, Date: r.Date,
		Errore: strings.TrimSpace(strings.Join([]string{r.Errore, r.ErroreEsteso}, " ")),
	}
	if len(r.Sources) > 0 {
		d.Operator = r.Sources[0]
	}
	// The software that made the message: the provider's PEC system, named
	// by the certificate it signed with.
	switch {
	case r.Signer != "":
		d.Product, d.Producer = "Sistema PEC del gestore", r.Signer
	case r.Kind == pec.KindNotPEC:
		d.Product = "Sistema di posta elettronica (non PEC)"
	default:
		d.Product = "Sistema PEC del gestore (non firmato)"
	}
	for _, at := range r.Attachments {
		d.Attachments = append(d.Attachments, sip.Attachment{Name: at.Name, SHA256: at.SHA256, Size: at.Size, Type: at.Type})
		low := strings.ToLower(at.Name)
		if strings.HasSuffix(low, ".p7m") || strings.HasSuffix(low, ".p7s") || strings.Contains(at.Type, "pkcs7") ||
			strings.HasSuffix(low, ".m7m") {
			d.Signed = true
		}
		if strings.HasSuffix(low, ".tsd") || strings.HasSuffix(low, ".tsr") || strings.HasSuffix(low, ".m7m") || strings.Contains(at.Type, "timestamp") {
			d.TimeStamped = true
		}
	}
	var notes []string
	if r.Flagged {
		notes = append(notes, "segnalato / flagged: "+r.FlagReason)
	}
	notes = append(notes, r.Warnings...)
	d.Note = strings.Join(notes, "; ")
	return d
}

// aggregationKey is where a dossier's record lives in a package: dossier
// keys are Message-IDs, not file names.
func aggregationKey(prefix, dossier string) string {
	s := sha256.Sum256([]byte(dossier))
	return prefix + "aggregazioni/" + hex.EncodeToString(s[:]) + ".xml"
}

// aggregationsOf groups a package's records by aggregation (the
// classification's fascicolo, else the dossier).
func aggregationsOf(recs []*Record, retention string) []*sip.Aggregation {
	by := map[string]*sip.Aggregation{}
	seen := map[string]map[string]bool{}
	var order []string
	for _, r := range recs {
		// A record without a dossier (never made by ingest) is its own.
		id := firstNonEmpty(r.Class.Fascicolo, r.Dossier, "sha256:"+r.ID)
		g := by[id]
		if g == nil {
			g = &sip.Aggregation{ID: id, Type: "Fascicolo", RetentionYears: sip.RetentionYears(retention)}
			by[id], seen[id] = g, map[string]bool{}
			order = append(order, id)
		}
		at := r.IngestedAt
		if r.Date != nil {
			at = *r.Date
		}
		if g.Opened.IsZero() || at.Before(g.Opened) {
			g.Opened = at
		}
		if g.Class == "" && r.Class.Code != "" {
			g.Class, g.ClassDesc, g.Piano = r.Class.Code, r.Class.Description, r.Class.Piano
		}
		if g.Subject == "" || r.Kind == pec.KindPostaCertificata {
			if r.Kind == pec.KindPostaCertificata || g.Subject == "" {
				g.Subject = r.Subject
			}
		}
		add := func(role, addr string) {
			addr = strings.ToLower(strings.TrimSpace(addr))
			if addr == "" || seen[id][role+addr] {
				return
			}
			seen[id][role+addr] = true
			g.Subjects = append(g.Subjects, sip.AggSubject{Role: role, Address: addr})
		}
		if !r.Kind.IsReceipt() {
			add("Mittente", r.From)
			for _, t := range r.To {
				add("Destinatario", t)
			}
		}
		g.Documents = append(g.Documents, sip.AggDocument{ID: r.ID, Kind: string(r.Kind), Date: at})
	}
	out := make([]*sip.Aggregation, 0, len(order))
	sort.Strings(order)
	for _, id := range order {
		g := by[id]
		sort.Slice(g.Documents, func(i, k int) bool { return g.Documents[i].ID < g.Documents[k].ID })
		out = append(out, g)
	}
	return out
}

// writeAggregations stores the aggregazione record of each dossier the
// package holds part of, reusing what an interrupted run stored.
func (a *Archive) writeAggregations(ctx context.Context, prefix string, recs []*Record, retention string) ([]sip.File, error) {
	var files []sip.File
	for _, g := range aggregationsOf(recs, retention) {
		key := aggregationKey(prefix, g.ID)
		data, err := a.readAll(ctx, key)
		if errors.Is(err, storage.ErrNotFound) {
			if data, err = g.AggregationXML(); err == nil {
				err = a.putBytes(ctx, key, data)
			}
		}
		if err != nil {
			return nil, err
		}
		files = append(files, aggregationFile(key, data))
	}
	return files, nil
}

// aggregationFile is how the index lists an aggregazione record.
func aggregationFile(key string, data []byte) sip.File {
	sum := sha256.Sum256(data)
	return sip.File{ID: "agg-" + strings.TrimSuffix(path.Base(key), ".xml"), Path: key,
		SHA256: hex.EncodeToString(sum[:]), Format: "application/xml", Extension: "xml", Size: int64(len(data))}
}
