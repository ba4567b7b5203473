package pec

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/emersion/go-message"
	"github.com/emersion/go-message/mail"
)

// Attachment is a file attached to the original message (postacert.eml),
// as a report lists it: name, decoded size and SHA-256 of the decoded bytes.
type Attachment struct {
	Name   string `json:"name"`
	Type   string `json:"type"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// maxAttachments bounds what one report lists.
const maxAttachments = 1000

// Attachments lists the attachments of the original message carried in the
// envelope (none when there is no postacert.eml), as go-message's mail
// reader sees them: its header rules decide what is a file and its name;
// the parts are split here on the raw bytes, and base64 bodies decoded in
// blocks (go-message's decoder reads them byte by byte: it was a fifth of
// an ingest). Each part is decoded to at most lim.MaxSize bytes.
func (m *Message) Attachments() ([]Attachment, error) {
	if m.postacert == nil {
		return nil, nil
	}
	orig := m.postacert.body
	if enc := strings.ToLower(m.postacert.header.Get("Content-Transfer-Encoding")); enc != "" && enc != "7bit" && enc != "8bit" && enc != "binary" {
		b, err := m.postacert.decodedBody(m.lim.MaxSize)
		if err != nil {
			return nil, fmt.Errorf("postacert.eml: %w", err)
		}
		orig = memSpan(b)
	}
	top, err := parseEntity(orig, m.lim)
	if err != nil {
		return nil, fmt.Errorf("postacert.eml: %w", err)
	}
	var out []Attachment
	var walk func(e *entity, depth int) error
	walk = func(e *entity, depth int) error {
		h := message.Header{Header: e.header}
		t, params, _ := h.ContentType()
		if strings.HasPrefix(t, "multipart/") {
			if depth >= m.lim.MaxDepth {
				return fmt.Errorf("postacert.eml: MIME nesting deeper than %d levels", m.lim.MaxDepth)
			}
			parts, _ := multipartParts(e.body, params["boundary"])
			for i, raw := range parts {
				if i >= m.lim.MaxParts || len(out) >= maxAttachments {
					break
				}
				child, err := parseEntity(raw, m.lim)
				if err != nil {
					return fmt.Errorf("postacert.eml: %w", err)
				}
				if err := walk(child, depth+1); err != nil {
					return err
				}
			}
			return nil
		}
		if len(out) >= maxAttachments {
			return nil
		}
		name, ct := fileOf(h, t, params)
		if name == "" {
			return nil
		}
		n, sum, err := m.decodedSum(e, h, t)
		if err != nil {
			return fmt.Errorf("postacert.eml attachment %q: %w", name, err)
		}
		out = append(out, Attachment{Name: name, Type: ct, Size: n, SHA256: sum})
		return nil
	}
	return out, walk(top, 0)
}

// fileOf is the file name and type of a part that is a file, as
// go-message's mail reader tells attachments and inline parts apart; no
// name: not a file. t and params are the part's h.ContentType(), which is
// also what the mail reader's inline and attachment headers give (the
// same method): read once, not once more here.
func fileOf(h message.Header, t string, params map[string]string) (name, ct string) {
	disp, dp, derr := h.ContentDisposition()
	if disp == "inline" || (disp != "attachment" && strings.HasPrefix(t, "text/")) {
		if derr == nil && dp["filename"] != "" {
			return dp["filename"], t
		}
		return params["name"], t
	}
	ah := mail.AttachmentHeader{Header: h}
	name, _ = ah.Filename()
	if name == "" {
		name = "(senza nome / unnamed)"
	}
	return name, t
}

// decodedSum is the size and SHA-256 of a part's body as go-message
// decodes it (transfer encoding, and the charset of a text part), at most
// lim.MaxSize bytes.
func (m *Message) decodedSum(e *entity, h message.Header, t string) (int64, string, error) {
	sum := sha256.New()
	if strings.EqualFold(strings.TrimSpace(h.Get("Content-Transfer-Encoding")), "base64") && !strings.HasPrefix(t, "text/") {
		n, err := decodeBase64(sum, e.body.reader(), m.lim.MaxSize)
		return n, hex.EncodeToString(sum.Sum(nil)), err
	}
	body, err := message.New(h, e.body.reader())
	if err != nil && !message.IsUnknownCharset(err) && !message.IsUnknownEncoding(err) {
		return 0, "", err
	}
	n, err := io.Copy(sum, io.LimitReader(body.Body, m.lim.MaxSize))
	return n, hex.EncodeToString(sum.Sum(nil)), err
}

// b64Bufs are decodeBase64's buffers.
var b64Bufs = sync.Pool{New: func() any { return new(b64Buf) }}

type b64Buf struct {
	in  [64 << 10]byte // only its size is used: enc holds the carry, then what is read
	enc [64<<10 + 4]byte
	dec [(64<<10 + 4) / 4 * 3]byte
}

// decodeBase64 writes to w at most max bytes decoded from base64 text in
// which spaces, tabs and line breaks are ignored (what go-message accepts);
// any other character outside the alphabet, or a last group cut short, is
// an error. Line breaks are left to the decoder, which skips them itself.
func decodeBase64(w io.Writer, r io.Reader, max int64) (int64, error) {
	b := b64Bufs.Get().(*b64Buf)
	defer b64Bufs.Put(b)
	var n int64
	carry := 0 // the start of an incomplete group, at the start of enc
	for n < max {
		k, rerr := io.ReadFull(r, b.enc[carry:carry+len(b.in)])
		end := rerr == io.EOF || rerr == io.ErrUnexpectedEOF
		if rerr != nil && !end {
			return n, rerr
		}
		e := carry + k
		if bytes.IndexByte(b.enc[carry:e], ' ') >= 0 || bytes.IndexByte(b.enc[carry:e], '\t') >= 0 {
			e = carry + significant(b.enc[carry:], b.enc[carry:e])
		}
		// Cut after the last whole group of four characters.
		q := e
		if !end {
			rest := (e - bytes.Count(b.enc[:e], []byte{'\r'}) - bytes.Count(b.enc[:e], []byte{'\n'})) % 4
			for q > 0 && rest > 0 {
				q--
				if c := b.enc[q]; c != '\r' && c != '\n' {
					rest--
				}
			}
		}
		d, err := base64.StdEncoding.Decode(b.dec[:], b.enc[:q])
		if end && err == nil && (q-bytes.Count(b.enc[:q], []byte{'\r'})-bytes.Count(b.enc[:q], []byte{'\n'}))%4 != 0 {
			err = io.ErrUnexpectedEOF
		}
		d = int(min(int64(d), max-n))
		if _, werr := w.Write(b.dec[:d]); werr != nil {
			return n, werr
		}
		n += int64(d)
		if err != nil {
			return n, err
		}
		// At most three characters carried: the line breaks among them go.
		carry = 0
		for _, c := range b.enc[q:e] {
			if c != '\r' && c != '\n' {
				b.enc[carry] = c
				carry++
			}
		}
		if end {
			break
		}
	}
	return n, nil
}

// significant copies src to dst without spaces and tabs and returns how
// many bytes it copied; dst may be src.
func significant(dst, src []byte) int {
	j := 0
	for _, c := range src {
		if c != ' ' && c != '\t' {
			dst[j] = c
			j++
		}
	}
	return j
}
