package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestIngestSearchShow runs the records manager's and the lawyer's path
// through the CLI: ingest a folder, find the flagged messages, show the
// dossier with each recipient's status.
func TestIngestSearchShow(t *testing.T) {
	set := fixtures(t)
	home := filepath.Join(t.TempDir(), "archive")
	src := t.TempDir()
	files, err := set.Provider.Dossier("Atto di citazione", []string{"avv.rossi@pec.example"}, []string{"avv.bianchi@pec.example"}, []byte("pdf"), set.CA.Cert.NotBefore.AddDate(1, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	for name, raw := range files {
		os.WriteFile(filepath.Join(src, name), raw, 0o644)
	}
	os.WriteFile(filepath.Join(src, "tampered.eml"), set.Get("tampered-body").Raw, 0o644)

	r := conserva(t, "--archive", home, "ingest", "--json", "--trust", set.TrustPEM, src)
	var sum map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &sum); err != nil || r.code != 0 {
		t.Fatalf("ingest: exit %d, %q, %v", r.code, r.stdout, err)
	}
	for k, want := range map[string]float64{"seen": 5, "archived": 5, "duplicates": 0, "flagged": 1, "errors": 0} {
		if sum[k] != want {
			t.Errorf("%s = %v, want %v", k, sum[k], want)
		}
	}
	if _, err := os.Stat(filepath.Join(home, "conserva.toml")); err != nil {
		t.Errorf("archive home not created: %v", err)
	}
	// The same through CONSERVA_ARCHIVE, in words: all duplicates.
	t.Setenv("CONSERVA_ARCHIVE", home)
	r = conserva(t, "ingest", "--trust", set.TrustPEM, src)
	if r.code != 0 || !strings.Contains(r.stdout, "5 seen, 0 archived, 5 duplicates") {
		t.Fatalf("second ingest: %d %q", r.code, r.stdout)
	}

	rows := decodeLines(t, conserva(t, "search", "--json", "--flagged").stdout)
	if len(rows) != 1 || rows[0]["signature"] != "invalid" {
		t.Fatalf("flagged: %v", rows)
	}
	rows = decodeLines(t, conserva(t, "search", "--json", "--kind", "avvenuta-consegna").stdout)
	if len(rows) != 1 {
		t.Fatalf("search by kind: %v", rows)
	}
	for _, k := range []string{"id", "kind", "receipt_type", "signature", "message_id", "ref_message_id", "identificativo", "from", "to", "subject", "date", "package"} {
		if _, ok := rows[0][k]; !ok {
			t.Errorf("search field %q missing", k)
		}
	}
	ref := rows[0]["ref_message_id"].(string)

	r = conserva(t, "show", "--json", ref)
	var d struct {
		MessageID  string           `json:"message_id"`
		Messages   []map[string]any `json:"messages"`
		Receipts   []map[string]any `json:"receipts"`
		Recipients []struct{ Address, Status string }
	}
	if err := json.Unmarshal([]byte(r.stdout), &d); err != nil {
		t.Fatalf("show --json: %v\n%s", err, r.stdout)
	}
	status := map[string]string{}
	for _, rc := range d.Recipients {
		status[rc.Address] = rc.Status
	}
	if len(d.Messages) != 1 || len(d.Receipts) != 3 || status["avv.rossi@pec.example"] != "delivered" || status["avv.bianchi@pec.example"] != "failed" {
		t.Fatalf("dossier: %d messages, %d receipts, %v", len(d.Messages), len(d.Receipts), status)
	}
	for _, k := range []string{"id", "kind", "receipt_type", "recipient", "date", "signature"} {
		if _, ok := d.Receipts[0][k]; !ok {
			t.Errorf("receipt field %q missing", k)
		}
	}
	r = conserva(t, "show", ref)
	if !strings.Contains(r.stdout, "avv.rossi@pec.example") || !strings.Contains(r.stdout, "delivered") {
		t.Fatalf("show: %s", r.stdout)
	}
	if r := conserva(t, "show", "<nobody@nowhere>"); r.code != 1 || !strings.Contains(r.stderr, "no message") {
		t.Fatalf("unknown id: %d %q", r.code, r.stderr)
	}
	for name, args := range map[string][]string{
		"no source": {"ingest"},
		"bad kind":  {"search", "--kind", "raccomandata"},
		"bad date":  {"search", "--since", "yesterday"},
		"two refs":  {"show", "a", "b"},
	} {
		if r := conserva(t, args...); r.code != 2 {
			t.Errorf("%s: exit %d (%q), want 2", name, r.code, r.stderr)
		}
	}
}
