package archive

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// A record that bbolt refuses (here an id over its 32 KB key limit) is a
// named error of the run; the rest of its batch is catalogued.
func TestUncataloguableRecordIsNamedError(t *testing.T) {
	a, c := catalogOnly(t)
	good := func(i int) *Record {
		id := strings.Repeat(string(rune('a'+i)), 64)
		return &Record{ID: id, Key: "messages/" + id[:2] + "/" + id + ".eml", Sources: []string{"src"}}
	}
	bad := &Record{ID: strings.Repeat("f", 40000), Key: "messages/ff/bad.eml"}
	batch := []outcome{{source: "one.eml", rec: good(0)}, {source: "huge.eml", rec: bad}, {source: "three.eml", rec: good(2)}}
	var sum IngestSummary
	if err := a.commit(batch, &sum, true); err != nil {
		t.Fatal(err)
	}
	if n, _ := c.Count(); n != 2 || sum.Archived != 2 || sum.Errors != 1 || len(sum.Failures) != 1 ||
		sum.Failures[0].Source != "huge.eml" || !strings.Contains(sum.Failures[0].Error, "not catalogued") {
		t.Fatalf("catalogued %d, summary %+v", n, sum)
	}
}

// The run's summary names the first flagged messages and counts the rest:
// a night of a hundred thousand anomalies does not hold them all (the
// rapporto and `search --flagged` list every one).
func TestIngestSummaryCountsFlaggedBeyondItsList(t *testing.T) {
	a, _ := catalogOnly(t)
	const n = maxMessageProblems + 5
	batch := make([]outcome, n)
	for i := range batch {
		id := fmt.Sprintf("%064x", i+1)
		batch[i] = outcome{source: fmt.Sprintf("m%d.eml", i), rec: &Record{ID: id, Key: "messages/" + id[:2] + "/" + id + ".eml",
			Sources: []string{"src"}, Kind: "anomalia", Flagged: true, FlagReason: "not PEC"}}
	}
	var sum IngestSummary
	if err := a.commit(batch, &sum, true); err != nil {
		t.Fatal(err)
	}
	if sum.Flagged != n || len(sum.FlaggedIDs) != maxMessageProblems || sum.FlaggedOmitted != 5 {
		t.Fatalf("flagged %d, listed %d, omitted %d; want %d, %d, 5", sum.Flagged, len(sum.FlaggedIDs), sum.FlaggedOmitted, n, maxMessageProblems)
	}
	found := 0
	if err := a.Search(Query{Flagged: true}, func(*Record) error { found++; return nil }); err != nil || found != n {
		t.Fatalf("search --flagged found %d (%v), want %d", found, err, n)
	}
}

// catalogOnly is an archive with a catalog and nothing else, closed with the test.
func catalogOnly(t *testing.T) (*Archive, *Catalog) {
	c, err := OpenCatalog(t.TempDir()+"/catalog.db", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &Archive{Catalog: c}, c
}
