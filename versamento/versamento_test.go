package versamento_test

import (
	"strings"
	"testing"
	"time"

	"github.com/conserva/conserva/versamento"
)

func sample() *versamento.Report {
	return &versamento.Report{Run: "20261130T100000Z-0a1b2c3d", Created: time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC),
		Started: time.Date(2026, 11, 30, 9, 59, 0, 0, time.UTC), Producer: "Ente", Conservator: "Conservatore",
		Sources: []string{"imaps://protocollo%40ente.it@imap.example/INBOX"}, Seen: 4, Duplicates: 1,
		Entries: []versamento.Entry{
			{ID: strings.Repeat("a", 64), Source: "INBOX;UID=1", Kind: "posta-certificata", Verdict: "valid"},
			{ID: strings.Repeat("b", 64), Source: "INBOX;UID=2", Kind: "accettazione", Verdict: "invalid", Reason: "altered", Flagged: true},
		},
		Refused: []versamento.Refusal{{Source: "INBOX;UID=3", Reason: "reading: connection reset"}}}
}

// What a report says is what it reads back as.
func TestRoundTrip(t *testing.T) {
	in := sample()
	data, err := in.XML()
	if err != nil {
		t.Fatal(err)
	}
	out, err := versamento.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	if out.Run != in.Run || !out.Created.Equal(in.Created) || len(out.Entries) != 2 || out.Flagged() != 1 ||
		out.Entries[1].Reason != "altered" || len(out.Refused) != 1 || out.Seen != 4 || out.Duplicates != 1 || out.Sources[0] != in.Sources[0] {
		t.Fatalf("read back %+v", out)
	}
	for _, bad := range []string{"", "<x/>", `<RapportoDiVersamento xmlns="urn:other"><IdRapporto>1</IdRapporto></RapportoDiVersamento>`,
		strings.Replace(string(data), "<IdRapporto>", "<IdRapportoX>", 1)} {
		if _, err := versamento.Parse([]byte(bad)); err == nil {
			t.Errorf("accepted %.60q", bad)
		}
	}
}

func FuzzParse(f *testing.F) {
	data, _ := sample().XML()
	f.Add(data)
	f.Add([]byte(`<RapportoDiVersamento xmlns="urn:conserva:versamento:1"><IdRapporto>x</IdRapporto><RiferimentoTemporale>2026-01-01T00:00:00Z</RiferimentoTemporale></RapportoDiVersamento>`))
	f.Add([]byte("<"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := versamento.Parse(b)
		if err == nil && (r.Run == "" || r.Created.IsZero()) {
			t.Fatalf("accepted a report without run or time: %+v", r)
		}
	})
}

// A report written from a stream is the report written from the list;
// a stream that gives fewer entries than it counted is refused, never
// written as a shorter report.
func TestStreamedReport(t *testing.T) {
	list := sample()
	want, err := list.XML()
	if err != nil {
		t.Fatal(err)
	}
	streamed := func(count int) *versamento.Report {
		r := sample()
		entries := r.Entries
		flagged := r.Flagged()
		r.Entries = nil
		r.Stream = &versamento.Stream{Count: count, Flagged: flagged, Each: func(fn func(versamento.Entry) error) error {
			for _, e := range entries {
				if err := fn(e); err != nil {
					return err
				}
			}
			return nil
		}}
		return r
	}
	var b strings.Builder
	if err := streamed(len(list.Entries)).WriteXML(&b); err != nil || b.String() != string(want) {
		t.Fatalf("streamed report differs (%v):\n%s\nwant:\n%s", err, b.String(), want)
	}
	b.Reset()
	if err := streamed(len(list.Entries) + 1).WriteXML(&b); err == nil {
		t.Fatal("a stream short of its count was written as a report")
	}
	// The refusals, streamed the same way.
	refusedStream := func(count int) *versamento.Report {
		r := sample()
		refused := r.Refused
		r.Refused = nil
		r.Refusals = &versamento.RefusalStream{Count: count, Each: func(fn func(versamento.Refusal) error) error {
			for _, f := range refused {
				if err := fn(f); err != nil {
					return err
				}
			}
			return nil
		}}
		return r
	}
	b.Reset()
	if err := refusedStream(len(list.Refused)).WriteXML(&b); err != nil || b.String() != string(want) {
		t.Fatalf("report with streamed refusals differs (%v):\n%s\nwant:\n%s", err, b.String(), want)
	}
	b.Reset()
	if err := refusedStream(len(list.Refused) + 1).WriteXML(&b); err == nil {
		t.Fatal("a refusal stream short of its count was written as a report")
	}
}
