package archive

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/conserva/conserva/ingest"
	"github.com/conserva/conserva/pec"
	"github.com/conserva/conserva/storage"
)

// IngestOptions tune an ingest run.
type IngestOptions struct {
	Trust     *pec.TrustStore
	Workers   int           // parallel hash/parse/verify/store workers; default 4 × cores (stores wait on fsync)
	BatchSize int           // catalog records per write transaction; default 512
	BatchWait time.Duration // longest a finished message waits for its batch; default 250ms
	Sources   int           // sources (mailboxes, paths) read at once; default 4
	// Progress, when set, is called after every message with the number done.
	Progress func(done int)
	// NoStore catalogues without storing: for objects read back from the
	// store itself (catalog rebuild).
	NoStore bool

	// TrustFiles are the SHA-256 of the kept trust files Trust was made
	// of, recorded with each verdict.
	TrustFiles []string
}

// IngestSummary is the outcome of a run. Flagged messages are archived: they
// are findings, not errors.
type IngestSummary struct {
	Seen       int       `json:"seen"`
	Archived   int       `json:"archived"`
	Duplicates int       `json:"duplicates"`
	Flagged    int       `json:"flagged"`
	Errors     int       `json:"errors"`
	Failures   []Failure `json:"failures,omitempty"`
	FlaggedIDs []Flag    `json:"flagged_messages,omitempty"`
	// FlaggedOmitted counts flagged messages beyond the first
	// maxMessageProblems, which FlaggedIDs lists (the rapporto di
	// versamento and `search --flagged` list every one).
	FlaggedOmitted int `json:"flagged_omitted,omitempty"`
	// FailuresOmitted counts failures beyond the first maxMessageProblems,
	// which Failures lists (the rapporto di versamento lists every one).
	FailuresOmitted int `json:"failures_omitted,omitempty"`
	// Report is the run id of the rapporto di versamento (archive/versamento.go).
	Report  string      `json:"report,omitempty"`
	entries *runEntries // what the rapporto lists, on disk
}

// fail counts a message the run could not read, store or catalogue: the
// first maxMessageProblems are listed in Failures, every one in the
// rapporto's list.
func (s *IngestSummary) fail(f Failure) {
	s.Errors++
	if s.entries != nil {
		s.entries.refused.add(f)
	}
	s.list(f)
}

// list adds f to Failures, or counts it past the bound. A catalog
// rebuild (no run's list on disk) keeps every one: it records each object
// that could not be read back as a damaged message, and one left out of
// the list would be damage hidden.
func (s *IngestSummary) list(f Failure) {
	if s.entries == nil || len(s.Failures) < maxMessageProblems {
		s.Failures = append(s.Failures, f)
	} else {
		s.FailuresOmitted++
	}
}

// Failure names a message that could not be read or stored.
type Failure struct {
	Source string `json:"source"`
	Error  string `json:"error"`
}

// Flag names a message archived with a finding.
type Flag struct {
	ID     string `json:"id"`
	Source string `json:"source"`
	Kind   string `json:"kind"`
	Reason string `json:"reason"`
}

var (
	errStoring   = errors.New("storing")
	errStoreDown = errors.New("stopped: the store keeps failing")
)

// maxStoreFails consecutive store failures end a run.
const maxStoreFails = 8

type outcome struct {
	source string
	done   func()  // the item's Done, called once it is catalogued
	rec    *Record // nil on error or on a known duplicate
	dup    bool    // already catalogued before this run looked
	err    error
}

