package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/conserva/conserva/internal/pecgen"
	"github.com/conserva/conserva/pec"
)

// TestCLINeverSurprises walks what a new user tries after an ingest: the
// short ids printed are accepted everywhere, tables say why and stay
// aligned, usage errors are one line, files are not overwritten.
func TestCLINeverSurprises(t *testing.T) {
	set := fixtures(t)
	home := filepath.Join(t.TempDir(), "archive")
	src := t.TempDir()
	// One dossier whose objects all carry the same second (providers stamp
	// seconds), with several long recipient addresses.
	at := set.CA.Cert.NotBefore.AddDate(1, 0, 0).Truncate(time.Second)
	rcpts := []string{"studio.legale.associato.rossi@pec.ordine-avvocati-example.it", "b@pec.example", "ufficio.contenzioso.amministrativo@pec.comune-example.it"}
	base := pecgen.Spec{Sender: "protocollo@pec.test.example", Recipients: rcpts, Subject: "Diffida ad adempiere",
		OriginalID: "<diffida-1@client.example>", Identificativo: "opec21.x.1@pec.test.example", Date: at}
	specs := map[string]pecgen.Spec{}
	for i, r := range rcpts {
		s := base
		s.Kind, s.Consegna = pec.KindAvvenutaConsegna, r
		specs[fmt.Sprintf("c%d.eml", i)] = s
	}
	acc, env := base, base
	acc.Kind, env.Kind = pec.KindAccettazione, pec.KindPostaCertificata
	specs["acc.eml"], specs["env.eml"] = acc, env
	for name, s := range specs {
		raw, err := set.Provider.Build(s)
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(src, name), raw, 0o644)
	}
	os.WriteFile(filepath.Join(src, "tampered.eml"), set.Get("tampered-body").Raw, 0o644)
	t.Setenv("CONSERVA_ARCHIVE", home)
	if r := conserva(t, "ingest", "--trust", set.TrustPEM, src); r.code != 0 {
		t.Fatalf("ingest: %d %s", r.code, r.stderr)
	}
	short := map[string]string{} // kind → short id as search prints it
	var flaggedReason, tampered string
	for _, row := range decodeLines(t, conserva(t, "search", "--json").stdout) {
		if row["flagged"] == true {
			flaggedReason, tampered = row["flag_reason"].(string), row["id"].(string)[:12]
			continue
		}
		short[row["kind"].(string)] = row["id"].(string)[:12]
	}
	if flaggedReason == "" {
		t.Fatal("the tampered message is not flagged")
	}

	t.Run("search --flagged says why", func(t *testing.T) {
		r := conserva(t, "search", "--flagged")
		lines := strings.Split(r.stdout, "\n")
		if !strings.Contains(lines[0], "REASON") || !strings.Contains(r.stdout, flaggedReason) {
			t.Errorf("search --flagged without the reason:\n%s", r.stdout)
		}
	})

	t.Run("show by short id, in flow order, aligned", func(t *testing.T) {
		r := conserva(t, "show", short["accettazione"])
		if r.code != 0 || !strings.Contains(r.stdout, "dossier <diffida-1@client.example>") {
			t.Fatalf("show %s: exit %d %q %q", short["accettazione"], r.code, r.stdout, r.stderr)
		}
		var rows []string
		for _, l := range strings.Split(r.stdout, "\n") {
			if strings.Contains(l, "  "+at.Local().Format("2006-01-02 15:04:05")) {
				rows = append(rows, l)
			}
		}
		if len(rows) != 5 {
			t.Fatalf("want 5 timeline rows:\n%s", r.stdout)
		}
		order := []string{"accettazione", "posta-certificata", "avvenuta-consegna", "avvenuta-consegna", "avvenuta-consegna"}
		col := -1
		for i, l := range rows {
			if !strings.Contains(l, order[i]) {
				t.Errorf("row %d is not %s (same second: the PEC flow's order):\n%s", i, order[i], r.stdout)
			}
			c := utf8.RuneCountInString(l[:max(0, strings.Index(l, " valid "))])
			if col == -1 {
				col = c
			}
			if c == 0 || c != col {
				t.Errorf("the signature column is not aligned:\n%s", r.stdout)
				break
			}
		}
	})

	t.Run("show says why and says the hold", func(t *testing.T) {
		r := conserva(t, "show", short["posta-certificata"][:8])
		if r.code != 0 || strings.Contains(r.stdout, "LEGAL HOLD") {
			t.Fatalf("show: %d %q", r.code, r.stdout)
		}
		r = conserva(t, "show", tampered)
		_, reason, _ := strings.Cut(flaggedReason, ": ")
		if r.code != 0 || !strings.Contains(r.stdout, reason) {
			t.Errorf("show of a message that is not valid does not say why (%q):\n%s", reason, r.stdout)
		}
		if r := conserva(t, "hold", "set", short["avvenuta-consegna"]); r.code != 0 || !strings.Contains(r.stdout, "5 messages") {
			t.Fatalf("hold set by short id: %d %q %q", r.code, r.stdout, r.stderr)
		}
		if r := conserva(t, "show", short["accettazione"]); !strings.Contains(r.stdout, "LEGAL HOLD") {
			t.Errorf("show does not say the legal hold:\n%s", r.stdout)
		}
	})

	t.Run("export by short id, never over a file", func(t *testing.T) {
		if r := conserva(t, "seal"); r.code != 0 {
			t.Fatalf("seal: %d %s", r.code, r.stderr)
		}
		out := filepath.Join(t.TempDir(), "fascicolo.zip")
		r := conserva(t, "export", "--out", out, short["accettazione"])
		if r.code != 0 || !strings.Contains(r.stdout, "5 messages, 1 package\n") {
			t.Fatalf("export by short id: %d %q %q", r.code, r.stdout, r.stderr)
		}
		before, _ := os.ReadFile(out)
		r = conserva(t, "export", "--out", out, short["accettazione"])
		after, _ := os.ReadFile(out)
		if r.code != 2 || !strings.Contains(r.stderr, "--force") || string(after) != string(before) {
			t.Errorf("export over an existing file: exit %d %q", r.code, r.stderr)
		}
		if r := conserva(t, "export", "--force", "--out", out, short["accettazione"]); r.code != 0 {
			t.Errorf("export --force: %d %q", r.code, r.stderr)
		}
	})

	t.Run("an ambiguous short id lists the candidates", func(t *testing.T) {
		// Two messages whose ids share their first four digits.
		dir := t.TempDir()
		type msg struct{ id, raw string }
		seen := map[string]msg{} // first four digits → message
		var prefix string
		var pair [2]string
		for i := 0; prefix == ""; i++ {
			raw := fmt.Sprintf("From: a@example.com\r\nMessage-ID: <n%d@example.com>\r\nSubject: n. %d\r\n\r\nbody\r\n", i, i)
			sum := sha256.Sum256([]byte(raw))
			id := hex.EncodeToString(sum[:])
			if other, ok := seen[id[:4]]; ok {
				prefix, pair = id[:4], [2]string{other.id, id}
				os.WriteFile(filepath.Join(dir, "a.eml"), []byte(other.raw), 0o644)
				os.WriteFile(filepath.Join(dir, "b.eml"), []byte(raw), 0o644)
			}
			seen[id[:4]] = msg{id, raw}
		}
		if r := conserva(t, "ingest", dir); r.code != 0 {
			t.Fatalf("ingest: %d %s", r.code, r.stderr)
		}
		r := conserva(t, "show", prefix)
		if r.code != 2 || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, "ambiguous") ||
			!strings.Contains(r.stderr, pair[0][:12]) || !strings.Contains(r.stderr, pair[1][:12]) {
			t.Errorf("show %s (two messages): exit %d %q", prefix, r.code, r.stderr)
		}
		if r := conserva(t, "show", pair[1][:12]); r.code != 0 {
			t.Errorf("show of the longer prefix: %d %q", r.code, r.stderr)
		}
	})

	t.Run("usage errors", func(t *testing.T) {
		r := conserva(t, "export", short["accettazione"])
		if r.code != 2 || r.stderr != "conserva: export: Required flag \"out\" not set (see conserva export --help)\n" {
			t.Errorf("export without --out: exit %d %q", r.code, r.stderr)
		}
		r = conserva(t, "export", "--help")
		for _, l := range strings.Split(r.stdout, "\n") {
			if strings.Contains(l, "--out string") && !strings.Contains(l, "(required)") {
				t.Errorf("--help does not mark --out required: %q", l)
			}
		}
		r = conserva(t, "run", "--json")
		var v map[string]any
		if err := json.Unmarshal([]byte(r.stdout), &v); err != nil || r.code != 2 || !strings.Contains(fmt.Sprint(v["error"]), "no [[source]]") {
			t.Errorf("run --json without sources: exit %d, stdout %q (%v)", r.code, r.stdout, err)
		}
		r = conserva(t, "ingest", "/nonexistent", src)
		if r.code != 1 || !strings.Contains(r.stdout, "error /nonexistent") || !strings.Contains(r.stdout, "6 seen") {
			t.Errorf("ingest of a missing path beside a good one: exit %d %q %q", r.code, r.stdout, r.stderr)
		}
	})
}
