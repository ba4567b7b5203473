package archive_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"

	"github.com/conserva/conserva/archive"
	"github.com/conserva/conserva/ingest"
	"github.com/conserva/conserva/internal/pecgen"
	"github.com/conserva/conserva/pec"
	"github.com/conserva/conserva/storage"
)

// syncWatch is the local store with its group commits watched: objects
// put without an fsync are durable only once a Sync returns, and the
// Syncs after the first okSyncs fail as a dying disk would.
type syncWatch struct {
	*storage.Local
	mu       sync.Mutex
	pending  map[string]bool
	durable  map[string]bool
	syncs    int
	okSyncs  int
	deferred int
}

func (s *syncWatch) PutDeferred(ctx context.Context, key string, r io.Reader, want string) (storage.PutResult, error) {
	res, err := s.Local.PutDeferred(ctx, key, r, want)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err == nil {
		s.pending[key] = true
		s.deferred++
	}
	return res, err
}

func (s *syncWatch) Sync(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.syncs++
	if s.syncs > s.okSyncs {
		return errors.New("disk gone")
	}
	// Whatever was put before this Sync began is durable when it returns.
	for k := range s.pending {
		s.durable[k] = true
	}
	s.pending = map[string]bool{}
	return s.Local.Sync(ctx)
}

// The grouped ingest (objects put without an fsync each, one Sync per
// batch) catalogues only objects a Sync made durable: when the disk fails
// at the third Sync, what the first two covered is catalogued, nothing else,
// and the run says so; the next run takes the rest.
func TestGroupCommitCataloguesOnlyDurable(t *testing.T) {
	w, a := setup(t)
	src := t.TempDir()
	files := map[string][]byte{}
	const n = 300
	for i := range n {
		raw, err := w.prov.Build(pecgen.Spec{Kind: pec.KindPostaCertificata, Subject: fmt.Sprint("gruppo ", i)})
		if err != nil {
			t.Fatal(err)
		}
		files[fmt.Sprintf("%03d.eml", i)] = raw
	}
	writeFiles(t, src, files)
	local := a.Store.(*storage.Local)
	watch := &syncWatch{Local: local, pending: map[string]bool{}, durable: map[string]bool{}, okSyncs: 2}
	a.Store = watch
	s, err := ingest.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	trust := pec.NewTrustStore(w.ca.Cert)
	sum, err := a.Ingest(context.Background(), []ingest.Source{s}, archive.IngestOptions{Trust: trust, BatchSize: 20})
	if err == nil {
		t.Fatalf("a failing Sync went unnoticed: %+v", sum)
	}
	if watch.deferred == 0 {
		t.Fatal("no object was put without its own fsync: the ingest is not grouped")
	}
	catalogued := 0
	err = a.Catalog.Scan(func(r *archive.Record) error {
		catalogued++
		if !watch.durable[r.Key] {
			return fmt.Errorf("%s catalogued before any Sync made it durable", r.Key)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if catalogued == 0 || catalogued >= n || sum.Archived != catalogued {
		t.Fatalf("catalogued %d of %d, summary says %d archived (want the two good batches only)", catalogued, n, sum.Archived)
	}
	// The disk is back: the next run catalogues the rest, storing nothing twice.
	a.Store = local
	sum, err = a.Ingest(context.Background(), []ingest.Source{s}, archive.IngestOptions{Trust: trust, BatchSize: 20})
	if err != nil || sum.Archived != n-catalogued || sum.Duplicates != catalogued {
		t.Fatalf("second run: %+v %v", sum, err)
	}
	stored := 0
	local.List(context.Background(), "messages/", func(storage.Info) error { stored++; return nil })
	if c, _ := a.Catalog.Count(); c != n || stored != n {
		t.Fatalf("after the second run: %d catalogued, %d stored, want %d", c, stored, n)
	}
}
