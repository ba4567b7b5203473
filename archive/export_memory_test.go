package archive_test

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/conserva/conserva/archive"
	"github.com/conserva/conserva/evidencepack"
	"github.com/conserva/conserva/storage"
)

// TestExportOneMessageBoundedHeap: the evidence pack of one message of a
// sealed package of 4,000 is made holding less than the package's index:
// the index is streamed into the pack and read again as a stream for its
// checks, never held, and only the exported message's place in it is kept
// (before: the index held twice over, and the set of every id it lists).
// A package of 100,000 messages has an index of 145 MB.
func TestExportOneMessageBoundedHeap(t *testing.T) {
	if testing.Short() {
		t.Skip("seals 8,000 messages")
	}
	_, a := setup(t)
	const n = 8000 // an index of 11 MB: the heap, about 3 MB whatever n, stays well under it on a loaded machine
	ingestMany(t, a, n)
	ctx := context.Background()
	pkgs, _, err := a.Seal(ctx, archive.SealOptions{})
	if err != nil || len(pkgs) != 1 {
		t.Fatal(pkgs, err)
	}
	st, err := os.Stat(filepath.Join(packageDir(a, pkgs[0].ID), "index.xml"))
	if err != nil {
		t.Fatal(err)
	}
	var rep *evidencepack.Report
	peak := peakHeap(t, func() { rep, err = a.Export(ctx, "<1234@example.it>", io.Discard, archive.ExportOptions{}) })
	if err != nil || len(rep.Messages) != 1 || !rep.Messages[0].InIndex || !rep.PackIntact || len(rep.Packages) != 1 || !rep.Packages[0].Development {
		t.Fatalf("export: %v %+v", err, rep)
	}
	t.Logf("index.xml: %d KB", st.Size()>>10)
	if bound := uint64(st.Size()); peak > bound {
		t.Errorf("heap peak %d KB exporting one message, over the package's index (%d KB)", peak>>10, bound>>10)
	}
}

// changedOnFirstRead serves key changed (one byte) the first time it is
// read, as a store written to while an export reads it would.
type changedOnFirstRead struct {
	storage.Store
	key  string
	done bool
}

func (s *changedOnFirstRead) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	rc, err := s.Store.Get(ctx, key)
	if err != nil || key != s.key || s.done {
		return rc, err
	}
	s.done = true
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		return nil, err
	}
	data[len(data)/2] ^= 1
	return io.NopCloser(bytes.NewReader(data)), nil
}

// TestExportIndexChangedWhileRead: the index copied into the pack must be
// the one whose signature was checked (it is read twice: streamed into the
// pack, then for its checks); one that is not makes the pack not intact.
func TestExportIndexChangedWhileRead(t *testing.T) {
	_, a := ingestSome(t, 2)
	ctx := context.Background()
	pkgs, _, err := a.Seal(ctx, archive.SealOptions{})
	if err != nil || len(pkgs) != 1 {
		t.Fatal(pkgs, err)
	}
	var id string
	if err := a.Catalog.Scan(func(r *archive.Record) error { id = r.ID; return nil }); err != nil {
		t.Fatal(err)
	}
	a.Store = &changedOnFirstRead{Store: a.Store, key: "packages/" + pkgs[0].ID + "/index.xml"}
	rep, err := a.Export(ctx, id, io.Discard, archive.ExportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.PackIntact || !strings.Contains(strings.Join(rep.Packages[0].Problems, "\n"), "index.xml: the copy in the pack is not the index whose signature was checked") {
		t.Fatalf("a changed index in the pack: intact %v, problems %q", rep.PackIntact, rep.Packages[0].Problems)
	}
}

// TestExportReadsSegmentMembers: export finds a message's metadata and
// evidence record in their segments by reading the headers (not through
// the cached index), and what it finds is checked: a byte changed in the
// metadata, a records segment cut short, a record named twice each make
// the pack not intact; restored, it is intact again.
func TestExportReadsSegmentMembers(t *testing.T) {
	a, p := sealedWithERS(t, 3)
	ids := catalogIDs(a)
	export := func() (*evidencepack.Report, string) {
		t.Helper()
		rep, err := a.Export(context.Background(), ids[0], io.Discard, archive.ExportOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var all []string
		for _, pk := range rep.Packages {
			all = append(all, pk.Problems...)
		}
		return rep, strings.Join(append(all, rep.Notes...), "\n")
	}
	intact := func(when string) {
		t.Helper()
		rep, probs := export()
		for _, m := range rep.Messages {
			if m.ID == ids[0] && (!m.EvidenceRecordOK || !m.InIndex) {
				t.Fatalf("%s: %+v", when, m)
			}
		}
		if !rep.PackIntact {
			t.Fatalf("%s: not intact:\n%s", when, probs)
		}
	}
	intact("as sealed")
	restore := flipMetadata(t, a, p.ID, ids[0])
	if rep, probs := export(); rep.PackIntact || !strings.Contains(probs, "meta/"+ids[0]+".xml: damaged") {
		t.Fatalf("changed metadata inside the segment: intact %v\n%s", rep.PackIntact, probs)
	}
	restore()
	intact("metadata restored")
	restore = cutRecords(t, a, p.ID)
	if rep, probs := export(); rep.PackIntact || !strings.Contains(probs, "evidence record missing") {
		t.Fatalf("records segment cut short: intact %v\n%s", rep.PackIntact, probs)
	}
	restore()
	restore = recordTwice(t, a, p.ID, ids[0])
	if rep, probs := export(); rep.PackIntact || !strings.Contains(probs, "appears twice") {
		t.Fatalf("a record named twice in its segment: intact %v\n%s", rep.PackIntact, probs)
	}
	restore()
	intact("records restored")
}
