package redact

import (
	"strings"
	"testing"
)

func TestURL(t *testing.T) {
	for _, c := range []struct{ in, want, noUser string }{
		{"https://u:PW@127.0.0.1:8080/tsa", "https://u@127.0.0.1:8080/tsa", "https://127.0.0.1:8080/tsa"},
		{"imaps://protocollo%40ente.it:s3cr%2Ft@imap.example/INBOX", "imaps://protocollo%40ente.it@imap.example/INBOX", "imaps://imap.example/INBOX"},
		{"imaps://protocollo%40ente.it@imap.example/INBOX", "imaps://protocollo%40ente.it@imap.example/INBOX", "imaps://imap.example/INBOX"},
		{"https://tsa.example/tsa", "https://tsa.example/tsa", "https://tsa.example/tsa"},
		{"/srv/pec/export", "/srv/pec/export", "/srv/pec/export"},
		// Not a URL url.Parse accepts (a bad escape): still no password.
		{"https://u:P%zzW@host/x", "https://u@host/x", "https://u@host/x"},
	} {
		if got := URL(c.in); got != c.want {
			t.Errorf("URL(%q) = %q, want %q", c.in, got, c.want)
		}
		if got := URLNoUserinfo(c.in); got != c.noUser {
			t.Errorf("URLNoUserinfo(%q) = %q, want %q", c.in, got, c.noUser)
		}
	}
}

func TestText(t *testing.T) {
	in := `Post "https://u:PW@127.0.0.1:1/tsa": dial tcp: refused; also imap://a:PW2@h/INBOX and mailto:x@y`
	got := Text(in)
	if strings.Contains(got, "PW") {
		t.Fatalf("password left in %q", got)
	}
	if !strings.Contains(got, "https://u@127.0.0.1:1/tsa") || !strings.Contains(got, "imap://a@h/INBOX") || !strings.Contains(got, "mailto:x@y") {
		t.Fatalf("too much removed: %q", got)
	}
}

// Secrets in query strings: values dropped wherever a URL is printed,
// the whole query dropped where a URL names a service.
func TestQuerySecrets(t *testing.T) {
	const secret = "S3cretQ"
	raw := "https://u:" + secret + "@tsa.example/x?password=" + secret + "&policy=1"
	for name, got := range map[string]string{
		"URL":           URL(raw),
		"URLNoUserinfo": URLNoUserinfo(raw),
		"Text":          Text("TSA " + raw + ": refused"),
		"Text upper":    Text("ingest IMAPS://u:" + secret + "@h/INBOX and x/imaps://u:" + secret + "@h/INBOX?token=" + secret),
	} {
		if strings.Contains(got, secret) {
			t.Errorf("%s: %q keeps the secret", name, got)
		}
	}
	if got := URLNoUserinfo(raw); got != "https://tsa.example/x" {
		t.Errorf("URLNoUserinfo: %q", got)
	}
}