// ingestDefaults fills what opts leaves zero from conserva.toml, else
// the defaults.
func (a *Archive) ingestDefaults(opts IngestOptions) IngestOptions {
	if opts.Workers <= 0 {
		opts.Workers = a.Config.Ingest.Workers
	}
	if opts.Workers <= 0 {
		opts.Workers = 4 * runtime.GOMAXPROCS(0)
		if _, remote := a.Store.(*storage.S3); remote {
			opts.Workers = 32 // each PUT waits for the network, not for the CPU
		}
	}
	if opts.Sources <= 0 {
		opts.Sources = a.Config.Ingest.Sources
	}
	if opts.Sources <= 0 {
		opts.Sources = 4
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = 512
	}
	if opts.BatchWait <= 0 {
		opts.BatchWait = 250 * time.Millisecond
	}
	return opts
}

// Ingest reads every message of the sources, stores it byte for byte and
// catalogues it. Hashing, parsing, verifying and storing run in parallel;
// one writer commits the catalog in batches, each only after the batch's
// objects are durable, so a kill at any moment loses nothing: an object
// stored but not catalogued is adopted by the next run.
func (a *Archive) Ingest(ctx context.Context, sources []ingest.Source, opts IngestOptions) (IngestSummary, error) {
	opts = a.ingestDefaults(opts)
	var ents *runEntries
	if !opts.NoStore {
		var err error
		if ents, err = newRunEntries(a.SpoolDir()); err != nil {
			return IngestSummary{}, fmt.Errorf("the run's list of messages: %w", err)
		}
		defer ents.close()
	}
	// The run stops early when the store keeps failing (a server gone):
	// the remaining messages are simply not read, and the next run takes them.
	parent, started := ctx, time.Now()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	items := make(chan ingest.Item, 4*opts.Workers)
	results := make(chan outcome, 4*opts.Workers)
	var (
		walkErr error
		walkMu  sync.Mutex
		walkers sync.WaitGroup
		slots   = make(chan struct{}, opts.Sources)
	)
	// Several sources are read at once (mailboxes fetched in parallel over
	// their own connections); each source's messages come in its order.
	go func() {
		defer close(items)
		for _, src := range sources {
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
			}
			if ctx.Err() != nil {
				break
			}
			walkers.Add(1)
			go func() {
				defer func() { <-slots; walkers.Done() }()
				err := src.Walk(ctx, func(it ingest.Item) error {
					select {
					case items <- it:
						return nil
					case <-ctx.Done():
						it.Release()
						return ctx.Err()
					}
				})
				if err != nil {
					// One source failing (a mailbox unreachable) does not stop the others.
					walkMu.Lock()
					walkErr = errors.Join(walkErr, fmt.Errorf("%s: %w", src, err))
					walkMu.Unlock()
				}
			}()
		}
		walkers.Wait()
	}()
	var wg sync.WaitGroup
	lim := a.Limits()
	for range opts.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for it := range items {
				o := a.ingestOne(ctx, it, opts, lim)
				it.Release() // its bytes are stored (or refused) and its record made
				results <- o
			}
		}()
	}
	go func() { wg.Wait(); close(results) }()

	var savers []markSaver
	for _, src := range sources {
		if m, ok := src.(markSaver); ok {
			savers = append(savers, m)
		}
	}
	sum, err := a.collect(ctx, cancel, results, opts, savers, ents)
	if err == nil {
		if cause := context.Cause(ctx); cause != nil && errors.Is(cause, errStoreDown) {
			err = cause
		} else if walkErr != nil {
			err = walkErr
		}
	}
	if !opts.NoStore {
		err = errors.Join(err, a.versamento(context.WithoutCancel(parent), sources, started, &sum))
	}
	return sum, err
}

