package archive

import (
	"context"
	"fmt"
	"sync"

	"github.com/conserva/conserva/ingest"
)

// SourceRun is what IngestEach did with one source.
type SourceRun struct {
	Summary IngestSummary
	// Opened is false when the source could not be opened (Err says why).
	Opened bool
	Err    error
}

// IngestEach ingests n sources one ingest each (its own summary, its own
// rapporto di versamento), as `conserva run` reports them, up to
// opts.Sources at once: mailboxes on different servers wait on different
// networks, and one slow mailbox no longer holds up the others. open(i)
// opens the i-th source when its turn comes, so that a connection is made
// only when it is used; sources start in their order. The workers are
// shared out, so that the run does as much at a time as one ingest would.
// Results come in the order of the sources.
func (a *Archive) IngestEach(ctx context.Context, n int, open func(i int) (ingest.Source, error), opts IngestOptions) []SourceRun {
	opts = a.ingestDefaults(opts)
	at := max(1, min(opts.Sources, n))
	each := opts
	each.Workers = max(2, opts.Workers/at)
	var (
		out   = make([]SourceRun, n)
		slots = make(chan struct{}, at)
		wg    sync.WaitGroup
		mu    sync.Mutex // the caller's Progress sees one total, from one call at a time
		total int
	)
	for i := range n {
		slots <- struct{}{} // a cancelled run: each ingest returns at once
		if err := ctx.Err(); err != nil {
			out[i].Err = fmt.Errorf("not read: %w", context.Cause(ctx))
			<-slots
			continue
		}
		wg.Add(1)
		go func() {
			defer func() { <-slots; wg.Done() }()
			src, err := open(i)
			if err != nil {
				out[i].Err = err
				return
			}
			mine := each
			if opts.Progress != nil {
				last := 0
				mine.Progress = func(done int) {
					mu.Lock()
					defer mu.Unlock()
					total += done - last
					last = done
					opts.Progress(total)
				}
			}
			out[i].Opened = true
			out[i].Summary, out[i].Err = a.Ingest(ctx, []ingest.Source{src}, mine)
		}()
	}
	wg.Wait()
	return out
}
