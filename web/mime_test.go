package web

import (
	"strings"
	"testing"
)

const htmlMail = "From: a@b\r\nSubject: =?utf-8?q?<script>alert(1)</script>?=\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n" +
	"--x\r\nContent-Type: text/html\r\n\r\n<img src=x onerror=alert(1)>\r\n" +
	"--x\r\nContent-Type: message/rfc822\r\nContent-Disposition: attachment; filename=postacert.eml\r\n\r\n" +
	"Subject: inner\r\nContent-Type: multipart/mixed; boundary=y\r\n\r\n--y\r\nContent-Type: text/plain; charset=iso-8859-1\r\n\r\ncaff\xe8\r\n" +
	"--y\r\nContent-Type: application/pdf; name=\"a\\\"><b>.pdf\"\r\n\r\n%PDF\r\n--y--\r\n--x--\r\n"

func TestDecode(t *testing.T) {
	v := decode([]byte(htmlMail))
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
		decode(data)
	})
}
