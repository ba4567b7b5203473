package web

import (
	"bytes"
	"io"
	"strings"
	"testing"
)

const htmlMail = "From: a@b\r\nSubject: =?utf-8?q?<script>alert(1)</script>?=\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n" +
	"--x\r\nContent-Type: text/html\r\n\r\n<img src=x onerror=alert(1)>\r\n" +
	"--x\r\nContent-Type: message/rfc822\r\nContent-Disposition: attachment; filename=postacert.eml\r\n\r\n" +
	"Subject: inner\r\nContent-Type: multipart/mixed; boundary=y\r\n\r\n--y\r\nContent-Type: text/plain; charset=iso-8859-1\r\n\r\ncaff\xe8\r\n" +
	"--y\r\nContent-Type: application/pdf; name=\"a\\\"><b>.pdf\"\r\n\r\n%PDF\r\n--y--\r\n--x--\r\n"

func TestDecode(t *testing.T) {
	v := decode(strings.NewReader(htmlMail))
	var subj string
	for _, h := range v.Headers {
		if h.Key == "Subject" {
			subj = h.Value
		}
	}
	if subj != "<script>alert(1)</script>" {
		t.Fatalf("subject %q", subj)
	}
	if len(v.Texts) < 3 || !v.Texts[0].IsHTML || !strings.Contains(v.Texts[0].Text, "<img") {
		t.Fatalf("texts %+v", v.Texts)
	}
	var inner, pdf bool
	for _, p := range v.Texts {
		inner = inner || (p.Nested && strings.Contains(p.Text, "caffè"))
	}
	for _, f := range v.Files {
		pdf = pdf || (f.Nested && f.Type == "application/pdf")
	}
	if !inner || !pdf {
		t.Fatalf("nested parts not decoded: %+v %+v", v.Texts, v.Files)
	}
}

// decode never panics, whatever the bytes.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(htmlMail))
	f.Add([]byte("Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Type: message/rfc822\r\n\r\n"))
	f.Add([]byte("Content-Transfer-Encoding: base64\r\n\r\n!!!"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, data []byte) {
		decode(bytes.NewReader(data))
		findPart(bytes.NewReader(data), "1.2.1", func(string, io.Reader) error { return nil })
	})
}

// TestLargeOriginalListedAndDownloaded: an original (postacert.eml) whose
// attachment comes after 3 MB of text is still listed with its size (the
// view used to read only the first megabyte of an attached message), and
// the attachment downloads whole, in a stream.
func TestLargeOriginalListedAndDownloaded(t *testing.T) {
	big := strings.Repeat("riga di testo\r\n", 3<<20/15)
	pdf := "%PDF-1.4 " + strings.Repeat("x", 100000)
	mail := "From: a@b\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n" +
		"--x\r\nContent-Type: message/rfc822\r\nContent-Disposition: attachment; filename=postacert.eml\r\n\r\n" +
		"Subject: inner\r\nContent-Type: multipart/mixed; boundary=y\r\n\r\n--y\r\nContent-Type: text/plain\r\n\r\n" + big +
		"\r\n--y\r\nContent-Type: application/pdf; name=\"fattura.pdf\"\r\n\r\n" + pdf + "\r\n--y--\r\n--x--\r\n"
	v := decode(strings.NewReader(mail))
	var path string
	for _, f := range v.Files {
		if f.Name == "fattura.pdf" {
			path = f.Path
			if f.Size != int64(len(pdf)) {
				t.Errorf("attachment size %d, want %d", f.Size, len(pdf))
			}
		}
		if f.Name == "postacert.eml" && f.Size < int64(len(big)) {
			t.Errorf("postacert.eml size %d, under its text alone", f.Size)
		}
	}
	if path == "" {
		t.Fatalf("the attachment after 3 MB of text is not listed: %+v", v.Files)
	}
	var got bytes.Buffer
	var name string
	ok, err := findPart(strings.NewReader(mail), path, func(n string, body io.Reader) error {
		name = n
		_, err := io.Copy(&got, body)
		return err
	})
	if !ok || err != nil || name != "fattura.pdf" || got.String() != pdf {
		t.Fatalf("download of %s: ok %v err %v name %q, %d bytes", path, ok, err, name, got.Len())
	}
	if ok, _ := findPart(strings.NewReader(mail), "1.9", func(string, io.Reader) error { return nil }); ok {
		t.Error("a part that does not exist was found")
	}
}
