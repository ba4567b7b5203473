package archive_test

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/conserva/conserva/archive"
	"github.com/conserva/conserva/ingest"
	"github.com/conserva/conserva/internal/pecgen"
	"github.com/conserva/conserva/pec"
	"github.com/conserva/conserva/storage"
)

type world struct {
	ca   *pecgen.CA
	prov *pecgen.Provider
}

var newWorld = sync.OnceValues(func() (*world, error) {
	now := time.Now()
	ca, err := pecgen.NewCA("Archive Test CA", now.Add(-time.Hour), now.Add(24*time.Hour))
	if err != nil {
		return nil, err
	}
	prov, err := ca.NewProvider(pecgen.ProviderOptions{Domain: "pec.archivio.example"})
	return &world{ca, prov}, err
})

func setup(t *testing.T) (*world, *archive.Archive) {
	t.Helper()
	w, err := newWorld()
	if err != nil {
		t.Fatal(err)
	}
	a, err := archive.Open(filepath.Join(t.TempDir(), "archive"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return w, a
}

func writeFiles(t *testing.T, dir string, files map[string][]byte) {
	t.Helper()
	os.MkdirAll(dir, 0o755)
	for name, raw := range files {
		if err := os.WriteFile(filepath.Join(dir, name), raw, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func run(t *testing.T, a *archive.Archive, trust *pec.TrustStore, specs ...string) archive.IngestSummary {
	t.Helper()
	var srcs []ingest.Source
	for _, s := range specs {
		src, err := ingest.Open(s)
		if err != nil {
			t.Fatal(err)
		}
		srcs = append(srcs, src)
	}
	sum, err := a.Ingest(context.Background(), srcs, archive.IngestOptions{Trust: trust})
	if err != nil {
		t.Fatal(err)
	}
	return sum
}

func TestIngestFolderMboxMaildir(t *testing.T) {
	w, a := setup(t)
	trust := pec.NewTrustStore(w.ca.Cert)
	src := t.TempDir()
	dossier, err := w.prov.Dossier("Contratto", []string{"a@pec.uno.example", "b@pec.due.example"}, []string{"c@pec.tre.example"}, []byte("pdf"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	writeFiles(t, filepath.Join(src, "folder"), dossier)
	// The same dossier again inside an mbox, plus one message only there.
	extra, _ := w.prov.Build(pecgen.Spec{Kind: pec.KindAccettazione, Subject: "Solo nella mbox"})
	var mbox strings.Builder
	names := make([]string, 0, len(dossier))
	for n := range dossier {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		mbox.WriteString("From posta-certificata@pec.archivio.example Mon Nov 23 10:00:00 2026\n")
		mbox.Write(dossier[n])
		mbox.WriteString("\n")
	}
	mbox.WriteString("From x Mon Nov 23 10:00:00 2026\n")
	mbox.Write(extra)
	mbox.WriteString("\n")
	writeFiles(t, src, map[string][]byte{"export.mbox": []byte(mbox.String())})
	// A Maildir with a tampered envelope and garbage.
	md := filepath.Join(src, "Maildir")
	for _, d := range []string{"cur", "new", "tmp"} {
		os.MkdirAll(filepath.Join(md, d), 0o755)
	}
	writeFiles(t, filepath.Join(md, "new"), map[string][]byte{
		"1.tampered": pecgen.Tamper(dossier["01-posta-certificata.eml"]),
		"2.garbage":  pecgen.Garbage(500),
	})

	sum := run(t, a, trust, filepath.Join(src, "folder"), filepath.Join(src, "export.mbox"), md)
	n := len(dossier)
	if sum.Seen != 2*n+3 || sum.Archived != n+3 || sum.Duplicates != n || sum.Flagged != 2 || sum.Errors != 0 {
		t.Fatalf("summary %+v (dossier of %d)", sum, n)
	}
	// Every stored object is byte-exact: what came from the mbox verifies.
	rec, err := a.Catalog.Get(sumOf(extra))
	if err != nil || rec == nil || rec.Signature != pec.Valid || !strings.Contains(rec.Sources[0], "export.mbox#") {
		t.Fatalf("mbox message: %+v %v", rec, err)
	}
	stored := readObject(t, a, rec.Key)
	if string(stored) != string(extra) {
		t.Fatal("stored bytes differ from the message")
	}
	var flagged []string
	a.Search(archive.Query{Flagged: true}, func(r *archive.Record) error {
		flagged = append(flagged, string(r.Kind)+" "+r.FlagReason)
		return nil
	})
	if len(flagged) != 2 || !strings.Contains(strings.Join(flagged, "|"), "altered") {
		t.Fatalf("flagged: %v", flagged)
	}
	// Re-ingesting is idempotent.
	again := run(t, a, trust, filepath.Join(src, "folder"), filepath.Join(src, "export.mbox"), md)
	if again.Archived != 0 || again.Duplicates != again.Seen {
		t.Fatalf("second run %+v", again)
	}
	if c, _ := a.Catalog.Count(); c != n+3 {
		t.Fatalf("catalog holds %d", c)
	}
}

func TestDossierStatusesWhateverTheOrder(t *testing.T) {
	w, a := setup(t)
	trust := pec.NewTrustStore(w.ca.Cert)
	files, err := w.prov.Dossier("Diffida", []string{"ok@pec.uno.example"}, []string{"ko@pec.due.example"}, nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	// Receipts first, the envelope years later.
	var env []byte
	for name, raw := range files {
		if strings.Contains(name, "posta-certificata") {
			env = raw
			continue
		}
		writeFiles(t, dir, map[string][]byte{name: raw})
	}
	run(t, a, trust, dir)
	m := pec.Parse(env, pec.DefaultLimits())
	d, err := a.FindDossier(m.RefMessageID)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Messages) != 0 || len(d.Receipts) != 3 {
		t.Fatalf("before the envelope: %d messages %d receipts", len(d.Messages), len(d.Receipts))
	}
	later := t.TempDir()
	writeFiles(t, later, map[string][]byte{"env.eml": env})
	run(t, a, trust, later)
	for _, ref := range []string{m.RefMessageID, archive.NormalizeMessageID(m.RefMessageID), m.SHA256, m.MessageID} {
		d, err = a.FindDossier(ref)
		if err != nil {
			t.Fatalf("%s: %v", ref, err)
		}
		got := map[string]string{}
		for _, r := range d.Recipients {
			got[r.Address] = r.Status
		}
		if len(d.Messages) != 1 || got["ok@pec.uno.example"] != archive.StatusDelivered || got["ko@pec.due.example"] != archive.StatusFailed {
			t.Fatalf("by %s: messages %d statuses %v", ref, len(d.Messages), got)
		}
	}
}

func TestDeliveryWinsOverFailure(t *testing.T) {
	w, a := setup(t)
	orig := "<conflitto@client.example>"
	at := time.Now().Truncate(time.Second)
	base := pecgen.Spec{OriginalID: orig, Recipients: []string{"x@pec.uno.example", "y@pec.due.example"}, Date: at}
	dir := t.TempDir()
	for name, s := range map[string]pecgen.Spec{
		"acc.eml":  withKind(base, pec.KindAccettazione, ""),
		"fail.eml": withKind(base, pec.KindErroreConsegna, "x@pec.uno.example"),
		"ok.eml":   withKind(base, pec.KindAvvenutaConsegna, "x@pec.uno.example"),
	} {
		raw, err := w.prov.Build(s)
		if err != nil {
			t.Fatal(err)
		}
		writeFiles(t, dir, map[string][]byte{name: raw})
	}
	run(t, a, pec.NewTrustStore(w.ca.Cert), dir)
	d, err := a.FindDossier(orig)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, r := range d.Recipients {
		got[r.Address] = r.Status
	}
	if got["x@pec.uno.example"] != archive.StatusDelivered || got["y@pec.due.example"] != archive.StatusAccepted {
		t.Fatalf("statuses %v", got)
	}
	if len(d.Warnings) != 1 || !strings.Contains(d.Warnings[0], "delivery stands") || len(d.Receipts) != 3 {
		t.Fatalf("warnings %v receipts %d: both kept, with a warning", d.Warnings, len(d.Receipts))
	}
}

func withKind(s pecgen.Spec, k pec.Kind, consegna string) pecgen.Spec {
	s.Kind, s.Consegna = k, consegna
	return s
}

func TestSearchFilters(t *testing.T) {
	w, a := setup(t)
	dir := t.TempDir()
	old := time.Date(2020, 3, 1, 10, 0, 0, 0, time.UTC)
	raws := map[string]pecgen.Spec{
		"a.eml": {Kind: pec.KindPostaCertificata, Sender: "alice@pec.a.example", Recipients: []string{"bob@pec.b.example"}, Subject: "Decreto ingiuntivo", Date: old},
		"b.eml": {Kind: pec.KindAccettazione, Sender: "carol@pec.c.example", Recipients: []string{"dan@pec.d.example"}, Subject: "Preventivo"},
	}
	for name, s := range raws {
		raw, err := w.prov.Build(s)
		if err != nil {
			t.Fatal(err)
		}
		writeFiles(t, dir, map[string][]byte{name: raw})
	}
	run(t, a, nil, dir)
	count := func(q archive.Query) int {
		n := 0
		if err := a.Search(q, func(*archive.Record) error { n++; return nil }); err != nil {
			t.Fatal(err)
		}
		return n
	}
	cases := []struct {
		q    archive.Query
		want int
	}{
		{archive.Query{}, 2},
		{archive.Query{From: "ALICE@pec.a.example"}, 1},
		{archive.Query{To: "dan@pec.d.example"}, 1},
		{archive.Query{Subject: "ingiuntivo"}, 1},
		{archive.Query{Kind: pec.KindAccettazione}, 1},
		{archive.Query{Since: time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC)}, 1},
		{archive.Query{Until: time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC)}, 1},
		{archive.Query{From: "alice@pec.a.example", Kind: pec.KindAccettazione}, 0},
		{archive.Query{Flagged: true}, 2}, // no trust anchors: nothing is valid
	}
	for _, c := range cases {
		if got := count(c.q); got != c.want {
			t.Errorf("%+v: %d, want %d", c.q, got, c.want)
		}
	}
}

func TestUnreadableFileIsNamedAndTheRunGoesOn(t *testing.T) {
	w, a := setup(t)
	dir := t.TempDir()
	raw, _ := w.prov.Build(pecgen.Spec{Kind: pec.KindAccettazione})
	writeFiles(t, dir, map[string][]byte{"ok.eml": raw})
	src := ingest.File{Path: filepath.Join(dir, "gone.eml")}
	good, _ := ingest.Open(dir)
	sum, err := a.Ingest(context.Background(), []ingest.Source{src, good}, archive.IngestOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Errors != 1 || sum.Archived != 1 || !strings.Contains(sum.Failures[0].Source, "gone.eml") {
		t.Fatalf("%+v", sum)
	}
}

func sumOf(b []byte) string {
	return pec.Parse(b, pec.DefaultLimits()).SHA256
}

func readObject(t *testing.T, a *archive.Archive, key string) []byte {
	t.Helper()
	var sb strings.Builder
	if _, err := storage.Copy(context.Background(), a.Store, key, &sb); err != nil {
		t.Fatal(err)
	}
	return []byte(sb.String())
}