// collect gathers finished messages into batches. Two stages follow, each
// on its own goroutine so that neither waits for the other's disk: the
// syncer makes a batch's objects durable (one pass for the whole batch),
// then hands it to the cataloguer, which records it while the syncer
// already makes the next batch durable. A batch reaches the catalog only
// through the syncer, after its Sync returned.
func (a *Archive) collect(ctx context.Context, stop context.CancelCauseFunc, results <-chan outcome, opts IngestOptions, savers []markSaver, ents *runEntries) (IngestSummary, error) {
	var (
		storeFails int // consecutive
		sum        = IngestSummary{entries: ents}
		batch      []outcome
		done       int
		due        bool // the batch has waited BatchWait
		timer      = time.NewTimer(opts.BatchWait)
		timerOn    = true
		batches    = make(chan []outcome)
		// One durable batch may wait for a busy cataloguer while the next
		// is synced; the cataloguer takes all that wait at once.
		durable   = make(chan []outcome, 1)
		committed = make(chan struct{})
		csum      = IngestSummary{entries: ents} // the cataloguer's
		serr      error                          // the syncer's, read once it is done
		werr      error                          // the cataloguer's, read once it is done
	)
	go func() {
		defer close(durable)
		for b := range batches {
			if serr == nil { // after a failed Sync nothing more is handed on
				if serr = a.syncStored(ctx, !opts.NoStore); serr != nil {
					serr = fmt.Errorf("making stored objects durable: %w", serr)
					continue
				}
				durable <- b
			}
		}
	}()
	go func() {
		defer close(committed)
		for b := range durable {
			// The batches synced meanwhile go in the same transactions.
			for more := true; more; {
				select {
				case m, ok := <-durable:
					if !ok {
						more = false
						break
					}
					b = append(b, m...)
				default:
					more = false
				}
			}
			if werr == nil { // after a catalog failure nothing more is recorded
				werr = a.commit(b, &csum, !opts.NoStore)
				saveMarks(savers)
			}
		}
		saveMarks(savers) // duplicates at the end of a mailbox
	}()
	// handoff gives the batch to the syncer; unless wait, only when it
	// is idle (else the batch grows and goes as one).
	handoff := func(wait bool) bool {
		if len(batch) == 0 {
			return true
		}
		if wait {
			batches <- batch
		} else {
			select {
			case batches <- batch:
			default:
				return false
			}
		}
		batch, due = nil, false
		return true
	}
	arm := func(d time.Duration) {
		if !timerOn {
			timer.Reset(d)
			timerOn = true
		}
	}
	for {
		select {
		case o, ok := <-results:
			if !ok {
				handoff(true)
				close(batches)
				<-committed
				sum.add(csum)
				return sum, errors.Join(serr, werr)
			}
			sum.Seen++
			switch {
			case o.err != nil:
				sum.fail(Failure{Source: o.source, Error: o.err.Error()})
				if errors.Is(o.err, errStoring) {
					if storeFails++; storeFails == maxStoreFails {
						stop(fmt.Errorf("%w: %d failures in a row, the last: %v", errStoreDown, storeFails, o.err))
					}
				}
			case o.dup:
				sum.Duplicates++
				if o.done != nil {
					o.done()
				}
			default:
				storeFails = 0
				batch = append(batch, o)
			}
			done++
			if opts.Progress != nil {
				opts.Progress(done)
			}
			// A bound on what waits in memory for a busy committer.
			if len(batch) >= 4*opts.BatchSize {
				handoff(true)
			} else if len(batch) >= opts.BatchSize || due {
				handoff(false)
			}
			arm(opts.BatchWait)
		case <-timer.C:
			timerOn = false
			due = true
			if !handoff(false) {
				arm(opts.BatchWait / 8) // try again soon, even if no message comes
			}
		}
	}
}

// markSaver is a source that keeps a position (IMAP UIDs), saved after
// each commit rather than once per message.
type markSaver interface{ SaveMarks() error }

func saveMarks(savers []markSaver) {
	for _, m := range savers {
		_ = m.SaveMarks() // a mark saved late only means a refetch next time
	}
}

// add counts what the committer did into s (Seen is counted once, by collect).
func (s *IngestSummary) add(c IngestSummary) {
	s.Archived += c.Archived
	s.Duplicates += c.Duplicates
	s.Flagged += c.Flagged
	s.Errors += c.Errors
	for _, f := range c.Failures { // each side listed up to the bound: together too
		s.list(f)
	}
	s.FailuresOmitted += c.FailuresOmitted
	s.FlaggedIDs = append(s.FlaggedIDs, c.FlaggedIDs...)
	s.FlaggedOmitted += c.FlaggedOmitted
	if c.entries != nil {
		s.entries = c.entries
	}
}

