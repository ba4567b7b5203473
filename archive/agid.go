package archive

import (
	"context"
	"errors"
	"path"
	"strings"

	"github.com/conserva/conserva/agid"
	"github.com/conserva/conserva/catalog"
	"github.com/conserva/conserva/pec"
	"github.com/conserva/conserva/sip"
	"github.com/conserva/conserva/storage"
)

// The AgID metadata of catalogued messages: package agid describes them,
// this glue reads them from the catalog's records and stores what it
// describes.

// ownAddresses are the organisation's addresses: configured, and the
// users of its IMAP sources when they are addresses.
func (a *Archive) ownAddresses() map[string]bool {
	urls := make([]string, len(a.Config.Sources))
	for i, s := range a.Config.Sources {
		urls[i] = s.URL
	}
	return a.Config.AgID.OwnAddresses(urls)
}

// describeAgID completes a new record with what the AgID metadata need
// from the message itself (attachments of postacert.eml), its flow seen
// from the organisation's mailboxes, and its classification.
func (a *Archive) describeAgID(ctx context.Context, r *Record, m *pec.Message, rebuilding bool) {
	if m != nil {
		atts, err := m.Attachments()
		for _, at := range atts {
			name, _ := catalog.CapField(at.Name)
			r.Attachments = append(r.Attachments, Attachment{Name: name, Type: at.Type, Size: at.Size, SHA256: at.SHA256})
		}
		if err != nil {
			r.AttachmentsNote, _ = catalog.CapField("the list of attachments may be incomplete: " + err.Error())
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

// flowOf is a record's flow (agid.Flow) seen from the addresses own.
func flowOf(r *Record, own map[string]bool) string {
	return agid.Flow(r.Kind, r.From, r.To, own)
}

// documentOfRecord is the Allegato 5 metadata of a catalogued message: it
// depends on the record and the retention of the seal's journal only.
func documentOfRecord(r *Record, retention string) *sip.Document {
	d := &sip.Document{
		SHA256: r.ID, Kind: string(r.Kind), Flow: r.Flow, Registered: r.IngestedAt,
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
	for _, at := range r.Attachments {
		d.Attachments = append(d.Attachments, sip.Attachment{Name: at.Name, SHA256: at.SHA256, Size: at.Size, Type: at.Type})
	}
	agid.Complete(d)
	var notes []string
	if r.Flagged {
		notes = append(notes, "segnalato / flagged: "+r.FlagReason)
	}
	notes = append(notes, r.Warnings...)
	d.Note = strings.Join(notes, "; ")
	return d
}

// aggregationsOf groups a package's records by aggregation (agid.Aggregations).
func aggregationsOf(recs []*Record, retention string) []*sip.Aggregation {
	return agid.Aggregations(func(yield func(*sip.Document) bool) {
		for _, r := range recs {
			if !yield(documentOfRecord(r, retention)) {
				return
			}
		}
	}, sip.RetentionYears(retention))
}

// writeAggregations stores the aggregazione record of each dossier the
// package holds part of, reusing what an interrupted run stored.
func (a *Archive) writeAggregations(ctx context.Context, prefix string, recs []*Record, retention string) ([]sip.File, error) {
	var files []sip.File
	for _, g := range aggregationsOf(recs, retention) {
		key := agid.AggregationKey(prefix, g.ID)
		data, err := a.readAll(ctx, key)
		if errors.Is(err, storage.ErrNotFound) {
			if data, err = g.AggregationXML(); err == nil {
				err = a.putBytes(ctx, key, data)
			}
		}
		if err != nil {
			return nil, err
		}
		files = append(files, agid.AggregationFile(key, data))
	}
	return files, nil
}
