package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// TestCatalogV1Migrates opens an archive whose catalog was written by the
// version before catalog format 2 (testdata/catalog-v1, see its README):
// the first command migrates it, and search, show and stats print what
// that version printed; a rebuild afterwards changes none of it.
func TestCatalogV1Migrates(t *testing.T) {
	home := filepath.Join(t.TempDir(), "home")
	if err := os.CopyFS(home, os.DirFS("testdata/catalog-v1/home")); err != nil {
		t.Fatal(err)
	}
	cfg := []string{"--archive", home}
	sizeBefore := len(mustRead(t, filepath.Join(home, "catalog.db")))
	want := func(name string) string { return string(mustRead(t, filepath.Join("testdata/catalog-v1", name))) }
	mid := strings.TrimSpace(strings.SplitN(strings.SplitN(want("search.jsonl"), `"msgid":"<`, 2)[1], `>"`, 2)[0])
	check := func(when string) {
		t.Helper()
		r := conserva(t, append(cfg, "search", "--json")...)
		if r.code != 0 || sortedLines(r.stdout) != sortedLines(want("search.jsonl")) {
			t.Fatalf("%s: search differs (exit %d %s):\n%s\nwant\n%s", when, r.code, r.stderr, r.stdout, want("search.jsonl"))
		}
		r = conserva(t, append(cfg, "show", "--json", "<"+mid+">")...)
		if r.code != 0 || !sameJSON(r.stdout, want("show.json")) {
			t.Fatalf("%s: show differs (exit %d %s):\n%s\nwant\n%s", when, r.code, r.stderr, r.stdout, want("show.json"))
		}
		for _, by := range []string{"mailbox", "month", "sender"} {
			r = conserva(t, append(cfg, "stats", "--by", by, "--json")...)
			if r.code != 0 || !sameJSON(r.stdout, want("stats-"+by+".json")) {
				t.Fatalf("%s: stats --by %s differs (exit %d %s):\n%s\nwant\n%s", when, by, r.code, r.stderr, r.stdout, want("stats-"+by+".json"))
			}
		}
	}
	check("after migration")
	// Compacted after the migration: no larger than the format 1 file
	// (TestMigrateCompacts, in archive, shows it shrinking).
	if size := len(mustRead(t, filepath.Join(home, "catalog.db"))); size > sizeBefore {
		t.Errorf("catalog.db is %d bytes after migration, %d before", size, sizeBefore)
	}

	db, err := bolt.Open(filepath.Join(home, "catalog.db"), 0o600, &bolt.Options{ReadOnly: true, Timeout: 5e9})
	if err != nil {
		t.Fatal(err)
	}
	db.View(func(tx *bolt.Tx) error {
		if tx.Bucket([]byte("messages")) != nil || tx.Bucket([]byte("ix_address")) != nil {
			t.Error("the format 1 buckets are still there")
		}
		if n := tx.Bucket([]byte("records")).Stats().KeyN; n != 6 {
			t.Errorf("%d records in format 2, want 6", n)
		}
		if v := tx.Bucket([]byte("meta")).Get([]byte("catalog_format")); string(v) != "2" {
			t.Errorf("catalog_format %q", v)
		}
		return nil
	})
	db.Close()

	// Indexes of format 2 answer what format 1 could only scan for.
	r := conserva(t, append(cfg, "search", "--json", "--subject", "POSTA")...)
	if rows := decodeLines(t, r.stdout); r.code != 0 || len(rows) != 2 {
		t.Fatalf("search --subject POSTA: exit %d, %d rows %s", r.code, len(rows), r.stdout)
	}

	if r := conserva(t, append(cfg, "catalog", "rebuild", "--json")...); r.code != 0 {
		t.Fatalf("rebuild: exit %d %s %s", r.code, r.stdout, r.stderr)
	}
	check("after rebuild")
}

func sortedLines(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

func sameJSON(a, b string) bool {
	var x, y any
	return json.Unmarshal([]byte(a), &x) == nil && json.Unmarshal([]byte(b), &y) == nil && reflect.DeepEqual(x, y)
}