// catalogChunk bounds the records of one catalog transaction. Ids and
// Message-IDs are random keys: a transaction changes pages all over the
// catalog, and each page read through the mapping brings its neighbours
// with it (the kernel maps 64 KB around a fault). A batch that waited for
// a busy committer (up to 2,048) made 60 MB of the catalog resident at
// 100,000 messages; chunks of 256, each released after its commit (once
// the catalog is larger than keepMapped), keep that bounded for a few more
// catalog syncs. Releasing by resident size instead (every 16 records,
// when /proc/self/statm had grown by a bound) was measured at 100,000: at
// 32 MB it faulted a quarter less but peaked 3-7 MB higher; at 24 MB a
// chunk's own pages went before its commit and came back (a fifth more
// faults): a chunk's pages are about all the bound allows.
const catalogChunk = 256

// commit records a batch whose objects are durable.
func (a *Archive) commit(batch []outcome, sum *IngestSummary, stored bool) error {
	for len(batch) > 0 {
		n := min(len(batch), catalogChunk)
		if err := a.catalogue(batch[:n], sum, stored); err != nil {
			return err
		}
		_ = a.Catalog.releaseLarge() // memory only: a failure changes nothing else
		batch = batch[n:]
	}
	return nil
}

// catalogue records durable objects in one transaction; stored is false
// for a catalog rebuild (counts only in the summary).
func (a *Archive) catalogue(batch []outcome, sum *IngestSummary, stored bool) error {
	recs := make([]*Record, len(batch))
	for i, o := range batch {
		recs[i] = o.rec
	}
	added, err := a.Catalog.Insert(recs)
	failed := make([]bool, len(recs))
	if err != nil {
		// One record must never strand the batch (nor every later one):
		// retry one by one and name what still cannot be catalogued.
		added, failed, err = a.insertEach(recs, batch, sum)
		if err != nil {
			return fmt.Errorf("writing the catalog: %w", err)
		}
	}
	for i, o := range batch {
		if o.done != nil && !failed[i] {
			o.done()
		}
	}
	for i, r := range recs {
		if failed[i] {
			continue
		}
		if !added[i] {
			sum.Duplicates++
			continue
		}
		sum.Archived++
		if r.Flagged {
			sum.Flagged++
		}
		if !stored {
			continue // a catalog rebuild: no rapporto, no list, counts only
		}
		if sum.entries != nil {
			sum.entries.add(runEntry{ID: r.ID, Source: batch[i].source, Kind: string(r.Kind), Verdict: string(r.Signature), Reason: r.Reason, Flagged: r.Flagged})
		}
		if r.Flagged && len(sum.FlaggedIDs) >= maxMessageProblems {
			sum.FlaggedOmitted++ // a list that grew with the run: counted, not held
		} else if r.Flagged {
			sum.FlaggedIDs = append(sum.FlaggedIDs, Flag{ID: r.ID, Source: batch[i].source, Kind: string(r.Kind), Reason: r.FlagReason})
		}
	}
	return nil
}

