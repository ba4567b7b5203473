package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestAuditNamesDamage: an intact archive passes; after one byte of one
// stored message is changed and another message is deleted, audit fails and
// names both.
func TestAuditNamesDamage(t *testing.T) {
	home := filepath.Join(t.TempDir(), "archive")
	ingestFixtures(t, home, 6)
	cfg := []string{"--archive", home}
	if r := conserva(t, append(cfg, "seal")...); r.code != 0 {
		t.Fatal(r.stderr)
	}
	r := conserva(t, append(cfg, "audit", "--json")...)
	var rep struct {
		Objects, OK int
		Problems    []struct{ ID, Key, Problem string }
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || r.code != 0 || rep.Objects != 6 || rep.OK != 6 || len(rep.Problems) != 0 {
		t.Fatalf("intact archive: exit %d %s %v", r.code, r.stdout, err)
	}
	rows := decodeLines(t, conserva(t, append(cfg, "search", "--json")...).stdout)
	damaged := filepath.Join(home, "store", filepath.FromSlash(rows[0]["key"].(string)))
	gone := filepath.Join(home, "store", filepath.FromSlash(rows[1]["key"].(string)))
	os.Chmod(damaged, 0o644)
	data, _ := os.ReadFile(damaged)
	data[len(data)/2] ^= 1
	os.WriteFile(damaged, data, 0o644)
	os.Remove(gone)
	r = conserva(t, append(cfg, "audit", "--json")...)
	json.Unmarshal([]byte(r.stdout), &rep)
	if r.code != 1 || len(rep.Problems) != 2 {
		t.Fatalf("damaged archive: exit %d %s", r.code, r.stdout)
	}
	text := r.stdout
	if !strings.Contains(text, rows[0]["id"].(string)) || !strings.Contains(text, "damaged") ||
		!strings.Contains(text, rows[1]["id"].(string)) || !strings.Contains(text, "missing") {
		t.Fatalf("problems do not name both objects: %s", text)
	}
	// A damaged package file is named too.
	pkgs, _ := filepath.Glob(filepath.Join(home, "store", "packages", "*", "index.xml"))
	os.Chmod(pkgs[0], 0o644)
	os.WriteFile(pkgs[0], append(mustRead(t, pkgs[0]), ' '), 0o644)
	r = conserva(t, append(cfg, "audit")...)
	if r.code != 1 || !strings.Contains(r.stdout, "index.xml.p7s: signature does not match") {
		t.Fatalf("altered index: %d %s", r.code, r.stdout)
	}
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
