package pec_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/conserva/conserva/pec"
)

// TestHeaderLimits: a header over the limits is a finding on the message,
// never a cost without bound; what fits is still read.
func TestHeaderLimits(t *testing.T) {
	lim := pec.DefaultLimits()
	t.Run("header block too large", func(t *testing.T) {
		raw := []byte("Message-ID: <" + strings.Repeat("a", lim.MaxHeaderBytes+10) + "@x>\r\nFrom: a@b\r\n\r\nbody\r\n")
		m := pec.Parse(raw, lim)
		v := m.Verify(nil)
		if v.Verdict != pec.Invalid || !strings.Contains(v.Reason, "header block exceeds") || m.MessageID != "" {
			t.Errorf("verdict %s %q, message id %d bytes", v.Verdict, v.Reason, len(m.MessageID))
		}
		if !strings.Contains(strings.Join(m.Warnings, "\n"), "header block exceeds the 1048576-byte limit") {
			t.Errorf("warnings %q", m.Warnings)
		}
		if !pec.HeaderTooLong(raw[:lim.MaxHeaderBytes+2], lim) || pec.HeaderTooLong([]byte("From: a\r\n\r\n"+strings.Repeat("b", lim.MaxHeaderBytes)), lim) {
			t.Error("HeaderTooLong disagrees with Parse")
		}
		// The same bytes, folded into many short lines, are still too many.
		folded := []byte("Subject: x\r\n" + strings.Repeat(" aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n", lim.MaxHeaderBytes/60+10) + "\r\nbody")
		if v := pec.Parse(folded, lim).Verify(nil); !strings.Contains(v.Reason, "header block exceeds") {
			t.Errorf("folded: %s %q", v.Verdict, v.Reason)
		}
	})
	t.Run("one line too long", func(t *testing.T) {
		raw := []byte("Subject: kept\r\nX-Long: " + strings.Repeat("z", lim.MaxHeaderLine+1) + "\r\n\tcontinued\r\nFrom: a@b\r\n\r\nbody\r\n")
		m := pec.Parse(raw, lim)
		if m.Subject != "kept" || m.From != "a@b" {
			t.Errorf("fields around the long one lost: subject %q from %q", m.Subject, m.From)
		}
		if w := strings.Join(m.Warnings, "\n"); !strings.Contains(w, "header field X-Long has a line over") {
			t.Errorf("warnings %q", m.Warnings)
		}
		if !bytes.Equal(m.Raw, raw) {
			t.Error("raw bytes changed")
		}
	})
	t.Run("unreadable header quoted briefly", func(t *testing.T) {
		raw := []byte(" leading blank " + strings.Repeat("q", 100000) + "\r\n\r\nbody")
		m := pec.Parse(raw, lim)
		for _, w := range m.Warnings {
			if len(w) > 1000 {
				t.Errorf("a warning of %d bytes quotes the input", len(w))
			}
		}
	})
}