// ingestOne hashes, parses, verifies and stores one message.
func (a *Archive) ingestOne(ctx context.Context, it ingest.Item, opts IngestOptions, lim pec.Limits) outcome {
	o := outcome{source: it.Source, done: it.Done}
	if it.Size > lim.MaxSize {
		return a.ingestLarge(ctx, it, opts, lim, pec.TooLarge)
	}
	if b, held := it.Held(); held && it.Size <= int64(lim.MaxHeaderBytes) {
		return a.ingestRaw(ctx, o, it, opts, lim, b) // read whole by the walk: not opened again
	}
	rc, err := it.Open()
	if err != nil {
		o.err = err
		return o
	}
	var raw []byte
	if it.Size >= 0 && it.Size <= int64(lim.MaxHeaderBytes) {
		raw, err = readAllSized(rc, it.Size, lim.MaxSize)
	} else {
		// A header block over the limit is not parsed: such a message is
		// streamed like an oversized one, never held in memory.
		var head []byte
		head, err = readHead(rc, lim.MaxHeaderBytes+2)
		if err == nil && pec.HeaderTooLong(head, lim) {
			rc.Close()
			return a.ingestLarge(ctx, it, opts, lim, pec.HeaderTooLarge)
		}
		if err == nil && it.Size > spoolOver {
			rc.Close()
			return a.ingestSpooled(ctx, it, opts, lim)
		}
		if err == nil {
			raw, err = readAllSized(io.MultiReader(bytes.NewReader(head), rc), it.Size, lim.MaxSize)
		}
	}
	rc.Close()
	if err != nil {
		o.err = fmt.Errorf("reading: %w", err)
		return o
	}
	return a.ingestRaw(ctx, o, it, opts, lim, raw)
}

// ingestRaw is ingestOne for a message read into memory.
func (a *Archive) ingestRaw(ctx context.Context, o outcome, it ingest.Item, opts IngestOptions, lim pec.Limits, raw []byte) outcome {
	if int64(len(raw)) > lim.MaxSize {
		// The size was unknown or has grown: stream it instead.
		return a.ingestLarge(ctx, it, opts, lim, pec.TooLarge)
	}
	// Hashed once: the store takes the hash with the bytes.
	hb := storage.NewHashed(raw)
	if a.arrived(&o, it, hb.Hex()) {
		return o
	}
	m := pec.ParseHashed(raw, hb.Sum(), lim)
	return a.storeParsed(ctx, o, it, opts, m, m.Verify(opts.Trust), hb.Reader())
}

// arrived checks a message's hash against the one its source announced (a
// mismatch is damage, reported) and whether it is catalogued already; true
// means there is nothing more to do with it.
func (a *Archive) arrived(o *outcome, it ingest.Item, id string) bool {
	if it.WantSHA256 != "" && id != it.WantSHA256 {
		o.err = fmt.Errorf("damaged: content hashes to %s, not %s", id, it.WantSHA256)
		return true
	}
	if known, err := a.Catalog.Has(id); err == nil && known {
		o.dup = true
		return true
	}
	return false
}

// storeParsed stores a parsed and verified message's bytes (read from body)
// and makes its record.
func (a *Archive) storeParsed(ctx context.Context, o outcome, it ingest.Item, opts IngestOptions, m *pec.Message, v pec.Verification, body io.Reader) outcome {
	version := it.Version
	if !opts.NoStore {
		res, err := a.putMessage(ctx, m.SHA256, body)
		if err != nil {
			o.err = fmt.Errorf("%w: %w", errStoring, err)
			return o
		}
		version = res.VersionID
	}
	o.rec = newRecord(m, v, it.Source, time.Now().UTC())
	a.describeAgID(ctx, o.rec, m, opts.NoStore)
	o.rec.History[0].Trust = opts.TrustFiles
	o.rec.VersionID = version
	return o
}

// putMessage stores a message. Where the store can, it does not wait for
// the disk object by object (an fsync each was most of an ingest's time):
// commit makes the whole batch durable in one pass, then catalogues it.
func (a *Archive) putMessage(ctx context.Context, id string, r io.Reader) (storage.PutResult, error) {
	if d, ok := a.Store.(storage.DeferredPutter); ok {
		return d.PutDeferred(ctx, storage.MessageKey(id), r, id)
	}
	return a.Store.Put(ctx, storage.MessageKey(id), r, id)
}

