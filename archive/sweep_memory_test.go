package archive_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/conserva/conserva/archive"
	"github.com/conserva/conserva/internal/testutil"
	"github.com/conserva/conserva/pec"
	"github.com/conserva/conserva/storage"
)

// peakHeap runs fn while sampling the heap, and returns the most it held
// above what it held before (live objects and garbage not yet swept: the
// GC is made eager for the run, so that this stays near what fn keeps).
func peakHeap(t *testing.T, fn func()) uint64 {
	t.Helper()
	defer debug.SetGCPercent(debug.SetGCPercent(10))
	runtime.GC()
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	read := func() uint64 { metrics.Read(sample); return sample[0].Value.Uint64() }
	base, peak := read(), uint64(0)
	stop, done := make(chan struct{}), make(chan struct{})
	var mu sync.Mutex
	go func() {
		defer close(done)
		for {
			v := read()
			mu.Lock()
			peak = max(peak, v)
			mu.Unlock()
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
			}
		}
	}()
	fn()
	close(stop)
	defer func() { t.Logf("heap peak %d KB above the start", (peak-min(peak, base))>>10) }()
	<-done
	mu.Lock()
	defer mu.Unlock()
	if peak < base {
		return 0
	}
	return peak - base
}

// TestAuditCheckRebuildHoldNoRecordList: audit, catalog check and catalog
// rebuild read the catalog in chunks, never every record at once. 3,000
// records of about 14 KB each (42 MB decoded) whose objects are gone from
// the store: each must be named missing, by audit and check, and kept
// marked by the rebuild, with the heap far below what holding the records
// would take (before: audit and check held every record, the rebuild every
// missing one).
func TestAuditCheckRebuildHoldNoRecordList(t *testing.T) {
	_, a := setup(t)
	const n, bound = 3000, 30 << 20
	pad := strings.Repeat("x", 400)
	for start := 0; start < n; start += 500 {
		var recs []*archive.Record
		for i := start; i < start+500; i++ {
			sum := sha256.Sum256([]byte(fmt.Sprint(i)))
			id := hex.EncodeToString(sum[:])
			to := make([]string, 20)
			for k := range to {
				to[k] = fmt.Sprintf("r%d.%d.%s@pec.example", i, k, pad)
			}
			recs = append(recs, &archive.Record{ID: id, Key: storage.MessageKey(id), Size: 100, Kind: "not-pec", Signature: "absent",
				Subject: fmt.Sprintf("%d %s", i, strings.Repeat(id, 90)), To: to, Sources: []string{"test"}, IngestedAt: time.Now()})
		}
		if _, err := a.Catalog.Insert(recs); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	missing := func(probs []archive.Problem) int {
		c := 0
		for _, p := range probs {
			if p.Problem == "missing from the store" {
				c++
			}
		}
		return c
	}
	var rep archive.AuditReport
	var err error
	if peak := peakHeap(t, func() { rep, err = a.Audit(ctx, 0, nil, nil) }); err != nil || peak > bound {
		t.Errorf("audit: heap peak %d MB over %d MB (err %v)", peak>>20, bound>>20, err)
	}
	if got := missing(rep.Problems); got != n || rep.Catalogued != n {
		t.Errorf("audit names %d of %d messages missing, catalogued %d", got, n, rep.Catalogued)
	}
	var chk archive.CheckReport
	if peak := peakHeap(t, func() { chk, err = a.CheckCatalog(ctx, archive.CheckOptions{}) }); err != nil || peak > bound {
		t.Errorf("catalog check: heap peak %d MB over %d MB (err %v)", peak>>20, bound>>20, err)
	}
	if got := missing(chk.Problems); got != n {
		t.Errorf("catalog check names %d of %d messages missing", got, n)
	}
	var sum archive.RebuildSummary
	if peak := peakHeap(t, func() { sum, err = a.Rebuild(ctx, nil, nil) }); err != nil || peak > bound {
		t.Errorf("rebuild: heap peak %d MB over %d MB (err %v)", peak>>20, bound>>20, err)
	}
	if c, _ := a.Catalog.Count(); sum.Missing != n || c != n {
		t.Errorf("rebuild: %d marked missing, %d records, want %d", sum.Missing, c, n)
	}
}

// TestAuditHoldsNoSealedRecordList: audit checks the evidence record of
// each sealed message as it reads the message back, and holds nothing per
// message for it (before: one trimmed record per sealed message, 90 MB at
// 100,000 messages, some 1.4 KB each with the list of records to check).
// 5,000 sealed messages, every record checked and valid, with the heap
// within the index of the records' segment (some 150 bytes a member) and
// a few MB of work; the old list alone took 7 MB more.
func TestAuditHoldsNoSealedRecordList(t *testing.T) {
	if testing.Short() {
		t.Skip("seals 5,000 messages")
	}
	_, a := setup(t)
	const n, bound = 5000, 6 << 20
	ingestMany(t, a, n)
	ctx := context.Background()
	if pkgs, _, err := a.Seal(ctx, archive.SealOptions{}); err != nil || len(pkgs) != 1 || pkgs[0].Messages != n {
		t.Fatalf("seal: %+v %v", pkgs, err)
	}
	var rep archive.AuditReport
	var err error
	peak := peakHeap(t, func() { rep, err = a.Audit(ctx, 0, pec.NewTrustStore(), nil) })
	if err != nil || len(rep.Problems) != 0 || rep.ERS == nil || rep.ERS.Valid < n || rep.ERS.Checked != rep.ERS.Valid {
		t.Fatalf("audit: %v, %d problems (%v), records %+v", err, len(rep.Problems), rep.Problems[:min(3, len(rep.Problems))], rep.ERS)
	}
	if peak > bound {
		t.Errorf("audit of %d sealed messages: heap peak %d KB over %d KB", n, peak>>10, bound>>10)
	}
}

// TestRebuildListsAtMostMaxFailures: a store that lost every message makes
// the rebuild keep and mark each record, count each as an error, and list
// the first 10,000 failures about messages, the rest counted and said in a
// warning (audit caps its problems alike): the summary does not grow with
// the archive's damage.
func TestRebuildListsAtMostMaxFailures(t *testing.T) {
	_, a := setup(t)
	const n = 10050
	now := time.Now()
	for start := 0; start < n; start += 5000 {
		var recs []*archive.Record
		for i := start; i < min(n, start+5000); i++ {
			sum := sha256.Sum256([]byte(fmt.Sprint(i)))
			id := hex.EncodeToString(sum[:])
			recs = append(recs, &archive.Record{ID: id, Key: storage.MessageKey(id), Size: 100, Kind: "not-pec", Signature: "absent", Sources: []string{"test"}, IngestedAt: now})
		}
		if _, err := a.Catalog.Insert(recs); err != nil {
			t.Fatal(err)
		}
	}
	sum, err := a.Rebuild(context.Background(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c, _ := a.Catalog.Count(); sum.Missing != n || sum.Errors != n || c != n {
		t.Fatalf("rebuild: %d marked missing, %d errors, %d records, want %d", sum.Missing, sum.Errors, c, n)
	}
	warned := false
	for _, w := range sum.Warnings {
		warned = warned || strings.Contains(w, fmt.Sprintf("%d more failures about messages", sum.FailuresOmitted))
	}
	if len(sum.Failures) != 10000 || sum.FailuresOmitted != n-10000 || !warned {
		t.Fatalf("%d failures listed, %d omitted, warnings %q", len(sum.Failures), sum.FailuresOmitted, sum.Warnings)
	}
	for _, f := range sum.Failures[:3] {
		if f.Error != "missing from the store" {
			t.Errorf("failure %+v", f)
		}
	}
}

// ingestMany ingests n small plain messages (not PEC) from one mbox.
func ingestMany(t *testing.T, a *archive.Archive, n int) {
	t.Helper()
	file := testutil.Mbox(t, n)
	if sum := run(t, a, pec.NewTrustStore(), file); sum.Archived != n {
		t.Fatalf("archived %d of %d", sum.Archived, n)
	}
}

// TestRebuildMarksEveryDamagedObject: a store holding more damaged objects
// (bytes not the ones their name promises) than a summary lists makes the
// rebuild keep a damaged record for each one, not only for those listed:
// an ingest's summary caps its failures, a rebuild's reading of the store
// must not.
func TestRebuildMarksEveryDamagedObject(t *testing.T) {
	if testing.Short() {
		t.Skip("10,005 objects")
	}
	_, a := setup(t)
	const n = 10005
	ctx := context.Background()
	for i := range n {
		sum := sha256.Sum256([]byte(fmt.Sprint("promised ", i)))
		id := hex.EncodeToString(sum[:])
		if _, err := a.Store.Put(ctx, storage.MessageKey(id), strings.NewReader(fmt.Sprint("other bytes ", i)), ""); err != nil {
			t.Fatal(err)
		}
	}
	sum, err := a.Rebuild(ctx, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c, _ := a.Catalog.Count(); sum.Damaged != n || c != n {
		t.Fatalf("rebuild: %d marked damaged, %d records, want %d of each", sum.Damaged, c, n)
	}
}
