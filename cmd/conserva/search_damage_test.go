package main

import (
	"bytes"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/conserva/conserva/archive"
	"github.com/conserva/conserva/internal/catalogfmt"
	bolt "go.etcd.io/bbolt"
)

// A search goes through an index: an index entry that cannot be read, or
// that names a record no longer there, used to be stepped over in
// silence, so a damaged catalog gave fewer hits and passed for complete.
// Now the hits that can be read are still given, and the command exits 1
// and the page says the results may be incomplete.
func TestSearchTellsDamagedIndex(t *testing.T) {
	w := newWebArchive(t)
	const addr = "c@pec.example"
	search := func() result {
		return conserva(t, append(w.cfg, "search", "--json", "--address", addr)...)
	}
	clean := search()
	hits := decodeLines(t, clean.stdout)
	if clean.code != 0 || len(hits) == 0 || clean.stderr != "" {
		t.Fatalf("clean search: %d, %d hits, %s", clean.code, len(hits), clean.stderr)
	}
	base := startServe(t, w.cfg)
	c := newClient(t, base)
	if c.login("legal1", w.password) != http.StatusSeeOther {
		t.Fatal("login")
	}
	page := "/search?q=" + url.QueryEscape(addr)
	if code, body, _ := c.get(page); code != 200 || strings.Contains(body, `id="incomplete"`) {
		t.Fatalf("clean page: %d, incomplete notice %v", code, strings.Contains(body, `id="incomplete"`))
	}

	// Two damaged entries among the address's keys: one too short to be
	// an index key, one naming a record number the catalog never had.
	db, err := bolt.Open(filepath.Join(w.home, "catalog.db"), 0o600, &bolt.Options{Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("ix_addr"))
		k, _ := b.Cursor().Seek([]byte(addr + "\x00"))
		value, stamp, _, ok := catalogfmt.ParseIndexKey(k)
		if !ok || string(value) != addr {
			t.Fatalf("no index key for %s: %q", addr, k)
		}
		if err := b.Put(catalogfmt.IndexKey(addr, stamp, 1<<40), nil); err != nil {
			return err
		}
		return b.Put([]byte(addr+"\x00\x01"), nil)
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}

	r := search()
	if r.code != exitFindings || !strings.Contains(r.stderr, "stepped over 2 damaged catalog index entries") {
		t.Fatalf("damaged index: exit %d, stderr %q (want 1 and the damage named)", r.code, r.stderr)
	}
	if !bytes.Equal([]byte(r.stdout), []byte(clean.stdout)) {
		t.Fatalf("the readable hits must still be given:\n%s\nwant\n%s", r.stdout, clean.stdout)
	}
	human := conserva(t, append(w.cfg, "search", "--address", addr)...)
	if human.code != exitFindings || !strings.Contains(human.stdout, plural(len(hits), "message")) || !strings.Contains(human.stderr, "results may be incomplete") {
		t.Fatalf("human search: %d %q %q", human.code, human.stdout, human.stderr)
	}
	// Another address's search does not pass through the damage.
	if r := conserva(t, append(w.cfg, "search", "--json", "--address", "d@pec.example")...); r.code != 0 || r.stderr != "" {
		t.Fatalf("undamaged value: %d %s", r.code, r.stderr)
	}
	// What the notice sends the user to does name it.
	if r := conserva(t, append(w.cfg, "catalog", "check", "--json")...); r.code != exitFindings {
		t.Fatalf("catalog check on the damaged index: exit %d %s", r.code, r.stdout)
	}
	code, body, _ := c.get(page)
	if code != 200 || !strings.Contains(body, `id="incomplete"`) {
		t.Fatalf("damaged page: %d, no incomplete notice", code)
	}
	for _, h := range hits {
		if id := h["id"].(string); !strings.Contains(body, "/dossier/"+id) {
			t.Fatalf("damaged page lost the readable hit %s", id)
		}
	}
}

// A dossier is read through the Message-ID index too: with an entry there
// it cannot follow, show, the dossier page and an evidence pack's report
// give the messages they could read and warn that some may be missing.
func TestDossierTellsDamagedIndex(t *testing.T) {
	w := newWebArchive(t)
	const warning = "damaged entries where this dossier's messages are listed"
	if r := conserva(t, append(w.cfg, "show", "--json", w.ref)...); r.code != 0 || strings.Contains(r.stdout, warning) {
		t.Fatalf("intact dossier: %d %s", r.code, r.stdout)
	}
	db, err := bolt.Open(filepath.Join(w.home, "catalog.db"), 0o600, &bolt.Options{Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		value := archive.NormalizeMessageID(w.ref)
		b := tx.Bucket([]byte("ix_mid"))
		k, _ := b.Cursor().Seek([]byte(value + "\x00"))
		if v, _, _, ok := catalogfmt.ParseIndexKey(k); !ok || string(v) != value {
			t.Fatalf("no Message-ID key for %s: %q", value, k)
		}
		return b.Put(catalogfmt.IndexKey(value, 1, 1<<40), nil)
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	r := conserva(t, append(w.cfg, "show", w.ref)...)
	if r.code != 0 || !strings.Contains(r.stdout, "warning: the catalog's index has 1 "+warning) || !strings.Contains(r.stdout, "delivered") {
		t.Fatalf("show of the damaged dossier: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	zip := filepath.Join(t.TempDir(), "pack.zip")
	if r := conserva(t, append(w.cfg, "export", "--out", zip, w.ref)...); r.code != 0 {
		t.Fatalf("export: %d %s", r.code, r.stderr)
	}
	dir := t.TempDir()
	unzip(t, zip, dir)
	if report := string(mustRead(t, filepath.Join(dir, "report.json"))); !strings.Contains(report, warning) {
		t.Fatalf("the pack's report does not warn:\n%.2000s", report)
	}
	base := startServe(t, w.cfg)
	c := newClient(t, base)
	if c.login("legal1", w.password) != http.StatusSeeOther {
		t.Fatal("login")
	}
	if code, body, _ := c.get("/dossier/" + url.PathEscape(w.ref)); code != 200 || !strings.Contains(body, "damaged entries where this dossier&#39;s messages are listed") {
		t.Fatalf("dossier page: %d, no warning", code)
	}
}
