package evidencepack

import (
	"encoding/json"
	"time"

	"github.com/conserva/conserva/pec"
)

// Report is report.json: the dossier and what was verified when the
// pack was made.
type Report struct {
	ExportedAt time.Time `json:"exported_at"`
	Dossier    *Dossier  `json:"dossier"`
	Messages   []Message `json:"verified_messages"`
	Packages   []Package `json:"packages"`
	// PackIntact: every message hashes to its name, every sealed message is
	// listed in its package's signed index, and every package signature and
	// timestamp holds against the pinned roots.
	PackIntact bool `json:"pack_intact"`
	// Verdicts counts the providers' signatures by verdict; ProvidersValid
	// says whether every one is valid. They say nothing of the pack.
	Verdicts       map[pec.Verdict]int `json:"provider_verdicts"`
	ProvidersValid bool                `json:"provider_signatures_all_valid"`
	// AllOK is both: the pack is intact and every provider signature valid.
	AllOK bool `json:"all_ok"`
	// Who signs the pack's manifest, and the roots everything is checked
	// against (shipped in roots/).
	Conservator string      `json:"conservator"`
	TSA         string      `json:"tsa"`
	Roots       []Root      `json:"roots"`
	Providers   []TrustFile `json:"provider_trust"`
	Unsealed    []string    `json:"unsealed,omitempty"` // ids of messages in no package yet
	Notes       []string    `json:"notes,omitempty"`
}

// Dossier is the dossier a pack is made of: what report.html shows of it,
// and the archive's whole record of it, which report.json holds as it is
// (the pack does not interpret it).
type Dossier struct {
	MessageID  string
	Recipients []Recipient
	Warnings   []string
	Record     json.RawMessage // JSON
}

// MarshalJSON is the archive's record of the dossier.
func (d Dossier) MarshalJSON() ([]byte, error) { return recordJSON(d.Record), nil }

// Recipient is where one recipient of the dossier stands: Status is one of
// delivered, failed, accepted, pending.
type Recipient struct{ Address, Status string }

// TrustFile is one file of the providers' trust anchors the verdicts were
// given with (shipped together as providers/anchors.pem): what report.html
// shows of it, and the archive's record of it, which report.json holds as
// it is.
type TrustFile struct {
	Name    string // the file's base name when it was given
	Anchors int
	SHA256  string
	Record  json.RawMessage // JSON
}

// MarshalJSON is the archive's record of the file.
func (f TrustFile) MarshalJSON() ([]byte, error) { return recordJSON(f.Record), nil }

// recordJSON is a record given as JSON, null when none was.
func recordJSON(js json.RawMessage) []byte {
	if len(js) == 0 {
		return []byte("null")
	}
	return js
}

// Root is a pinned root shipped in the pack.
type Root struct {
	Role    string `json:"role"` // signer or tsa
	File    string `json:"file"`
	Subject string `json:"subject"`
	SHA256  string `json:"sha256"` // of the certificate's DER
}

// Message is one message as verified at export time.
type Message struct {
	ID          string           `json:"id"`
	File        string           `json:"file"`
	Kind        pec.Kind         `json:"kind"`
	ReceiptType string           `json:"receipt_type"`
	From        string           `json:"from"`
	To          []string         `json:"to"`
	Recipient   string           `json:"recipient,omitempty"`
	Date        *time.Time       `json:"date"`
	Subject     string           `json:"subject"`
	Signature   pec.Verdict      `json:"signature"`
	Reason      string           `json:"reason"`
	Signer      string           `json:"signer"`
	SignedAt    *time.Time       `json:"signed_at"`
	HashOK      bool             `json:"hash_ok"`
	Package     string           `json:"package"`
	InIndex     bool             `json:"listed_in_signed_index"`
	Sources     []string         `json:"sources"`
	IngestedAt  time.Time        `json:"ingested_at"`
	Attachments []pec.Attachment `json:"attachments,omitempty"`
	// Its latest evidence record, checked at export time: the first
	// archive timestamp's time, and when it must be renewed.
	EvidenceRecord   string     `json:"evidence_record,omitempty"`
	EvidenceRecordOK bool       `json:"evidence_record_ok,omitempty"`
	ProvenAt         *time.Time `json:"proven_at,omitempty"`
	RenewBefore      time.Time  `json:"renew_before,omitzero"`
	// ERSRoot is the file under roots/ that VERIFY.txt checks the record's
	// first archive timestamp under ("" when it verified under none).
	ERSRoot string `json:"-"`
}

// Package is one package as verified at export time.
type Package struct {
	ID          string    `json:"id"`
	Timestamp   time.Time `json:"timestamp"`
	SignatureOK bool      `json:"signature_ok"`
	TimestampOK bool      `json:"timestamp_ok"`
	Signer      string    `json:"signer"`
	TSA         string    `json:"tsa"`
	SignerRoot  string    `json:"signer_root,omitempty"` // file under roots/
	TSARoot     string    `json:"tsa_root,omitempty"`
	Problems    []string  `json:"problems,omitempty"`
	Development bool      `json:"development_keys"`
	// Validation lists the package's validation data shipped (validation/…).
	Validation []string `json:"validation,omitempty"`
	// CRLChecks are the revocation checks VERIFY.txt makes with openssl.
	CRLChecks []CRLCheck `json:"-"`
}

// CRLCheck is one `openssl verify -crl_check` of VERIFY.txt: a chain's
// leaf against the CRLs kept, at the timestamp's time. The files are
// names in the pack.
type CRLCheck struct {
	Role          string // "signer" or "tsa"
	Leaf          string // DER certificate
	Intermediates []string
	CRLs          []string
}

// Original is the message the report describes first: the envelope of the
// original message when the pack holds it, else its acceptance receipt,
// else the first message.
func (r *Report) Original() *Message {
	for _, k := range []pec.Kind{pec.KindPostaCertificata, pec.KindAnomalia, pec.KindAccettazione} {
		for i := range r.Messages {
			if r.Messages[i].Kind == k {
				return &r.Messages[i]
			}
		}
	}
	if len(r.Messages) > 0 {
		return &r.Messages[0]
	}
	return nil
}
