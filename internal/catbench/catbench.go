// Package catbench makes synthetic catalogs of any size directly (not
// through ingest), shaped like what ingest records for signed PEC, and
// measures the catalog's queries on them (scripts/bench.sh --section
// catalog). It uses only the archive's public API, so that the same
// generator measures an older catalog format too.
package catbench

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/conserva/conserva/archive"
	"github.com/conserva/conserva/pec"
)

// Shape of the synthetic archive: dossiers of four objects (envelope,
// acceptance, two deliveries), one a minute from Base, between Senders
// senders and Recipients recipients, read from Mailboxes mailboxes.
const (
	Senders    = 1000
	Recipients = 5000
	Mailboxes  = 8
)

// Base is the date of the first dossier.
var Base = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// Words make the subjects: the i-th dossier's subject has word
// Words[i%len(Words)] and a word unique to it ("pratica<i>").
var Words = []string{"notifica", "atto", "decreto", "fattura", "sollecito", "ricorso", "verbale", "delibera", "contratto", "diffida", "istanza", "ordinanza"}

const reason = "signature matches the content; chain to trust anchor \"Provider PEC CA\" valid at signing time (signingTime); legacy algorithms accepted: SHA-1 message digest"

// ID is the id of the i-th message.
func ID(i int) string {
	s := sha256.Sum256(fmt.Appendf(nil, "catbench %d", i))
	return hex.EncodeToString(s[:])
}

// MessageID is the original Message-ID of dossier d.
func MessageID(d int) string { return fmt.Sprintf("%08d.%s@client.pec.example", d, ID(-d - 1)[:12]) }

// Sender and Recipient are the addresses of dossier d.
func Sender(d int) string    { return fmt.Sprintf("s%d@pec.example", d%Senders) }
func Recipient(d int) string { return fmt.Sprintf("r%d@pec.example", d%Recipients) }

// Date is the date of dossier d.
func Date(d int) time.Time { return Base.Add(time.Duration(d) * time.Minute) }

// Record is the i-th message's record, as ingest would make it.
func Record(i int) *archive.Record {
	d := i / 4
	mid := MessageID(d)
	id := ID(i)
	date := Date(d)
	signed := date.Add(time.Second)
	ingested := date.Add(time.Hour)
	to := []string{Recipient(d), Recipient(d + 1)}
	mailbox := fmt.Sprintf("imaps://protocollo%d@pec.example/INBOX", d%Mailboxes)
	r := &archive.Record{
		ID: id, Key: "messages/" + id[:2] + "/" + id + ".eml", Size: 5000 + int64(i%4000),
		ReceiptType: "completa", Signature: pec.Valid, Reason: reason, Signer: "Posta Certificata Provider", SignedAt: &signed, TimeSource: "signingTime",
		From: Sender(d), To: to, Subject: fmt.Sprintf("POSTA CERTIFICATA: Pratica%d %s", d, Words[d%len(Words)]),
		Date: &date, Dossier: mid, Sources: []string{fmt.Sprintf("%s;UIDVALIDITY=1;UID=%d", mailbox, i)}, IngestedAt: ingested,
		History: []archive.VerdictEvent{{At: ingested, By: "ingest", Verdict: pec.Valid, Reason: reason, Signer: "Posta Certificata Provider",
			Trust: []string{"f8c0a91d42686b361a17ef3953f3f3c3740b355a6fba55e03fb7a630380bbda2"}}},
		Flow: "U", Class: archive.Classification{TipoRegistro: "Nessuno"},
		ClassHistory: []archive.ClassEvent{{By: "ingest", Class: archive.Classification{TipoRegistro: "Nessuno"}}},
	}
	switch i % 4 {
	case 0:
		r.Kind, r.MessageID, r.Msgid, r.RefMessageID = pec.KindPostaCertificata, "<opec."+mid+">", "<"+mid+">", "<"+mid+">"
		r.Identificativo = "opec." + mid
		r.Attachments = []archive.Attachment{{Name: "documento.pdf", Type: "application/pdf", Size: 2000, SHA256: ID(-i - 2)}}
		r.Errore = "nessuno"
	case 1:
		r.Kind, r.MessageID, r.RefMessageID, r.Identificativo = pec.KindAccettazione, "<acc."+mid+">", "<"+mid+">", "opec."+mid
		r.Subject = "ACCETTAZIONE: " + r.Subject[len("POSTA CERTIFICATA: "):]
		r.Errore = "nessuno"
	default:
		r.Kind, r.MessageID, r.RefMessageID, r.Identificativo = pec.KindAvvenutaConsegna, fmt.Sprintf("<cons%d.%s>", i%4, mid), "<"+mid+">", "opec."+mid
		r.Consegna = to[i%4-2]
		r.Subject = "CONSEGNA: " + r.Subject[len("POSTA CERTIFICATA: "):]
		r.Errore = "nessuno"
	}
	// One in a hundred is flagged, as an invalid signature would be.
	if i%100 == 99 {
		r.Signature, r.Reason, r.Flagged, r.FlagReason = pec.Invalid, "the signed content was altered", true, "invalid: the signed content was altered"
	}
	return r
}

