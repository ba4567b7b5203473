package archive_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

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

// pipeWatch is the local store with its Syncs checked from inside: while
// a Sync runs, the catalog holds no object that a returned Sync has not
// made durable.
type pipeWatch struct {
	*storage.Local
	cat     *archive.Catalog
	mu      sync.Mutex
	pending map[string]bool
	durable map[string]bool
	syncs   int
	second  chan struct{} // closed when the second Sync begins
	bad     []string
}

func (s *pipeWatch) PutDeferred(ctx context.Context, key string, r io.Reader, want string) (storage.PutResult, error) {
	res, err := s.Local.PutDeferred(ctx, key, r, want)
	if err == nil {
		s.mu.Lock()
		s.pending[key] = true
		s.mu.Unlock()
	}
	return res, err
}

func (s *pipeWatch) Sync(ctx context.Context) error {
	s.mu.Lock()
	if s.syncs++; s.syncs == 2 {
		close(s.second)
	}
	covered := s.pending // put before this Sync began: durable when it returns
	s.pending = map[string]bool{}
	s.mu.Unlock()
	err := s.cat.Scan(func(r *archive.Record) error {
		s.mu.Lock()
		defer s.mu.Unlock()
		if !s.durable[r.Key] {
			s.bad = append(s.bad, r.Key)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := s.Local.Sync(ctx); err != nil {
		return err
	}
	s.mu.Lock()
	for k := range covered {
		s.durable[k] = true
	}
	s.mu.Unlock()
	return nil
}

// holdFirst is a source whose first catalogued message (its Done, called
// by the cataloguer after the transaction) waits until the second Sync has
// begun: only a syncer running beside the cataloguer lets that happen.
type holdFirst struct {
	ingest.Source
	second <-chan struct{}
	once   sync.Once
	waited bool // gave up: the second Sync never began meanwhile
}

func (h *holdFirst) Walk(ctx context.Context, fn func(ingest.Item) error) error {
	return h.Source.Walk(ctx, func(it ingest.Item) error {
		it.Done = func() {
			h.once.Do(func() {
				select {
				case <-h.second:
				case <-time.After(30 * time.Second): // never, unless the stages wait for each other
					h.waited = true
				}
			})
		}
		return fn(it)
	})
}

// The syncer and the cataloguer run side by side (a batch is catalogued
// while the next one is made durable), and still no record reaches the
// catalog before the Sync covering its object has returned.
func TestPipelinedCommitCataloguesOnlyDurable(t *testing.T) {
	w, a := setup(t)
	src := t.TempDir()
	files := map[string][]byte{}
	const n = 200
	for i := range n {
		raw, err := w.prov.Build(pecgen.Spec{Kind: pec.KindPostaCertificata, Subject: fmt.Sprint("pipeline ", i)})
		if err != nil {
			t.Fatal(err)
		}
		files[fmt.Sprintf("%03d.eml", i)] = raw
	}
	writeFiles(t, src, files)
	watch := &pipeWatch{Local: a.Store.(*storage.Local), cat: a.Catalog, pending: map[string]bool{}, durable: map[string]bool{}, second: make(chan struct{})}
	a.Store = watch
	s, err := ingest.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	held := &holdFirst{Source: s, second: watch.second}
	sum, err := a.Ingest(context.Background(), []ingest.Source{held}, archive.IngestOptions{Trust: pec.NewTrustStore(w.ca.Cert), BatchSize: 10, Workers: 2})
	if err != nil || sum.Archived != n {
		t.Fatalf("%+v %v", sum, err)
	}
	if len(watch.bad) > 0 {
		t.Fatalf("catalogued before a Sync made them durable: %v", watch.bad)
	}
	if held.waited || watch.syncs < 2 {
		t.Fatalf("the second Sync (of %d) did not begin while the first batch was being catalogued: the stages wait for each other", watch.syncs)
	}
	err = a.Catalog.Scan(func(r *archive.Record) error {
		if !watch.durable[r.Key] {
			return fmt.Errorf("%s catalogued, never synced", r.Key)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
