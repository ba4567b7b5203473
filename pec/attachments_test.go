package pec_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/emersion/go-message"
	"github.com/emersion/go-message/mail"

	"github.com/conserva/conserva/internal/pecgen"
	"github.com/conserva/conserva/pec"
)

// goMessageAttachments lists attachments the way go-message's mail reader
// reads them (what Attachments did before it split and decoded the parts
// itself): the reference the list must agree with.
func goMessageAttachments(orig []byte, max int64) ([]pec.Attachment, error) {
	r, err := mail.CreateReader(bytes.NewReader(orig))
	if err != nil && !message.IsUnknownCharset(err) && !message.IsUnknownEncoding(err) {
		return nil, err
	}
	defer r.Close()
	var out []pec.Attachment
	for {
		p, err := r.NextPart()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil && !message.IsUnknownCharset(err) && !message.IsUnknownEncoding(err) {
			return out, err
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
		}
		sum := sha256.New()
		n, err := io.Copy(sum, io.LimitReader(p.Body, max))
		if err != nil {
			return out, err
		}
		out = append(out, pec.Attachment{Name: name, Type: ct, Size: n, SHA256: hex.EncodeToString(sum.Sum(nil))})
	}
}

func wrapB64(b []byte, width int, eol, indent string) string {
	s := base64.StdEncoding.EncodeToString(b)
	var out strings.Builder
	for len(s) > width {
		out.WriteString(indent + s[:width] + eol)
		s = s[width:]
	}
	out.WriteString(indent + s + eol)
	return out.String()
}

func mixed(parts ...string) string {
	var b strings.Builder
	b.WriteString("From: a@pec.example\r\nTo: b@pec.example\r\nSubject: allegati\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"XX\"\r\n\r\npreamble\r\n")
	for _, p := range parts {
		b.WriteString("--XX\r\n" + p + "\r\n")
	}
	b.WriteString("--XX--\r\n")
	return b.String()
}

// Attachments agrees with go-message's reading of the original message:
// names, types, decoded sizes and hashes, base64 wrapped in every way
// (CRLF, LF, indented, one long line, groups cut across read blocks),
// charsets, inline files, nested multiparts, parts with no type; and
// damaged base64 is an error in both.
func TestAttachmentsAgreeWithGoMessage(t *testing.T) {
	set := fixtureSet(t)
	rng := rand.New(rand.NewPCG(1, 2))
	data := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	big := data(200_003)
	att := "Content-Type: application/pdf; name=\"doc.pdf\"\r\nContent-Disposition: attachment; filename=\"doc.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n"
	cases := map[string]struct {
		orig    string
		wantErr bool
	}{
		"crlf":                       {orig: mixed("Content-Type: text/plain\r\n\r\ntesto", att+wrapB64(big, 76, "\r\n", ""))},
		"lf":                         {orig: strings.ReplaceAll(mixed("Content-Type: text/plain\r\n\r\ntesto", att+wrapB64(big, 76, "\n", "")), "\r\n", "\n")},
		"indented":                   {orig: mixed(att + wrapB64(data(5000), 64, "\r\n", " \t"))},
		"one line":                   {orig: mixed(att + wrapB64(big, 1<<30, "\r\n", ""))},
		"odd lines":                  {orig: mixed(att + wrapB64(data(70_001), 77, "\r\n", ""))},
		"empty":                      {orig: mixed(att)},
		"text attachment in latin-1": {orig: mixed("Content-Type: text/plain; charset=iso-8859-1; name=\"nota.txt\"\r\nContent-Disposition: attachment; filename=\"nota.txt\"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nperch=E9 cos=EC\r\n")},
		"text base64 in latin-1":     {orig: mixed("Content-Type: text/plain; charset=iso-8859-1; name=\"n.txt\"\r\nContent-Transfer-Encoding: base64\r\n\r\n" + wrapB64([]byte("perch\xe9 cos\xec"), 76, "\r\n", ""))},
		"inline image":               {orig: mixed("Content-Type: image/png\r\nContent-Disposition: inline; filename=\"logo.png\"\r\nContent-Transfer-Encoding: base64\r\n\r\n" + wrapB64(data(3000), 76, "\r\n", ""))},
		"inline named by type":       {orig: mixed("Content-Type: text/csv; name=\"t.csv\"\r\n\r\na,b\r\n")},
		"no type":                    {orig: mixed("X-Nothing: here\r\n\r\nbytes", att+wrapB64(data(10), 76, "\r\n", ""))},
		"encoded names":              {orig: mixed("Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename*=UTF-8''rela%C3%A7%C3%A3o.bin\r\nContent-Transfer-Encoding: base64\r\n\r\n"+wrapB64(data(100), 76, "\r\n", ""), "Content-Type: application/pdf; name=\"=?utf-8?q?perch=C3=A9.pdf?=\"\r\nContent-Transfer-Encoding: base64\r\n\r\n"+wrapB64(data(90), 76, "\r\n", ""))},
		"nested": {orig: mixed("Content-Type: multipart/alternative; boundary=\"YY\"\r\n\r\n--YY\r\nContent-Type: text/plain\r\n\r\nuno\r\n--YY\r\nContent-Type: text/html\r\n\r\n<p>uno</p>\r\n--YY--",
			"Content-Type: message/rfc822; name=\"inoltro.eml\"\r\nContent-Disposition: attachment\r\n\r\nFrom: x@y\r\nSubject: inner\r\n\r\nbody", att+wrapB64(data(10), 76, "\r\n", ""))},
		"single part":     {orig: "From: a@pec.example\r\nSubject: s\r\nMIME-Version: 1.0\r\nContent-Type: application/zip; name=\"a.zip\"\r\nContent-Disposition: attachment\r\nContent-Transfer-Encoding: BASE64\r\n\r\n" + wrapB64(data(1000), 76, "\r\n", "")},
		"plain text":      {orig: "From: a@pec.example\r\nSubject: s\r\n\r\nsolo testo\r\n"},
		"one char a line": {orig: mixed(att + strings.Join(strings.Split(base64.StdEncoding.EncodeToString(data(60_000)), ""), "\r\n"))},
		"bad char":        {orig: mixed(att + wrapB64(data(300), 76, "\r\n", "")[:100] + "*" + wrapB64(data(300), 76, "\r\n", "")[100:]), wantErr: true},
		"cut group":       {orig: mixed(att + "QUJDRA\r\n"), wantErr: true},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			raw, err := set.Provider.Build(pecgen.Spec{Kind: pec.KindPostaCertificata, Inner: []byte(c.orig)})
			if err != nil {
				t.Fatal(err)
			}
			m := pec.Parse(raw, pec.DefaultLimits())
			orig, err := m.Postacert()
			if err != nil || !bytes.Equal(orig, []byte(c.orig)) {
				t.Fatalf("the original is not carried as built (%v)", err)
			}
			want, wantErr := goMessageAttachments(orig, pec.DefaultLimits().MaxSize)
			got, gotErr := m.Attachments()
			if (gotErr != nil) != c.wantErr || (wantErr != nil) != c.wantErr {
				t.Fatalf("errors: %v; go-message: %v; want an error: %v", gotErr, wantErr, c.wantErr)
			}
			if len(got) != len(want) {
				t.Fatalf("%d attachments, go-message %d:\n%+v\n%+v", len(got), len(want), got, want)
			}
			for i := range got {
				if got[i] != want[i] {
					t.Errorf("attachment %d: %+v, go-message %+v", i, got[i], want[i])
				}
			}
			if !c.wantErr && len(want) == 0 && name != "plain text" {
				t.Fatal("the case lists no attachment: it tests nothing")
			}
		})
	}
}
