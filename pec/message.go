package pec

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/emersion/go-message"
	"github.com/emersion/go-message/mail"
)

// Limits bound the work done on one message. They are explicit so that a
// hostile or broken input costs a known amount and fails with a clear reason.
type Limits struct {
	MaxSize  int64 // bytes of one message
	MaxDepth int   // MIME nesting depth
	MaxParts int   // parts of one multipart
	// MaxHeaderBytes bounds the header block of the message and of each
	// part: a larger one is not read (the message is archived, flagged).
	MaxHeaderBytes int
	// MaxHeaderLine bounds one header line: a field with a longer line is
	// left out of the parsed view, with a warning.
	MaxHeaderLine int
	// Certs, when set, remembers the certificates signatures carry, parsed,
	// across the messages of a run (NewCertCache); nil parses them each time.
	Certs *CertCache
}

// DefaultLimits: 200 MB per message, 32 levels of nesting, 10,000 parts,
// 1 MiB of header per entity (PEC envelopes to thousands of recipients fit),
// 256 KiB per header line.
func DefaultLimits() Limits {
	return Limits{MaxSize: 200 << 20, MaxDepth: 32, MaxParts: 10000, MaxHeaderBytes: 1 << 20, MaxHeaderLine: 256 << 10}
}

// Message is a parsed PEC object (or anything else that arrived). Raw holds
// the bytes exactly as they came; nothing here is ever re-serialised.
type Message struct {
	Raw    []byte `json:"-"`
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`

	Kind        Kind   `json:"kind"`
	ReceiptType string `json:"receipt_type"` // completa, breve, sintetica or ""

	MessageID      string    `json:"message_id"`     // this object's own Message-ID, brackets kept
	RefMessageID   string    `json:"ref_message_id"` // X-Riferimento-Message-ID: the original's Message-ID
	Identificativo string    `json:"identificativo"` // the provider's id of the certified message
	Msgid          string    `json:"msgid"`          // daticert msgid (the original Message-ID)
	From           string    `json:"from"`           // From address (the provider, for PEC objects)
	Sender         string    `json:"sender"`         // the real sender: daticert mittente, else Reply-To/From
	Recipients     []string  `json:"recipients"`     // daticert destinatari, else To and Cc
	Subject        string    `json:"subject"`        // decoded
	Date           time.Time `json:"date"`

	Daticert *Daticert `json:"daticert"`
	// postacert is the embedded original message (postacert.eml), the
	// part exactly as embedded; Postacert decodes it.
	postacert *entity

	Warnings []string `json:"warnings"`

	lim Limits
	sig *signature // the S/MIME signature found, nil when there is none
}

// Parse reads a message from its raw bytes. It never fails and never panics:
// whatever cannot be understood becomes a warning (or, for the signature, a
// reason to judge it invalid), because every input must still be archived.
// raw is kept as is, not copied: the caller must not modify it afterwards.
func Parse(raw []byte, lim Limits) *Message { return ParseHashed(raw, sha256.Sum256(raw), lim) }

// ParseHashed is Parse for a caller that has just hashed raw itself: sum
// must be the SHA-256 of raw (an ingest hashes each message once, not twice).
func ParseHashed(raw []byte, sum [sha256.Size]byte, lim Limits) *Message {
	m := parse(memSpan(raw), hex.EncodeToString(sum[:]), lim)
	m.Raw = raw
	return m
}

// ParseReaderAt reads a message of size bytes from r, as Parse does, without
// holding it in memory: only header blocks and the parts that are
// interpreted (daticert.xml, the signature) are read, and Verify reads the
// signed content in a stream. sha256Hex is the message's hash when the
// caller has it (else it is computed here, one more pass). r must not change
// while the Message is in use; Raw stays nil.
func ParseReaderAt(r io.ReaderAt, size int64, sha256Hex string, lim Limits) *Message {
	src := span{src: r, n: size}
	if sha256Hex == "" {
		h := sha256.New()
		if _, err := io.Copy(h, src.reader()); err != nil {
			m := &Message{Size: size, Kind: KindNotPEC, lim: lim}
			m.warn("reading the message: %v", err)
			m.sig = &signature{problem: "not verified: the message could not be read"}
			return m
		}
		sha256Hex = hex.EncodeToString(h.Sum(nil))
	}
	return parse(src, sha256Hex, lim)
}

func parse(raw span, sha256Hex string, lim Limits) (m *Message) {
	m = &Message{SHA256: sha256Hex, Size: raw.n, Kind: KindNotPEC, lim: lim}
	defer func() {
		if r := recover(); r != nil {
			// A library bug must not take the archive down with it.
			m.warn("internal error while parsing: %v", r)
			if m.sig == nil {
				m.sig = &signature{problem: "could not be parsed (internal error)"}
			}
		}
	}()
	if lim.MaxSize > 0 && raw.n > lim.MaxSize {
		m.warn("message of %d bytes exceeds the %d-byte limit: not parsed", raw.n, lim.MaxSize)
		m.sig = &signature{problem: fmt.Sprintf("not verified: message exceeds the %d-byte size limit", lim.MaxSize)}
		return m
	}
	top, err := parseEntity(raw, lim)
	if err != nil {
		m.warn("%v", err)
	}
	if top.headerTooLarge {
		m.sig = &signature{problem: fmt.Sprintf("not verified: the header block exceeds the %d-byte limit", lim.MaxHeaderBytes)}
		return m
	}
	for _, f := range top.longFields {
		m.warn("header field %s has a line over the %d-byte limit: not read", f, lim.MaxHeaderLine)
	}
	if top.headerRepaired {
		m.warn("malformed header lines were skipped while reading")
	}
	if top.header.Len() == 0 {
		m.warn("no message header found")
		return m
	}
	var w string
	m.Kind, w = classify(top.header.Get("X-Ricevuta"), top.header.Get("X-Trasporto"))
	m.warnIf(w)

	m.sig = findSignature(top, lim)
	root := top
	if m.sig != nil && m.sig.signed {
		if inner, err := parseEntity(m.sig.content, lim); err == nil {
			root = inner
		} else {
			m.warn("signed content: %v", err)
		}
	}
	parts := findCertParts(root, lim, m)
	m.readHeaders(top)
	m.readDaticert(parts.daticert)
	m.postacert = parts.postacert
	m.crossCheck(top)
	return m
}

func (m *Message) warn(format string, args ...any) {
	m.Warnings = append(m.Warnings, fmt.Sprintf(format, args...))
}

func (m *Message) warnIf(w string) {
	if w != "" {
		m.Warnings = append(m.Warnings, w)
	}
}

// readHeaders fills the linking fields from the top-level header.
func (m *Message) readHeaders(top *entity) {
	h := mail.Header{Header: message.Header{Header: top.header}}
	m.MessageID = strings.TrimSpace(h.Get("Message-Id"))
	m.RefMessageID = strings.TrimSpace(h.Get("X-Riferimento-Message-Id"))
	if s, err := h.Subject(); err == nil {
		m.Subject = s
	} else {
		m.Subject = strings.TrimSpace(h.Get("Subject"))
		m.warn("subject: %v", err)
	}
	if d, ok := quickDate(h.Get("Date")); ok {
		m.Date = d
	} else if d, err := h.Date(); err == nil {
		m.Date = d
	} else if h.Get("Date") != "" {
		m.warn("date %q: %v", h.Get("Date"), err)
	}
	m.From = firstAddress(h, "From")
	m.Sender = m.From
	if m.Kind == KindPostaCertificata || m.Kind == KindAnomalia {
		// The envelope's From is "Per conto di: …" <posta-certificata@provider>;
		// the real sender is in Reply-To.
		if r := firstAddress(h, "Reply-To"); r != "" {
			m.Sender = r
		}
	}
	m.Recipients = append(addresses(h, "To"), addresses(h, "Cc")...)
}

// quickDate parses the Date field as net/mail.ParseDate does, for the form
// every provider writes ("Mon, 30 Nov 2026 17:05:57 +0000"), with the one
// layout ParseDate ends on: it tries 24 layouts that start with the day
// number first, each failing (and allocating its error) on a field that
// starts with the weekday. false for anything else, which ParseDate reads.
func quickDate(v string) (time.Time, bool) {
	// ParseDate reads exactly v when v has no line break, no leading
	// blank, and its first sign starts a numeric zone that ends v.
	if len(v) < 6 || !('A' <= v[0] && v[0] <= 'Z' || 'a' <= v[0] && v[0] <= 'z') ||
		strings.IndexAny(v, "\r\n") >= 0 || strings.IndexAny(v, "+-") != len(v)-5 {
		return time.Time{}, false
	}
	t, err := time.Parse("Mon, 2 Jan 2006 15:04:05 -0700", v)
	return t, err == nil
}

func firstAddress(h mail.Header, key string) string {
	if a := addresses(h, key); len(a) > 0 {
		return a[0]
	}
	return ""
}

// addresses returns the lower-cased addresses of a header; an unparsable
// header falls back to its trimmed text rather than to nothing.
func addresses(h mail.Header, key string) []string {
	list, err := h.AddressList(key)
	if err != nil {
		if v := strings.TrimSpace(h.Get(key)); v != "" {
			return []string{v}
		}
		return nil
	}
	out := make([]string, 0, len(list))
	for _, a := range list {
		out = append(out, strings.ToLower(a.Address))
	}
	return out
}

func (m *Message) readDaticert(part *entity) {
	if part == nil {
		// Whether an anomalia carries a daticert is not settled by any real
		// sample: its absence there is no finding.
		if m.Kind != KindNotPEC && m.Kind != KindAnomalia {
			m.warn("daticert.xml is missing")
		}
		return
	}
	data, err := part.decodedBody(m.lim.MaxSize)
	if err != nil {
		m.warn("daticert.xml: %v", err)
		return
	}
	d, err := ParseDaticert(data)
	if err != nil {
		m.warn("%v", err)
		return
	}
	m.Daticert = d
	m.Identificativo = d.Identificativo
	m.Msgid = d.Msgid
	if d.Mittente != "" {
		m.Sender = strings.ToLower(d.Mittente)
	}
	if len(d.Destinatari) > 0 {
		m.Recipients = m.Recipients[:0]
		for _, r := range d.Destinatari {
			m.Recipients = append(m.Recipients, strings.ToLower(r.Address))
		}
	}
	if d.Giorno != "" && d.Data.IsZero() {
		m.warn("daticert data %s %s %s does not parse", d.Giorno, d.Ora, d.Zona)
	}
}

// crossCheck compares the headers with the daticert and sets the receipt
// type. Disagreements are findings for the user, never failures.
func (m *Message) crossCheck(top *entity) {
	header := strings.ToLower(strings.TrimSpace(top.header.Get("X-TipoRicevuta")))
	d := m.Daticert
	if d != nil {
		if want := daticertTipoFor(m.Kind); want != "" && d.Tipo != want {
			m.warn("headers say %s but daticert.xml says tipo=%q", m.Kind, d.Tipo)
		}
		if m.Kind == KindNotPEC && d.Tipo != "" {
			m.warn("daticert.xml says tipo=%q but the headers do not mark a PEC object", d.Tipo)
		}
		if m.RefMessageID != "" && d.Msgid != "" && m.RefMessageID != d.Msgid {
			m.warn("X-Riferimento-Message-ID %s differs from daticert msgid %s", m.RefMessageID, d.Msgid)
		}
		m.ReceiptType = d.Ricevuta
	}
	if header != "" && m.Kind == KindPostaCertificata {
		if m.ReceiptType == "" {
			m.ReceiptType = header
		} else if header != m.ReceiptType {
			m.warn("X-TipoRicevuta says %s but daticert.xml says %s", header, m.ReceiptType)
		}
	}
	if m.ReceiptType == "" && m.Kind == KindPostaCertificata {
		m.ReceiptType = "completa" // the rules' default when the sender asked nothing
	}
}

// TooLarge describes a message that exceeds the size limit without reading
// it into memory: the caller hashed it by streaming.
func TooLarge(sha256Hex string, size int64, lim Limits) *Message {
	m := &Message{SHA256: sha256Hex, Size: size, Kind: KindNotPEC, lim: lim}
	m.warn("message of %d bytes exceeds the %d-byte limit: not parsed", size, lim.MaxSize)
	m.sig = &signature{problem: fmt.Sprintf("not verified: message exceeds the %d-byte size limit", lim.MaxSize)}
	return m
}

// Postacert returns the embedded original message with its transfer
// encoding undone (nil when there is none). Decoding is left until asked
// for: ingest never needs it.
func (m *Message) Postacert() ([]byte, error) {
	if m.postacert == nil {
		return nil, nil
	}
	return m.postacert.decodedBody(m.lim.MaxSize)
}

// HeaderTooLong tells, from the first bytes of a message, that its header
// block exceeds lim.MaxHeaderBytes, so that a caller can archive it without
// reading it all into memory. head must hold at least MaxHeaderBytes+2 bytes
// when the message is longer than that; a shorter head is the whole message.
func HeaderTooLong(head []byte, lim Limits) bool {
	if lim.MaxHeaderBytes <= 0 {
		return false
	}
	hdr, bodyAt := splitHeader(head)
	if bodyAt < 0 {
		// No blank line within head: the header goes on at least this far.
		return len(head) > lim.MaxHeaderBytes
	}
	return len(hdr) > lim.MaxHeaderBytes
}

// HeaderTooLarge describes a message whose header block exceeds the limit,
// hashed by streaming without reading it into memory: archived, flagged,
// not parsed.
func HeaderTooLarge(sha256Hex string, size int64, lim Limits) *Message {
	m := &Message{SHA256: sha256Hex, Size: size, Kind: KindNotPEC, lim: lim}
	m.warn("header block exceeds the %d-byte limit: not read", lim.MaxHeaderBytes)
	m.sig = &signature{problem: fmt.Sprintf("not verified: the header block exceeds the %d-byte limit", lim.MaxHeaderBytes)}
	return m
}
