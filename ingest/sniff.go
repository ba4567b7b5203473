package ingest

import (
	"bytes"
	"fmt"
	"strings"
)

// sniffLen is how much of a file is read to decide whether it is a message.
const sniffLen = 16 << 10

// mailHeaders are header names that only mail carries (RFC 5322, MIME, the
// PEC rules). One of them in the header block tells a message from a text
// file that happens to start with "Word: …".
var mailHeaders = map[string]bool{
	"from": true, "to": true, "cc": true, "bcc": true, "date": true, "subject": true, "message-id": true,
	"received": true, "return-path": true, "reply-to": true, "sender": true, "delivered-to": true,
	"mime-version": true, "content-type": true, "content-transfer-encoding": true, "in-reply-to": true,
	"references": true, "dkim-signature": true, "authentication-results": true,
	"x-trasporto": true, "x-ricevuta": true, "x-riferimento-message-id": true, "x-tiporicevuta": true,
	"x-verificasicurezza": true,
}

// LooksLikeMessage tells whether head, the first bytes of a file, starts
// with an RFC 5322 header block: a header field on the first line and, before
// the blank line that ends the block (or the end of head), a field only mail
// carries. When it does not, why says what was found instead.
func LooksLikeMessage(head []byte) (ok bool, why string) {
	if len(head) == 0 {
		return false, "empty file"
	}
	if bytes.IndexByte(head[:min(len(head), 1024)], 0) >= 0 {
		return false, "binary data"
	}
	known := false
	for i, line := range bytes.SplitAfter(head, []byte("\n")) {
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			break // the blank line ending the header block, or the end of head
		}
		if line[0] == ' ' || line[0] == '\t' {
			if i == 0 {
				return false, "starts with a blank"
			}
			continue
		}
		colon := bytes.IndexByte(line, ':')
		name := line
		if colon > 0 {
			name = line[:colon]
		}
		if colon <= 0 || !validFieldName(name) {
			if i == 0 {
				return false, fmt.Sprintf("first line %q is not a header field", clipBytes(line, 40))
			}
			continue // one bad line inside a header is a damaged message, still a message
		}
		if mailHeaders[strings.ToLower(string(name))] {
			known = true
		}
	}
	if !known {
		return false, "no mail header (From, To, Date, Subject, Message-ID, Received, …) at its start"
	}
	return true, ""
}

func validFieldName(name []byte) bool {
	for _, c := range name {
		if c <= ' ' || c > '~' {
			return false
		}
	}
	return len(name) > 0
}

func clipBytes(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}
