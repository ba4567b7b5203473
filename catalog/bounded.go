package catalog

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"unicode/utf8"
)

// Limits on what the catalog copies from a message. The stored object
// keeps every byte; the catalog only needs enough to find and show it, and
// bbolt refuses keys over 32 KB (a 40 KB Message-ID used to stop every
// later batch of an ingest).
const (
	// MaxFieldBytes is the most the catalog keeps of one header-derived field.
	MaxFieldBytes = 8 << 10
	// MaxListFields is the most entries kept of a list (recipients, warnings).
	MaxListFields = 1000
	// maxIndexValue bounds the value part of an index key; longer values are
	// shortened and made unique by their hash.
	maxIndexValue = 256
)

// CapField returns s cut to MaxFieldBytes (on a rune boundary), with a
// note of how long it was. It is idempotent: a capped value is returned
// unchanged, so indexes built from capped records and lookups agree.
func CapField(s string) (string, bool) {
	if len(s) <= MaxFieldBytes {
		return s, false
	}
	note := fmt.Sprintf(" […truncated: %d bytes in the stored message]", len(s))
	return cutRunes(s, MaxFieldBytes-len(note)) + note, true
}

// cutRunes returns the longest prefix of s of at most n bytes that does not
// split a UTF-8 sequence.
func cutRunes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// ixValue is the value part of an index key: the (capped) value itself
// when short, else a prefix and the SHA-256 of the whole, so that keys stay
// far below bbolt's limit and distinct values stay distinct.
func ixValue(v string) string {
	v, _ = CapField(v)
	if len(v) <= maxIndexValue {
		return v
	}
	sum := sha256.Sum256([]byte(v))
	return cutRunes(v, maxIndexValue-72) + "…sha256:" + hex.EncodeToString(sum[:])
}

// CapRecord bounds every field a record copies from the message's headers
// and says which were cut in its warnings.
func CapRecord(r *Record) {
	var cut []string
	one := func(name string, p *string) {
		if v, ok := CapField(*p); ok {
			cut = append(cut, fmt.Sprintf("%s is %d bytes: the catalog keeps the first %d KB (the stored message is complete)", name, len(*p), MaxFieldBytes>>10))
			*p = v
		}
	}
	list := func(name string, p *[]string) {
		if len(*p) > MaxListFields {
			cut = append(cut, fmt.Sprintf("%s has %d entries: the catalog keeps the first %d (the stored message is complete)", name, len(*p), MaxListFields))
			*p = (*p)[:MaxListFields]
		}
		for i := range *p {
			one(name, &(*p)[i])
		}
	}
	one("Message-ID", &r.MessageID)
	one("X-Riferimento-Message-ID", &r.RefMessageID)
	one("identificativo", &r.Identificativo)
	one("msgid", &r.Msgid)
	one("sender", &r.From)
	list("recipients", &r.To)
	one("Subject", &r.Subject)
	one("consegna", &r.Consegna)
	list("ricezione", &r.Ricezione)
	one("errore", &r.Errore)
	one("errore-esteso", &r.ErroreEsteso)
	one("reason", &r.Reason)
	one("signer", &r.Signer)
	one("time source", &r.TimeSource)
	one("receipt type", &r.ReceiptType)
	one("flag reason", &r.FlagReason)
	list("warnings", &r.Warnings)
	r.Warnings = append(r.Warnings, cut...)
}
