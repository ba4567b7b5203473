package archive

import (
	"strings"
	"time"

	"github.com/conserva/conserva/catalog"
	"github.com/conserva/conserva/internal/redact"
	"github.com/conserva/conserva/pec"
	"github.com/conserva/conserva/storage"
)

// newRecord describes a parsed and verified message.
func newRecord(m *pec.Message, v pec.Verification, source string, now time.Time) *Record {
	r := &Record{
		ID: m.SHA256, Key: storage.MessageKey(m.SHA256), Size: m.Size,
		Kind: m.Kind, ReceiptType: m.ReceiptType,
		Signature: v.Verdict, Reason: v.Reason, Signer: v.Signer, SignedAt: v.SignedAt, TimeSource: v.TimeSource,
		MessageID: m.MessageID, RefMessageID: m.RefMessageID, Identificativo: m.Identificativo, Msgid: m.Msgid,
		From: m.Sender, To: m.Recipients, Subject: m.Subject,
		Sources: []string{redact.Text(source)}, IngestedAt: now, Warnings: m.Warnings,
	}
	if !m.Date.IsZero() {
		d := m.Date
		r.Date = &d
	}
	if d := m.Daticert; d != nil {
		if !d.Data.IsZero() {
			t := d.Data
			r.Date = &t
		}
		r.Consegna = strings.ToLower(d.Consegna)
		r.Ricezione = d.Ricezione
		r.Errore, r.ErroreEsteso = d.Errore, d.ErroreEsteso
	}
	catalog.CapRecord(r)
	r.Dossier = dossierKey(r)
	r.History = []VerdictEvent{{At: now, By: "ingest", Verdict: v.Verdict, Reason: v.Reason, Signer: v.Signer}}
	r.SetVerdict(v.Verdict, v.Reason)
	return r
}

// dossierKey links an object to the message it is about: the original
// Message-ID (daticert msgid, X-Riferimento-Message-ID), or for anything
// else its own Message-ID, or failing all that its hash.
func dossierKey(r *Record) string {
	for _, id := range []string{r.Msgid, r.RefMessageID, r.MessageID} {
		if k := NormalizeMessageID(id); k != "" {
			return k
		}
	}
	return "sha256:" + r.ID
}
