package catalog

import (
	"strings"
	"time"

	"github.com/conserva/conserva/pec"
	"github.com/conserva/conserva/smistamento"
)

// Record is what the catalog knows of one stored message. Everything in it
// can be recomputed from the stored bytes (archive's Rebuild), except where the
// message came from and when it was ingested.
type Record struct {
	ID          string      `json:"id"` // SHA-256 of the raw bytes, hex
	Key         string      `json:"key"`
	VersionID   string      `json:"version_id,omitempty"` // on S3: reads go by this version
	LegalHold   bool        `json:"legal_hold,omitempty"`
	Size        int64       `json:"size"`
	Kind        pec.Kind    `json:"kind"`
	ReceiptType string      `json:"receipt_type"`
	Signature   pec.Verdict `json:"signature"`
	Reason      string      `json:"reason"`
	Signer      string      `json:"signer"`
	SignedAt    *time.Time  `json:"signed_at"`
	TimeSource  string      `json:"time_source,omitempty"`

	MessageID      string     `json:"message_id"`
	RefMessageID   string     `json:"ref_message_id"`
	Identificativo string     `json:"identificativo"`
	Msgid          string     `json:"msgid"`
	From           string     `json:"from"` // the real sender
	To             []string   `json:"to"`
	Subject        string     `json:"subject"`
	Date           *time.Time `json:"date"` // the daticert time when there is one, else the Date header
	// Consegna is the recipient a delivery receipt or failure notice is about.
	Consegna     string   `json:"recipient,omitempty"`
	Ricezione    []string `json:"ricezione,omitempty"`
	Errore       string   `json:"errore,omitempty"`
	ErroreEsteso string   `json:"errore_esteso,omitempty"`

	Dossier    string    `json:"dossier"` // the original Message-ID the object is about, without brackets
	Sources    []string  `json:"sources"`
	IngestedAt time.Time `json:"ingested_at"`
	Package    string    `json:"package"`
	Flagged    bool      `json:"flagged"`
	FlagReason string    `json:"flag_reason,omitempty"`
	Warnings   []string  `json:"warnings,omitempty"`
	// History is every verdict the provider's signature was given: at
	// ingest first, then each re-verification that changed it. Signature,
	// Reason and Flagged above are the latest; nothing here is overwritten.
	History []VerdictEvent `json:"history,omitempty"`

	// Damage is set when the stored object is not what the record names
	// ("damaged: …", "missing from the store"): a rebuild keeps such records
	// so that the damage stays visible (audit names them), and seal skips them.
	Damage string `json:"damage,omitempty"`
	// PackageProblem is set when the package the message was sealed in is
	// missing or broken: the message stays in it, never re-sealed silently.
	PackageProblem string `json:"package_problem,omitempty"`

	// AgID metadata (docs/AGID.md): the attachments of the original
	// message, its flow seen from the organisation's mailboxes, and where
	// it is filed (Class is the latest; ClassHistory keeps every one).
	Attachments     []Attachment               `json:"attachments,omitempty"`
	AttachmentsNote string                     `json:"attachments_note,omitempty"`
	Flow            string                     `json:"flow,omitempty"`
	Class           smistamento.Classification `json:"class,omitzero"`
	ClassHistory    []smistamento.Event        `json:"class_history,omitempty"`
	// Disposed is the scarto proposal that deleted the stored message at
	// the end of its retention: the record stays, the object is gone.
	Disposed string `json:"disposed,omitempty"`
}

// Attachment of the original message, as the catalog keeps it.
type Attachment struct {
	Name   string `json:"name"`
	Type   string `json:"type,omitempty"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// VerdictEvent is one judgement of a message's provider signature.
type VerdictEvent struct {
	At      time.Time   `json:"at"`
	By      string      `json:"by"` // ingest, reverify, rebuild
	Verdict pec.Verdict `json:"verdict"`
	Reason  string      `json:"reason"`
	Signer  string      `json:"signer,omitempty"`
	Trust   []string    `json:"trust,omitempty"` // SHA-256 of the kept trust files used
}

// Time is the record's date, or when it was ingested when it has none.
func (r *Record) Time() time.Time {
	if r.Date != nil {
		return *r.Date
	}
	return r.IngestedAt
}

// NormalizeMessageID strips blanks and angle brackets, so that
// "<a@b>", "a@b" and " <a@b> " name the same message.
func NormalizeMessageID(id string) string {
	id = strings.TrimSpace(id)
	id = strings.TrimPrefix(id, "<")
	id = strings.TrimSuffix(id, ">")
	return strings.TrimSpace(id)
}

// SetVerdict makes a verdict the current one, flagging what is not valid.
func (r *Record) SetVerdict(v pec.Verdict, reason string) {
	r.Signature, r.Reason = v, reason
	r.Flagged, r.FlagReason = v != pec.Valid, ""
	if r.Flagged {
		r.FlagReason = string(v) + ": " + reason
	}
}
