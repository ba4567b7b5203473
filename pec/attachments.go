package pec

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"

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
// envelope (none when there is no postacert.eml). Parts are decoded as
// go-message reads them, at most lim.MaxSize bytes each.
func (m *Message) Attachments() ([]Attachment, error) {
	if m.postacert == nil {
		return nil, nil
	}
	// Read in a stream: the original can be as large as the message.
	orig, err := m.postacert.decodedReader()
	if err != nil {
		return nil, fmt.Errorf("postacert.eml: %w", err)
	}
	r, err := mail.CreateReader(orig)
	if err != nil && !message.IsUnknownCharset(err) && !message.IsUnknownEncoding(err) {
		return nil, fmt.Errorf("postacert.eml: %w", err)
	}
	if r == nil {
		return nil, errors.New("postacert.eml: unreadable")
	}
	defer r.Close()
	var out []Attachment
	for len(out) < maxAttachments {
		p, err := r.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil && !message.IsUnknownCharset(err) && !message.IsUnknownEncoding(err) {
			return out, fmt.Errorf("postacert.eml: %w", err)
		}
		if p == nil {
			break
		}
		var name, ct string
		switch h := p.Header.(type) {
		case *mail.AttachmentHeader:
			name, _ = h.Filename()
			ct, _, _ = h.ContentType()
			if name == "" {
				name = "(senza nome / unnamed)"
			}
		case *mail.InlineHeader:
			// An inline part with a file name is a file too.
			var params map[string]string
			ct, params, _ = h.ContentType()
			if _, dp, err := h.ContentDisposition(); err == nil && dp["filename"] != "" {
				name = dp["filename"]
			} else {
				name = params["name"]
			}
			if name == "" {
				continue
			}
		default:
			continue
		}
		sum := sha256.New()
		n, err := io.Copy(sum, io.LimitReader(p.Body, m.lim.MaxSize))
		if err != nil {
			return out, fmt.Errorf("postacert.eml attachment %q: %w", name, err)
		}
		out = append(out, Attachment{Name: name, Type: ct, Size: n, SHA256: hex.EncodeToString(sum.Sum(nil))})
	}
	return out, nil
}