// syncStored makes every object put so far durable: the deferred ones
// (when stored), else the directory entries of the synced ones.
func (a *Archive) syncStored(ctx context.Context, stored bool) error {
	if d, ok := a.Store.(storage.DeferredPutter); ok && stored {
		return d.Sync(ctx)
	}
	if s, ok := a.Store.(storage.DirSyncer); ok {
		return s.SyncDirs(ctx)
	}
	return nil
}

// ingestLarge handles a message over the parse limits in constant memory:
// one pass to hash it, one to store it. It is archived and flagged, as
// describe says.
func (a *Archive) ingestLarge(ctx context.Context, it ingest.Item, opts IngestOptions, lim pec.Limits,
	describe func(sha256Hex string, size int64, lim pec.Limits) *pec.Message) outcome {
	o := outcome{source: it.Source, done: it.Done}
	rc, err := it.Open()
	if err != nil {
		o.err = err
		return o
	}
	h := sha256.New()
	n, err := io.Copy(h, rc)
	rc.Close()
	if err != nil {
		o.err = fmt.Errorf("reading: %w", err)
		return o
	}
	id := hex.EncodeToString(h.Sum(nil))
	if a.arrived(&o, it, id) {
		return o
	}
	version := it.Version
	if !opts.NoStore {
		rc, err = it.Open()
		if err != nil {
			o.err = err
			return o
		}
		defer rc.Close()
		// The announced hash makes the store refuse a source that changed
		// between the two passes.
		res, err := a.Store.Put(ctx, storage.MessageKey(id), rc, id)
		if err != nil {
			o.err = fmt.Errorf("%w: %w", errStoring, err)
			return o
		}
		version = res.VersionID
	}
	m := describe(id, n, lim)
	o.rec = newRecord(m, m.Verify(opts.Trust), it.Source, time.Now().UTC())
	a.describeAgID(ctx, o.rec, m, opts.NoStore)
	o.rec.History[0].Trust = opts.TrustFiles
	o.rec.VersionID = version
	return o
}

// readHead reads the first n bytes (fewer at the end of r).
func readHead(r io.Reader, n int) ([]byte, error) {
	buf := make([]byte, n)
	k, err := io.ReadFull(r, buf)
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		err = nil
	}
	return buf[:k], err
}

// readAllSized reads up to max+1 bytes, in one allocation when the size is
// known (io.ReadAll's growing buffer costs more than the hashing).
func readAllSized(r io.Reader, size, max int64) ([]byte, error) {
	if size < 0 || size > max {
		return io.ReadAll(io.LimitReader(r, max+1))
	}
	buf := make([]byte, size+1) // +1 notices a file that grew
	n, err := io.ReadFull(r, buf)
	if err == io.ErrUnexpectedEOF || err == io.EOF {
		return buf[:n], nil
	}
	if err != nil {
		return nil, err
	}
	rest, err := io.ReadAll(io.LimitReader(r, max+1-int64(n)))
	return append(buf[:n], rest...), err
}

// insertEach catalogues a batch record by record, after the batch as a
// whole failed. A record refused on its own is a named error of the run;
// an error for every record is the catalog's own failure.
func (a *Archive) insertEach(recs []*Record, batch []outcome, sum *IngestSummary) (Added, []bool, error) {
	added := make(Added, len(recs))
	failed := make([]bool, len(recs))
	errs := make([]error, len(recs))
	for i, r := range recs {
		ok, err := a.Catalog.Insert([]*Record{r})
		if err != nil {
			failed[i], errs[i] = true, err
			continue
		}
		added[i] = ok[0]
	}
	if len(recs) > 1 && !slices.Contains(failed, false) {
		return nil, nil, errs[0]
	}
	for i, r := range recs {
		if failed[i] {
			sum.fail(Failure{Source: batch[i].source, Error: fmt.Sprintf("stored as %s but not catalogued: %v", r.Key, errs[i])})
		}
	}
	return added, failed, nil
}
