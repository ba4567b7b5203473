package archive_test

import (
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/conserva/conserva/archive"
	"github.com/conserva/conserva/internal/catbench"
	"github.com/conserva/conserva/pec"
)

// TestSearchStreams checks that queries read only the records their
// index names and hand each over as it is read: the records decoded
// (RecordsRead), never a timing, tell. Before format 2 a subject search
// decoded every record, and an address search every record of the
// address whatever the dates, all before the first was handed over.
func TestSearchStreams(t *testing.T) {
	a, err := archive.Open(filepath.Join(t.TempDir(), "a"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	// 3,000 messages to one address, one a minute; every tenth flagged.
	var recs []*archive.Record
	for i := range 3000 {
		r := catbench.Record(i * 4)
		r.To = []string{"ufficio@pec.example"}
		d := catbench.Base.Add(time.Duration(i) * time.Minute)
		r.Date = &d
		r.Subject = fmt.Sprintf("Pratica%d %s", i, catbench.Words[i%len(catbench.Words)])
		r.Flagged = i%10 == 0
		recs = append(recs, r)
	}
	if _, err := a.Catalog.Insert(recs); err != nil {
		t.Fatal(err)
	}
	count := func(q archive.Query, stopAfter int) (hits int, reads int64) {
		t.Helper()
		before := a.Catalog.RecordsRead()
		stop := errors.New("stop")
		err := a.Search(q, func(*archive.Record) error {
			hits++
			if hits == stopAfter {
				return stop
			}
			return nil
		})
		if err != nil && err != stop {
			t.Fatal(err)
		}
		return hits, a.Catalog.RecordsRead() - before
	}
	at := func(min int) time.Time { return catbench.Base.Add(time.Duration(min) * time.Minute) }
	for _, c := range []struct {
		name  string
		q     archive.Query
		stop  int
		hits  int
		reads int64
	}{
		{"address, 10 minutes of 3,000", archive.Query{To: "UFFICIO@pec.example", Since: at(1000), Until: at(1010)}, 0, 10, 10},
		{"address, stopped after the first", archive.Query{To: "ufficio@pec.example"}, 1, 1, 1},
		{"subject word of one message", archive.Query{Subject: "pratica1234"}, 0, 1, 1},
		{"subject word begun by 11 words", archive.Query{Subject: "pratica123"}, 0, 11, 11},
		{"subject word of none", archive.Query{Subject: "nessuna"}, 0, 0, 0},
		// The rarer word's keys are read: "decreto" (250) rather than
		// "pratica2…" (1,111).
		{"two subject words", archive.Query{Subject: "decreto pratica2"}, 0, 93, 250},
		{"flagged in a day", archive.Query{Flagged: true, Since: at(0), Until: at(24 * 60)}, 0, 144, 144},
		{"kind in an hour", archive.Query{Kind: pec.KindPostaCertificata, Since: at(60), Until: at(120)}, 0, 60, 60},
		{"dates only", archive.Query{Since: at(10), Until: at(20)}, 0, 10, 10},
		{"whole catalog, stopped after the first", archive.Query{}, 1, 1, 1},
	} {
		hits, reads := count(c.q, c.stop)
		if hits != c.hits || reads > c.reads {
			t.Errorf("%s: %d hits (want %d), %d records read (want at most %d)", c.name, hits, c.hits, reads, c.reads)
		}
	}
	// Statistics come from the counts kept at write: no record is read.
	before := a.Catalog.RecordsRead()
	rows, err := a.Stats("")
	if err != nil || len(rows) != 1 || rows[0].Messages != 3000 || rows[0].Flagged != 300 {
		t.Fatalf("stats %+v %v", rows, err)
	}
	if n := a.Catalog.RecordsRead() - before; n != 0 {
		t.Fatalf("stats read %d records", n)
	}
	// A verdict changed by an update moves the record out of the flagged
	// index and the counts.
	err = a.Catalog.Update(func(get func(string) (*archive.Record, error), put func(*archive.Record) error) error {
		r, err := get(recs[0].ID)
		if err != nil {
			return err
		}
		r.Flagged = false
		return put(r)
	})
	if err != nil {
		t.Fatal(err)
	}
	if hits, _ := count(archive.Query{Flagged: true, Since: at(0), Until: at(1)}, 0); hits != 0 {
		t.Fatalf("unflagged record still found as flagged")
	}
	if rows, _ := a.Stats(""); rows[0].Flagged != 299 {
		t.Fatalf("flagged count %d after unflagging one of 300", rows[0].Flagged)
	}
}

// TestSearchMatchesScan compares every indexed query with the same
// conditions checked on every record.
func TestSearchMatchesScan(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a")
	if err := catbench.Generate(dir, 2000, nil); err != nil {
		t.Fatal(err)
	}
	a, err := archive.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	var all []*archive.Record
	a.Catalog.Scan(func(r *archive.Record) error { all = append(all, r); return nil })
	d := 123
	for _, q := range []archive.Query{
		{MessageID: catbench.MessageID(d)},
		{MessageID: "<" + catbench.MessageID(d) + ">"},
		{From: catbench.Sender(d)},
		{To: catbench.Recipient(d), Since: catbench.Date(d - 5), Until: catbench.Date(d + 5)},
		{Address: catbench.Recipient(d)},
		{Subject: "Decreto"},
		{Subject: "PRATICA12 decr"},
		// A word of every twelfth dossier, between two of its dates: the
		// first included, the last excluded.
		{Subject: "notifica", Since: catbench.Date(12), Until: catbench.Date(48)},
		{Subject: "pratica1"},
		{Kind: pec.KindAccettazione, Since: catbench.Date(10), Until: catbench.Date(20)},
		{Flagged: true},
		{Mailbox: "imaps://protocollo3@pec.example/INBOX"},
		{Since: catbench.Date(400)},
	} {
		got := map[string]bool{}
		a.Search(q, func(r *archive.Record) error {
			if got[r.ID] {
				t.Errorf("%+v: %s given twice", q, r.ID)
			}
			got[r.ID] = true
			return nil
		})
		want := 0
		for _, r := range all {
			if archive.QueryMatches(q, r) {
				want++
				if !got[r.ID] {
					t.Errorf("%+v: %s (%q) not found", q, r.ID, r.Subject)
				}
			}
		}
		if want != len(got) || want == 0 {
			t.Errorf("%+v: %d found, %d match", q, len(got), want)
		}
	}
}

// TestFindDossierMatchesScan: a dossier found by any Message-ID, an
// identificativo or an id holds the records a full scan gives for its
// key, each once, whichever index found it; one that nothing carries is
// ErrNoDossier.
func TestFindDossierMatchesScan(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a")
	if err := catbench.Generate(dir, 400, nil); err != nil {
		t.Fatal(err)
	}
	a, err := archive.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	// An object of dossier 17 also carries dossier 18's Message-ID: found
	// under both, it belongs to 17 only.
	stray := catbench.Record(17 * 4)
	stray.ID, stray.Key = catbench.ID(-1000), ""
	stray.MessageID, stray.Msgid = "<reply@client.example>", "<"+catbench.MessageID(18)+">"
	if _, err := a.Catalog.Insert([]*archive.Record{stray}); err != nil {
		t.Fatal(err)
	}
	var all []*archive.Record
	a.Catalog.Scan(func(r *archive.Record) error { all = append(all, r); return nil })
	for _, ref := range []string{
		catbench.MessageID(17), "<" + catbench.MessageID(17) + ">", catbench.MessageID(18),
		"<acc." + catbench.MessageID(17) + ">", "opec." + catbench.MessageID(17), "reply@client.example",
		catbench.ID(17 * 4), catbench.ID(17 * 4)[:12],
	} {
		d, err := a.FindDossier(ref)
		if err != nil {
			t.Fatalf("%s: %v", ref, err)
		}
		got := map[string]bool{}
		var ids []string
		for _, r := range d.Messages {
			ids = append(ids, r.ID)
		}
		for _, r := range d.Receipts {
			ids = append(ids, r.ID)
		}
		for _, id := range ids {
			if got[id] {
				t.Errorf("%s: %s twice", ref, id)
			}
			got[id] = true
		}
		want := 0
		for _, r := range all {
			if r.Dossier == d.MessageID {
				want++
				if !got[r.ID] {
					t.Errorf("%s: dossier %s lacks %s", ref, d.MessageID, r.ID)
				}
			}
		}
		if want != len(got) || want < 4 {
			t.Errorf("%s: %d records, the scan gives %d", ref, len(got), want)
		}
	}
	if _, err := a.FindDossier("<nobody@client.example>"); !errors.Is(err, archive.ErrNoDossier) {
		t.Fatalf("unknown Message-ID: %v", err)
	}
}