// Generate makes the archive home dir with a catalog of n synthetic
// messages (replacing any catalog there), inserting them in date order in
// batches of a thousand, as ingest does, and reports progress. Load makes
// the same catalog much faster.
func Generate(dir string, n int, progress func(done int)) error {
	os.Remove(filepath.Join(dir, "catalog.db"))
	a, err := archive.Open(dir, nil)
	if err != nil {
		return err
	}
	defer a.Close()
	const batchSize = 1000
	batch := make([]*archive.Record, 0, batchSize)
	for start := 0; start < n; start += batchSize {
		batch = batch[:0]
		for i := start; i < min(n, start+batchSize); i++ {
			batch = append(batch, Record(i))
		}
		if _, err := a.Catalog.Insert(batch); err != nil {
			return fmt.Errorf("inserting messages %d…: %w", start, err)
		}
		if progress != nil && (start+batchSize)%100_000 == 0 {
			progress(min(n, start+batchSize))
		}
	}
	return nil
}

// Load makes the archive home dir with a catalog of n synthetic messages
// (replacing any catalog there) through archive.LoadCatalog: the records
// of Generate, each bucket written in key order, temporary sort runs in
// tmp ("" for the system's temporary directory).
func Load(dir, tmp string, n int) error {
	a, err := archive.Open(dir, nil)
	if err != nil {
		return err
	}
	a.Close()
	path := filepath.Join(dir, "catalog.db")
	os.Remove(path)
	return archive.LoadCatalog(path, tmp, n, Record)
}

// Raw is the i-th message of a synthetic store: a plain mail (no PEC
// envelope, so no signature to verify), shaped like Record(i).
func Raw(i int) []byte {
	d := i / 4
	return fmt.Appendf(nil, "From: <%s>\r\nTo: <%s>\r\nSubject: Pratica%d %s\r\nDate: %s\r\nMessage-ID: <%d.%s>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nMessaggio %d della pratica %d.\r\n",
		Sender(d), Recipient(d), d, Words[d%len(Words)], Date(d).Format(time.RFC1123Z), i, MessageID(d), i, d)
}

// WriteStore makes the archive home dir (if need be) and writes n messages
// (Raw) into its local store as ingest lays them out, without a catalog:
// what `conserva catalog rebuild` starts from.
func WriteStore(dir string, n int, progress func(done int)) error {
	a, err := archive.Open(dir, nil)
	if err != nil {
		return err
	}
	a.Close()
	os.Remove(filepath.Join(dir, "catalog.db"))
	for i := range n {
		raw := Raw(i)
		sum := sha256.Sum256(raw)
		id := hex.EncodeToString(sum[:])
		p := filepath.Join(dir, "store", "messages", id[:2], id+".eml")
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, raw, 0o444); err != nil && !os.IsPermission(err) {
			return err
		}
		if progress != nil && (i+1)%100_000 == 0 {
			progress(i + 1)
		}
	}
	return nil
}
