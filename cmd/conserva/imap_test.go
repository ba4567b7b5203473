package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/conserva/conserva/internal/pecgen"
	"github.com/conserva/conserva/internal/testutil"
	"github.com/conserva/conserva/pec"
)

func ingestSummary(t *testing.T, r result) map[string]float64 {
	t.Helper()
	var s map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &s); err != nil {
		t.Fatalf("ingest --json: %v\n%s\n%s", err, r.stdout, r.stderr)
	}
	out := map[string]float64{}
	for _, k := range []string{"seen", "archived", "duplicates", "flagged", "errors"} {
		out[k], _ = s[k].(float64)
	}
	return out
}

// TestIMAPNightly runs ingest against a real Dovecot: byte-exact, read-only,
// incremental, UIDVALIDITY change, wrong password.
func TestIMAPNightly(t *testing.T) {
	d := testutil.StartDovecot(t)
	set := fixtures(t)
	files, err := set.Provider.Dossier("Notifica atto", []string{"a@pec.example"}, []string{"b@pec.example"}, []byte("pdf"), set.CA.Cert.NotBefore.AddDate(1, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	i := 0
	for _, raw := range files {
		i++
		d.Deliver(fmt.Sprintf("%d.%d.test", time.Now().Unix(), i), raw)
		s := sha256.Sum256(raw)
		want[hex.EncodeToString(s[:])] = true
	}
	home := filepath.Join(t.TempDir(), "archive")
	url := "imap://" + d.User + "@" + d.Addr + "/INBOX"
	t.Setenv("CONSERVA_IMAP_PASSWORD", d.Password)
	ing := func() result { return conserva(t, "--archive", home, "ingest", "--json", "--trust", set.TrustPEM, url) }
	s := ingestSummary(t, ing())
	if s["seen"] != 4 || s["archived"] != 4 || s["errors"] != 0 {
		t.Fatalf("first run: %v", s)
	}
	for _, row := range decodeLines(t, conserva(t, "--archive", home, "search", "--json").stdout) {
		if !want[row["id"].(string)] {
			t.Fatalf("stored bytes differ from the delivered ones: %s (%v)", row["id"], row["sources"])
		}
		if row["signature"] != "valid" {
			t.Fatalf("%s: %v", row["id"], row["reason"])
		}
	}
	for _, f := range d.MaildirFiles() {
		if i := strings.Index(f, ":2,"); i >= 0 && strings.Contains(f[i:], "S") {
			t.Fatalf("a message was marked \\Seen: %s", f)
		}
	}
	if s := ingestSummary(t, ing()); s["seen"] != 0 {
		t.Fatalf("second run fetched %v, want 0", s)
	}
	extra, _ := set.Provider.Build(pecgen.Spec{Kind: pec.KindPresaInCarico})
	d.Deliver("new.1.test", extra)
	if s := ingestSummary(t, ing()); s["seen"] != 1 || s["archived"] != 1 {
		t.Fatalf("after one new message: %v", s)
	}
	d.Stop()
	d.ResetUIDValidity()
	d.Start()
	if s := ingestSummary(t, ing()); s["seen"] != 5 || s["archived"] != 0 || s["duplicates"] != 5 {
		t.Fatalf("after a UIDVALIDITY change (full rescan, all duplicates): %v", s)
	}
	t.Setenv("CONSERVA_IMAP_PASSWORD", "wrong")
	r := ing()
	if r.code != 1 || !strings.Contains(r.stderr+r.stdout, "login") {
		t.Fatalf("wrong password: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
}

// cutProxy forwards to addr; the first connection is cut after limit bytes
// from the server, as a dropped link would cut it, later ones pass.
func cutProxy(t *testing.T, addr string, limit int64) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var conns atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			first := conns.Add(1) == 1
			go func() {
				s, err := net.Dial("tcp", addr)
				if err != nil {
					c.Close()
					return
				}
				go func() { io.Copy(s, c); s.Close() }()
				if first {
					io.CopyN(c, s, limit)
					c.Close()
					s.Close()
					return
				}
				io.Copy(c, s)
				c.Close()
			}()
		}
	}()
	return ln.Addr().String()
}

// TestIMAPConnectionKilled drops the connection in the middle of a fetch;
// the run reports it, and the next one resumes: nothing lost or doubled.
func TestIMAPConnectionKilled(t *testing.T) {
	d := testutil.StartDovecot(t)
	set := fixtures(t)
	const n = 150
	payload := make([]byte, 100000)
	for i := 0; i < n; i++ {
		payload[0], payload[1] = byte(i), byte(i>>8)
		raw, _ := set.Provider.Build(pecgen.Spec{Kind: pec.KindPostaCertificata, Subject: fmt.Sprint("n ", i), Attachment: payload})
		d.Deliver(fmt.Sprintf("%d.%04d.test", time.Now().Unix(), i), raw)
	}
	home := filepath.Join(t.TempDir(), "archive")
	url := "imap://" + d.User + "@" + cutProxy(t, d.Addr, 10<<20) + "/INBOX"
	t.Setenv("CONSERVA_IMAP_PASSWORD", d.Password)
	r := conserva(t, "--archive", home, "ingest", "--json", "--trust", set.TrustPEM, url)
	first := ingestSummary(t, r)
	if r.code != 1 || first["seen"] == 0 || first["seen"] >= n {
		t.Fatalf("the cut run: exit %d, %v (want some fetched, then an error)\n%s", r.code, first, r.stderr)
	}
	r = conserva(t, "--archive", home, "ingest", "--json", "--trust", set.TrustPEM, url)
	again := ingestSummary(t, r)
	rows := decodeLines(t, conserva(t, "--archive", home, "search", "--json").stdout)
	if r.code != 0 || len(rows) != n || again["errors"] != 0 || again["seen"] != n-first["seen"] {
		t.Fatalf("rerun after the cut: exit %d %v; %d of %d catalogued (first run saw %v)", r.code, again, len(rows), n, first["seen"])
	}
}

// TestRunNightlyJob: conserva run ingests every configured source (an IMAP
// mailbox and a folder), seals, and fails loudly when a source fails.
func TestRunNightlyJob(t *testing.T) {
	d := testutil.StartDovecot(t)
	set := fixtures(t)
	raw, _ := set.Provider.Build(pecgen.Spec{Kind: pec.KindAccettazione})
	d.Deliver("1.test", raw)
	folder := t.TempDir()
	os.WriteFile(filepath.Join(folder, "a.eml"), set.Get("avvenuta-consegna-breve").Raw, 0o644)
	home := filepath.Join(t.TempDir(), "archive")
	conserva(t, "--archive", home, "search") // creates the home and its conserva.toml
	pwFile := filepath.Join(t.TempDir(), "pw")
	os.WriteFile(pwFile, []byte(d.Password+"\n"), 0o600)
	cfg := filepath.Join(home, "conserva.toml")
	base, _ := os.ReadFile(cfg)
	conf := string(base) + fmt.Sprintf(`
[[source]]
url = "imap://%s@%s/INBOX"
label = "Protocollo"
password_file = %q

[[source]]
url = %q
label = "Esportazioni"
`, d.User, d.Addr, pwFile, folder)
	conf = strings.Replace(conf, `# trust = "trust-agid.pem"`, fmt.Sprintf("trust = %q", set.TrustPEM), 1)
	os.WriteFile(cfg, []byte(conf), 0o644)
	r := conserva(t, "--archive", home, "run")
	if r.code != 0 || !strings.Contains(r.stdout, "Protocollo") || !strings.Contains(r.stdout, "1 archived") || !strings.Contains(r.stdout, "sealed package") {
		t.Fatalf("run: %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if r := conserva(t, "--archive", home, "run"); r.code != 0 || !strings.Contains(r.stdout, "nothing new to seal") {
		t.Fatalf("second run: %d\n%s", r.code, r.stdout)
	}
	d.Stop()
	if r := conserva(t, "--archive", home, "run"); r.code != 1 || !strings.Contains(r.stdout, "FAILED Protocollo") {
		t.Fatalf("run with the mailbox down: %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
}

// TestIMAPOverTLS: STARTTLS on imap:// and implicit TLS on imaps://; the
// server's self-signed certificate is refused unless the source says
// insecure_skip_verify.
func TestIMAPOverTLS(t *testing.T) {
	d := testutil.StartDovecotTLS(t)
	set := fixtures(t)
	d.Deliver("1.test", set.Get("accettazione").Raw)
	home := filepath.Join(t.TempDir(), "archive")
	conserva(t, "--archive", home, "search")
	starttls := "imap://" + d.User + "@" + d.Addr + "/INBOX"
	implicit := "imaps://" + d.User + "@" + d.TLSAddr + "/INBOX"
	t.Setenv("CONSERVA_IMAP_PASSWORD", d.Password)
	for _, url := range []string{starttls, implicit} {
		r := conserva(t, "--archive", home, "ingest", "--json", url)
		if r.code != 1 || !strings.Contains(r.stderr, "certificate") {
			t.Fatalf("%s with an unknown certificate: exit %d %s %s", url, r.code, r.stdout, r.stderr)
		}
	}
	cfg := filepath.Join(home, "conserva.toml")
	base, _ := os.ReadFile(cfg)
	os.WriteFile(cfg, append(base, []byte(fmt.Sprintf("\n[[source]]\nurl = %q\ninsecure_skip_verify = true\n[[source]]\nurl = %q\ninsecure_skip_verify = true\n", starttls, implicit))...), 0o644)
	for i, url := range []string{starttls, implicit} {
		s := ingestSummary(t, conserva(t, "--archive", home, "ingest", "--json", url))
		if s["errors"] != 0 || s["seen"] != 1 || s["archived"] != float64(1-i) {
			t.Fatalf("%s with insecure_skip_verify: %v", url, s)
		}
	}
}
