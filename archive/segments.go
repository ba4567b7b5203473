package archive

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/conserva/conserva/segment"
	"github.com/conserva/conserva/storage"
)

// Package format 2 (docs/FORMAT.md) keeps a package's many small files in
// segments (package segment): the metadata and aggregazioni in
// packages/<id>/metadata.tar, version v of the evidence records in
// packages/<id>/ers/records.tar (v = 1) or ers/records.<v>.tar. Each member
// is named as the file was in format 1, relative to the segment's folder,
// so the keys of format 1 (packages/<id>/meta/<sha256>.xml,
// packages/<id>/ers/<name>[.<v>].ers) still name them: readEvidence finds
// a member in its segment, and reads a package of format 1 as before.

const metadataSegment = "metadata.tar"

// ersSegmentKey is the store key of version v of a package's records.
func ersSegmentKey(pkg string, v int) string {
	if v <= 1 {
		return "packages/" + pkg + "/ers/records.tar"
	}
	return "packages/" + pkg + "/ers/records." + strconv.Itoa(v) + ".tar"
}

// segmentOf maps the key of a package file to the segment that holds it in
// format 2, and its member name there.
func segmentOf(key string) (seg, member string, ok bool) {
	rest, ok := strings.CutPrefix(key, "packages/")
	if !ok {
		return "", "", false
	}
	pkg, name, ok := strings.Cut(rest, "/")
	if !ok || !ValidPackageID(pkg) {
		return "", "", false
	}
	switch {
	case strings.HasPrefix(name, "meta/"), strings.HasPrefix(name, "aggregazioni/"):
		return "packages/" + pkg + "/" + metadataSegment, name, true
	case strings.HasPrefix(name, "ers/") && strings.HasSuffix(name, ".ers"):
		file := strings.TrimPrefix(name, "ers/")
		return ersSegmentKey(pkg, ersFileVersion(file)), file, true
	}
	return "", "", false
}

// ersFileVersion is the version in a record's file name: <name>.ers is 1,
// <name>.<v>.ers is v (no object name ends in a dot and digits).
func ersFileVersion(file string) int {
	base := strings.TrimSuffix(file, ".ers")
	if i := strings.LastIndexByte(base, '.'); i >= 0 {
		if v, err := strconv.Atoi(base[i+1:]); err == nil && v > 1 {
			return v
		}
	}
	return 1
}

// errNoSegment: the package has no such segment (format 1, or not written yet).
var errNoSegment = errors.New("no segment")

// segCache keeps the member indexes of the segments read last: segments
// are write-once, so an index never goes stale; absence is not cached (a
// seal writes them).
type segCache struct {
	mu      sync.Mutex
	entries map[string]*segEntry
	order   []string
}

type segEntry struct {
	done chan struct{}
	ix   *segment.Index
	size int64 // of the segment indexed, where known (-1 otherwise)
	err  error
}

// segCacheSize bounds the memory: a 100,000-member index is some 10 MB.
const segCacheSize = 4

// cachedSegment is the member index of a segment and the size of the file
// it was read from (-1 where unknown), from the cache or read now.
func (a *Archive) cachedSegment(ctx context.Context, seg string) (*segment.Index, int64, error) {
	c := a.segs
	if c == nil { // an Archive made without Open: no cache
		return a.readSegmentIndex(ctx, seg)
	}
	c.mu.Lock()
	if c.entries == nil {
		c.entries = map[string]*segEntry{}
	}
	e, ok := c.entries[seg]
	if !ok {
		e = &segEntry{done: make(chan struct{})}
		c.entries[seg] = e
		c.order = append(c.order, seg)
		if len(c.order) > segCacheSize {
			delete(c.entries, c.order[0])
			c.order = c.order[1:]
		}
	}
	c.mu.Unlock()
	if ok {
		<-e.done
		return e.ix, e.size, e.err
	}
	e.ix, e.size, e.err = a.readSegmentIndex(ctx, seg)
	close(e.done)
	if e.err != nil {
		c.forget(seg)
	}
	return e.ix, e.size, e.err
}

func (a *Archive) readSegmentIndex(ctx context.Context, seg string) (*segment.Index, int64, error) {
	rc, err := storage.ReadEvidence(ctx, a.Store, seg)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, -1, errNoSegment
	}
	if err != nil {
		return nil, -1, err
	}
	defer rc.Close()
	ix, err := segment.ReadIndex(rc)
	if err != nil {
		return nil, -1, fmt.Errorf("%s: %w", seg, err)
	}
	return ix, fileSize(rc), nil
}

// fileSize is the size of a local store's file, -1 for other readers.
func fileSize(r io.Reader) int64 {
	if f, ok := r.(*os.File); ok {
		if st, err := f.Stat(); err == nil {
			return st.Size()
		}
	}
	return -1
}

// forget drops a cached index.
func (c *segCache) forget(seg string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.entries, seg)
	for i, k := range c.order {
		if k == seg {
			c.order = append(c.order[:i], c.order[i+1:]...)
			break
		}
	}
}

// readMember opens a package file kept in a segment; errNoSegment when the
// package has no such segment.
func (a *Archive) readMember(ctx context.Context, key, seg, member string) (io.ReadCloser, error) {
	ix, size, err := a.cachedSegment(ctx, seg)
	if err != nil {
		return nil, err
	}
	rc, err := storage.ReadEvidence(ctx, a.Store, seg)
	if err != nil {
		return nil, err
	}
	if size >= 0 && fileSize(rc) != size {
		// Replaced since it was indexed: damage, or a test. Read afresh.
		rc.Close()
		a.segs.forget(seg)
		if ix, _, err = a.cachedSegment(ctx, seg); err != nil {
			return nil, err
		}
		if rc, err = storage.ReadEvidence(ctx, a.Store, seg); err != nil {
			return nil, err
		}
	}
	m, ok := ix.Lookup(member)
	if !ok {
		rc.Close()
		return nil, fmt.Errorf("%s: not in %s: %w", key, seg, storage.ErrNotFound)
	}
	return openMember(rc, seg, m)
}

// openMember is a reader of member m of the segment seg read by rc, which
// it closes.
func openMember(rc io.ReadCloser, seg string, m segment.Member) (io.ReadCloser, error) {
	r, err := segment.Open(rc, m)
	if err != nil {
		rc.Close()
		return nil, fmt.Errorf("%s: %w", seg, err)
	}
	return struct {
		io.Reader
		io.Closer
	}{r, rc}, nil
}

// segmentExists says whether a segment is stored.
func (a *Archive) segmentExists(ctx context.Context, seg string) (bool, error) {
	_, err := a.Store.Stat(ctx, seg)
	if errors.Is(err, storage.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// putSegment stores a segment that fill writes, streamed: nothing of it is
// held in memory. The segment is durable when it returns (one fsync).
func (a *Archive) putSegment(ctx context.Context, key string, mtime time.Time, fill func(w *segment.Writer) error) (storage.PutResult, error) {
	return a.putStream(ctx, key, func(out io.Writer) error {
		w := segment.NewWriter(out, mtime)
		if err := fill(w); err != nil {
			return err
		}
		return w.Close()
	})
}

// packageTime is when a package was begun, from its id: the time of every
// member of its segments, so that a resumed seal writes the same bytes.
func packageTime(pkg string) time.Time {
	t, err := time.Parse("20060102T150405Z", strings.SplitN(pkg, "-", 2)[0])
	if err != nil {
		return time.Unix(0, 0).UTC()
	}
	return t
}
