package web

import (
	"errors"
	"io"
	"strings"

	"github.com/conserva/conserva/internal/countio"
	"github.com/emersion/go-message"
	_ "github.com/emersion/go-message/charset" // decode the charsets PEC mail uses
)

// Limits of the message view: what a page shows, not what is kept.
const (
	maxShownText  = 1 << 20 // bytes of one text part
	maxShownParts = 500
	maxDepth      = 16
)

// Part is one text part or attachment, as the message view shows it.
type Part struct {
	Path      string // position: 1, 1.2, …
	Type      string
	Name      string
	Size      int64
	Text      string // decoded text (text/plain and text/html: shown as text)
	IsHTML    bool
	Truncated bool
	Nested    bool // inside an attached message (postacert.eml)
}

// Header is one header field, decoded.
type Header struct{ Key, Value string }

// View is a message decoded for reading.
type View struct {
	Headers []Header
	Texts   []Part
	Files   []Part
	Problem string
}

// decode walks the MIME tree of the message read from r, in a stream: a
// message of any size costs the text shown, not its size. Unknown charsets
// and encodings are shown as they are; nothing is fatal: the stored bytes
// remain the evidence.
func decode(r io.Reader) View {
	var v View
	e, err := message.Read(r)
	if err != nil && !message.IsUnknownCharset(err) && !message.IsUnknownEncoding(err) {
		v.Problem = err.Error()
		if e == nil {
			return v
		}
	}
	f := e.Header.Fields()
	for f.Next() && len(v.Headers) < 200 {
		val, err := f.Text()
		if err != nil {
			val = f.Value()
		}
		v.Headers = append(v.Headers, Header{f.Key(), val})
	}
	v.walk(e, "1", 0, false)
	return v
}

func (v *View) walk(e *message.Entity, path string, depth int, nested bool) {
	if depth > maxDepth || len(v.Texts)+len(v.Files) >= maxShownParts {
		return
	}
	ct, params, _ := e.Header.ContentType()
	if mr := e.MultipartReader(); mr != nil {
		for i := 1; ; i++ {
			p, err := mr.NextPart()
			if errors.Is(err, io.EOF) || (err != nil && p == nil) {
				if err != nil && !errors.Is(err, io.EOF) {
					v.Problem = err.Error()
				}
				return
			}
			v.walk(p, path+"."+itoa(i), depth+1, nested)
		}
	}
	_, dparams, _ := e.Header.ContentDisposition()
	name := dparams["filename"]
	if name == "" {
		name = params["name"]
	}
	if ct == "message/rfc822" && depth < maxDepth {
		// The attached message is walked as it is read: its parts are
		// listed whatever its size.
		name = firstNonEmpty(name, "message.eml")
		at := len(v.Files)
		v.Files = append(v.Files, Part{Path: path, Type: ct, Name: name, Nested: nested})
		body := &countio.Reader{R: e.Body}
		inner, err := message.Read(body)
		if inner != nil && (err == nil || message.IsUnknownCharset(err) || message.IsUnknownEncoding(err)) {
			if subj, err := inner.Header.Text("Subject"); err == nil && subj != "" {
				v.Texts = append(v.Texts, Part{Path: path, Type: "message/rfc822", Name: name, Text: "Subject: " + subj + "\nFrom: " + inner.Header.Get("From") + "\nTo: " + inner.Header.Get("To"), Nested: true})
			}
			v.walk(inner, path, depth+1, true)
		}
		io.Copy(io.Discard, body)
		v.Files[at].Size = body.N
		return
	}
	body, _ := io.ReadAll(io.LimitReader(e.Body, maxShownText+1))
	truncated := len(body) > maxShownText
	if truncated {
		body = body[:maxShownText]
	}
	// Count the rest, without keeping it.
	rest, _ := io.Copy(io.Discard, e.Body)
	p := Part{Path: path, Type: ct, Name: name, Size: int64(len(body)) + rest, Truncated: truncated, Nested: nested}
	switch {
	case (ct == "text/plain" || ct == "text/html" || ct == "") && name == "":
		p.Text = strings.ToValidUTF8(string(body), "\uFFFD")
		p.IsHTML = ct == "text/html"
		v.Texts = append(v.Texts, p)
	default:
		p.Name = firstNonEmpty(name, "(unnamed)")
		v.Files = append(v.Files, p)
	}
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

func itoa(i int) string {
	const d = "0123456789"
	if i < 10 {
		return d[i : i+1]
	}
	return itoa(i/10) + d[i%10:i%10+1]
}

// findPart finds the part at path (as View numbers them) in the message
// read from r and calls found with its file name and decoded body, read in
// a stream; ok is false when there is no such part.
func findPart(r io.Reader, want string, found func(name string, body io.Reader) error) (ok bool, err error) {
	e, rerr := message.Read(r)
	if e == nil || (rerr != nil && !message.IsUnknownCharset(rerr) && !message.IsUnknownEncoding(rerr)) {
		return false, nil
	}
	var find func(e *message.Entity, path string, depth int) bool
	find = func(e *message.Entity, path string, depth int) bool {
		if depth > maxDepth || !strings.HasPrefix(want+".", path+".") {
			return false
		}
		if mr := e.MultipartReader(); mr != nil {
			for i := 1; i <= maxShownParts; i++ {
				p, err := mr.NextPart()
				if p == nil || (err != nil && !message.IsUnknownCharset(err) && !message.IsUnknownEncoding(err)) {
					return false
				}
				if find(p, path+"."+itoa(i), depth+1) {
					return true
				}
			}
			return false
		}
		ct, params, _ := e.Header.ContentType()
		if path == want {
			_, dparams, _ := e.Header.ContentDisposition()
			err = found(firstNonEmpty(dparams["filename"], params["name"]), e.Body)
			return true
		}
		if ct == "message/rfc822" {
			if inner, err := message.Read(e.Body); inner != nil && (err == nil || message.IsUnknownCharset(err) || message.IsUnknownEncoding(err)) {
				return find(inner, path, depth+1)
			}
		}
		return false
	}
	return find(e, "1", 0), err
}
