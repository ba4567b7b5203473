package main

import (
	"fmt"
	"io"
	"unicode/utf8"
)

// termWriter shows every control character written through it as a
// visible \uXXXX escape (a byte that is not UTF-8 as \xNN), line feeds
// and tabs excepted: subjects, addresses
// and signer names come from messages anyone can send, and a carriage
// return or an escape sequence among them would let the sender rewrite
// what the operator's terminal shows (a verdict, a line above). JSON
// output never holds such a character outside a string, where the escape
// is the same value; Go's encoder escapes C0 controls itself.
type termWriter struct {
	w    io.Writer
	tail []byte // an incomplete UTF-8 sequence, until its next bytes come
}

func hostileRune(r rune) bool {
	switch {
	case r == '\n' || r == '\t':
		return false
	case r < 0x20 || r >= 0x7f && r <= 0x9f:
		return true // C0, DEL, C1 (U+009B is a CSI of its own)
	case r >= 0x202a && r <= 0x202e || r >= 0x2066 && r <= 0x2069 || r == 0x200e || r == 0x200f:
		return true // bidirectional overrides: text shown in another order
	}
	return false
}

func (t *termWriter) Write(p []byte) (int, error) {
	n := len(p)
	if len(t.tail) > 0 {
		p = append(t.tail, p...)
		t.tail = nil
	}
	out := make([]byte, 0, len(p))
	for i := 0; i < len(p); {
		if !utf8.FullRune(p[i:]) {
			t.tail = append([]byte(nil), p[i:]...)
			break
		}
		r, size := utf8.DecodeRune(p[i:])
		if size == 1 && r == utf8.RuneError {
			out = fmt.Appendf(out, `\x%02x`, p[i]) // not UTF-8: 0x9b alone is a CSI to some terminals
		} else if hostileRune(r) {
			out = fmt.Appendf(out, `\u%04x`, r)
		} else {
			out = append(out, p[i:i+size]...)
		}
		i += size
	}
	if _, err := t.w.Write(out); err != nil {
		return 0, err
	}
	return n, nil
}

// Flush writes an incomplete sequence left at the end, escaped.
func (t *termWriter) Flush() error {
	var out []byte
	for _, b := range t.tail {
		out = fmt.Appendf(out, `\x%02x`, b)
	}
	t.tail = nil
	_, err := t.w.Write(out)
	return err
}
