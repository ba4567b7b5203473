package archive_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/conserva/conserva/archive"
	"github.com/conserva/conserva/ingest"
	"github.com/conserva/conserva/internal/pecgen"
	"github.com/conserva/conserva/pec"
)

// meetSource is a mailbox that gives its messages only once the others of
// its group are being read too: read one after another, the first waits
// for the rest, which never start, and the run fails.
type meetSource struct {
	name  string
	msgs  [][]byte
	group *meeting
	live  *atomic.Int32 // sources being read now
	most  *atomic.Int32 // the most read at once
}

type meeting struct {
	wg   sync.WaitGroup
	done chan struct{}
}

func newMeeting(n int) *meeting {
	m := &meeting{done: make(chan struct{})}
	m.wg.Add(n)
	go func() { m.wg.Wait(); close(m.done) }()
	return m
}

func (s *meetSource) String() string { return s.name }

func (s *meetSource) Walk(ctx context.Context, fn func(ingest.Item) error) error {
	now := s.live.Add(1)
	defer s.live.Add(-1)
	for {
		most := s.most.Load()
		if now <= most || s.most.CompareAndSwap(most, now) {
			break
		}
	}
	s.group.wg.Done()
	select {
	case <-s.group.done:
	case <-time.After(20 * time.Second):
		return errors.New("the other sources of the run were not read meanwhile")
	case <-ctx.Done():
		return ctx.Err()
	}
	for i, raw := range s.msgs {
		it := ingest.NewItem(fmt.Sprintf("%s/%d.eml", s.name, i), int64(len(raw)), func() (io.ReadCloser, error) {
			return io.NopCloser(bytes.NewReader(raw)), nil
		})
		if err := fn(it); err != nil {
			return err
		}
	}
	return nil
}

// TestIngestEachReadsSourcesAtOnce: a nightly run reads its mailboxes
// [ingest] sources at a time, in their order, each with its own summary and
// rapporto, results in the order configured; a source that cannot be opened
// is named and the others are read.
func TestIngestEachReadsSourcesAtOnce(t *testing.T) {
	w, a := setup(t)
	var live, most atomic.Int32
	pairs := []*meeting{newMeeting(2), newMeeting(2)}
	var srcs []*meetSource
	for i := range 4 {
		s := &meetSource{name: fmt.Sprintf("mailbox-%d", i), group: pairs[i/2], live: &live, most: &most}
		for j := range i + 1 { // source i holds i+1 messages: the results' order shows
			raw, err := w.prov.Build(pecgen.Spec{Kind: pec.KindPostaCertificata, Subject: fmt.Sprintf("Casella %d messaggio %d", i, j)})
			if err != nil {
				t.Fatal(err)
			}
			s.msgs = append(s.msgs, raw)
		}
		srcs = append(srcs, s)
	}
	// Source 4 cannot be opened (a password missing, a server refusing).
	var progress atomic.Int64
	ran := a.IngestEach(context.Background(), 5, func(i int) (ingest.Source, error) {
		if i == 4 {
			return nil, errors.New("no password for mailbox-4")
		}
		return srcs[i], nil
	}, archive.IngestOptions{Trust: pec.NewTrustStore(), Sources: 2, Progress: func(done int) { progress.Store(int64(done)) }})
	if len(ran) != 5 {
		t.Fatalf("%d results for 5 sources", len(ran))
	}
	reports := map[string]bool{}
	for i, r := range ran[:4] {
		if !r.Opened || r.Err != nil || r.Summary.Archived != i+1 || r.Summary.Report == "" {
			t.Fatalf("source %d: opened %v, err %v, archived %d (want %d), rapporto %q", i, r.Opened, r.Err, r.Summary.Archived, i+1, r.Summary.Report)
		}
		reports[r.Summary.Report] = true
	}
	if len(reports) != 4 {
		t.Fatalf("4 sources gave %d rapporti", len(reports))
	}
	if r := ran[4]; r.Opened || r.Err == nil {
		t.Fatalf("the source that could not be opened: opened %v, err %v", r.Opened, r.Err)
	}
	if m := most.Load(); m != 2 {
		t.Fatalf("%d sources read at once with [ingest] sources = 2", m)
	}
	if got := progress.Load(); got != 10 {
		t.Fatalf("progress ended at %d of 10 messages", got)
	}
	if n, err := a.Catalog.Count(); err != nil || n != 10 {
		t.Fatalf("catalog holds %d (%v), want 10", n, err)
	}
}

// A run stopped (SIGTERM from systemd) opens no further source: each is
// named as not read.
func TestIngestEachStopped(t *testing.T) {
	_, a := setup(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	opened := 0
	ran := a.IngestEach(ctx, 3, func(int) (ingest.Source, error) { opened++; return nil, errors.New("opened") }, archive.IngestOptions{Sources: 1})
	for i, r := range ran {
		if r.Opened || !errors.Is(r.Err, context.Canceled) {
			t.Fatalf("source %d of a stopped run: opened %v, err %v", i, r.Opened, r.Err)
		}
	}
	if opened != 0 {
		t.Fatalf("a stopped run opened %d sources", opened)
	}
}
