package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestIngestSources: a symlinked folder is read, a folder's files that are
// not messages are listed as skipped (never archived as "not-pec" evidence,
// undeletable for ten years), --all-files takes them, --dry-run writes
// nothing.
func TestIngestSources(t *testing.T) {
	set := fixtures(t)
	root := t.TempDir()
	dir := filepath.Join(root, "export")
	os.MkdirAll(dir, 0o755)
	os.WriteFile(filepath.Join(dir, "accettazione.eml"), set.Get("accettazione").Raw, 0o644)
	os.WriteFile(filepath.Join(dir, "README.md"), []byte("# export of 2026-11-30\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "responsabile.p12"), []byte("\x30\x82\x0a\x00\x02\x01\x03"), 0o600)
	link := filepath.Join(root, "link")
	os.Symlink(dir, link)
	home := filepath.Join(root, "archive")

	r := conserva(t, "--archive", home, "ingest", "--dry-run", link)
	if r.code != 0 || !strings.Contains(r.stdout, "would read "+link+"/accettazione.eml") ||
		!strings.Contains(r.stdout, "skipped "+link+"/README.md: not a message") || !strings.Contains(r.stdout, "1 message would be read") {
		t.Errorf("dry run: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if _, err := os.Stat(home); !os.IsNotExist(err) {
		t.Errorf("--dry-run created the archive (%v)", err)
	}

	r = conserva(t, "--archive", home, "ingest", "--json", "--trust", set.TrustPEM, link)
	var sum struct {
		Seen, Archived int
		Skipped        []struct{ Source, Reason string }
	}
	if err := json.Unmarshal([]byte(r.stdout), &sum); err != nil || r.code != 0 || sum.Seen != 1 || sum.Archived != 1 || len(sum.Skipped) != 2 {
		t.Fatalf("ingest of a symlinked folder: exit %d %q %v", r.code, r.stdout, err)
	}
	r = conserva(t, "--archive", home, "ingest", "--trust", set.TrustPEM, link)
	if r.code != 0 || !strings.Contains(r.stdout, "skipped "+link+"/responsabile.p12: not a message: binary data") || !strings.Contains(r.stdout, "2 files skipped") {
		t.Errorf("ingest does not list what it skipped:\n%s", r.stdout)
	}
	rows := decodeLines(t, conserva(t, "--archive", home, "search", "--json", "--kind", "not-pec").stdout)
	if len(rows) != 0 {
		t.Errorf("files that are not messages were archived: %v", rows)
	}
	r = conserva(t, "--archive", home, "ingest", "--all-files", "--json", link)
	sum.Skipped = nil
	if err := json.Unmarshal([]byte(r.stdout), &sum); err != nil || sum.Archived != 2 || len(sum.Skipped) != 0 {
		t.Errorf("--all-files: %q", r.stdout)
	}
}
