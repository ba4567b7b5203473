package archive_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/conserva/conserva/archive"
	"github.com/conserva/conserva/ingest"
	"github.com/conserva/conserva/internal/pecgen"
	"github.com/conserva/conserva/pec"
	"github.com/conserva/conserva/storage"
)

// TestHugeHeaderDoesNotStrandBatches is issue 12 case 1: a 40,000-character
// Message-ID among many messages. It used to fail the batch with bbolt's
// "key too large" and stop every later batch: stored, never catalogued.
func TestHugeHeaderDoesNotStrandBatches(t *testing.T) {
	_, a := setup(t)
	src := t.TempDir()
	const n = 800
	for i := range n {
		body := fmt.Sprintf("Message-ID: <m%d@x>\r\nFrom: a%d@example.org\r\nSubject: n. %d\r\n\r\nb\r\n", i, i, i)
		if i == n/4 {
			body = "Message-ID: <" + strings.Repeat("a", 40000) + "@x>\r\nFrom: huge@example.org\r\nSubject: " + strings.Repeat("s", 40000) + "\r\n\r\nb\r\n"
		}
		if err := os.WriteFile(filepath.Join(src, fmt.Sprintf("m%05d.eml", i)), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s, err := ingest.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	sum, err := a.Ingest(context.Background(), []ingest.Source{s}, archive.IngestOptions{BatchSize: 100})
	stored := 0
	a.Store.List(context.Background(), "messages/", func(storage.Info) error { stored++; return nil })
	catalogued, _ := a.Catalog.Count()
	t.Logf("stored %d, catalogued %d, stranded %d; errors %d, err %v", stored, catalogued, stored-catalogued, sum.Errors, err)
	if err != nil || stored != n || catalogued != n || sum.Archived != n || sum.Errors != 0 {
		t.Fatalf("stored %d, catalogued %d (want %d each), archived %d, errors %d, err %v", stored, catalogued, n, sum.Archived, sum.Errors, err)
	}
	ids, err := a.Catalog.ByAddress("huge@example.org")
	if err != nil || len(ids) != 1 {
		t.Fatalf("the huge message is not found by its sender: %v %v", ids, err)
	}
	r, _ := a.Catalog.Get(ids[0])
	if len(r.MessageID) > 8192 || len(r.Subject) > archive.MaxFieldBytes || !strings.Contains(r.MessageID, "truncated: 40004 bytes") {
		t.Fatalf("record fields not capped: Message-ID %d bytes (%q), Subject %d bytes", len(r.MessageID), r.MessageID[len(r.MessageID)-60:], len(r.Subject))
	}
	if !strings.Contains(strings.Join(r.Warnings, "\n"), "Message-ID is 40004 bytes") {
		t.Fatalf("no warning about the cut: %q", r.Warnings)
	}
	// catalog rebuild catalogues it too (it used to strand the same batches).
	rs, err := a.Rebuild(context.Background(), nil, nil)
	if n2, _ := a.Catalog.Count(); err != nil || n2 != n || rs.Errors != 0 {
		t.Fatalf("rebuild: %d catalogued of %d, %+v, %v", n2, n, rs.Failures, err)
	}
	// The dossier of the message (keyed by its huge Message-ID) still works.
	recs, err := a.Catalog.DossierRecords(r.Dossier)
	if err != nil || len(recs) != 1 {
		t.Fatalf("dossier lookup: %d %v", len(recs), err)
	}
}

// A rebuild re-verifies; the verdict the catalog held before is kept in
// the record's history, with its sources and ingestion time.
func TestRebuildKeepsVerdictHistory(t *testing.T) {
	w, a := setup(t)
	trust := pec.NewTrustStore(w.ca.Cert)
	raw, err := w.prov.Build(pecgen.Spec{Kind: pec.KindAccettazione, Subject: "storia"})
	if err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(t.TempDir(), "a.eml")
	os.WriteFile(src, raw, 0o644)
	run(t, a, trust, src)
	var before *archive.Record
	a.Catalog.Scan(func(r *archive.Record) error { before = r; return nil })
	if before.Signature != pec.Valid {
		t.Fatalf("ingested as %s", before.Signature)
	}
	// Rebuilt without the anchors: the verdict changes, its history stays.
	if _, err := a.Rebuild(context.Background(), nil, nil); err != nil {
		t.Fatal(err)
	}
	after, _ := a.Catalog.Get(before.ID)
	h := after.History
	if after.Signature != pec.Untrusted || len(h) != 2 || h[0].Verdict != pec.Valid || h[0].By != "ingest" ||
		h[1].Verdict != pec.Untrusted || h[1].By != "rebuild" || after.Sources[0] != src || !after.IngestedAt.Equal(before.IngestedAt) {
		t.Fatalf("after rebuild: %s, history %+v, sources %v", after.Signature, h, after.Sources)
	}
}

// TestEveryDamagedPageIsAnError: the catalog check reads every page; with
// each page of a real catalog damaged in turn (its header, and the middle
// of its data), the check reports damage or nothing, never crashes the
// process. (bbolt's own Check reads pages in a goroutine of its own, where
// a memory fault was fatal: `conserva audit` died with SIGSEGV.)
func TestEveryDamagedPageIsAnError(t *testing.T) {
	_, a := setup(t)
	src := t.TempDir()
	for i := range 300 {
		body := fmt.Sprintf("Message-ID: <m%d@x>\r\nFrom: a%d@example.org\r\nSubject: pagina %d\r\n\r\nb\r\n", i, i, i)
		os.WriteFile(filepath.Join(src, fmt.Sprintf("m%03d.eml", i)), []byte(body), 0o644)
	}
	s, _ := ingest.Open(src)
	if _, err := a.Ingest(context.Background(), []ingest.Source{s}, archive.IngestOptions{}); err != nil {
		t.Fatal(err)
	}
	home := a.Dir
	a.Close()
	path := filepath.Join(home, "catalog.db")
	pristine, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	const pageSize = 4096
	damaged := 0
	dir := t.TempDir()
	for page := 2; page < len(pristine)/pageSize; page++ {
		// The page header and the first element headers (positions, sizes,
		// child page ids), then the middle of the data.
		for _, off := range []int{8, 16, 24, 32, 40, 48, pageSize / 2} {
			b := append([]byte(nil), pristine...)
			for k := range 8 {
				b[page*pageSize+off+k] ^= 0xA5
			}
			// A file of its own each time: an open that fails on a damaged
			// page may leave bbolt's lock on its file behind.
			copyPath := filepath.Join(dir, fmt.Sprintf("catalog-%d-%d.db", page, off))
			os.WriteFile(copyPath, b, 0o600)
			c, err := archive.OpenCatalog(copyPath, time.Second)
			if err != nil {
				damaged++ // refused at opening: reported, fine
				continue
			}
			if len(archive.CheckPages(c)) > 0 {
				damaged++
			}
			c.Close()
		}
	}
	os.WriteFile(path, pristine, 0o600)
	t.Logf("%d damaged catalogs reported of %d", damaged, 7*(len(pristine)/pageSize-2))
	if damaged == 0 {
		t.Fatal("no damage was reported at all")
	}
}
