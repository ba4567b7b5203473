package archive

import (
	"errors"
	"fmt"
	"time"

	"github.com/conserva/conserva/catalog"
)

// The catalog is package catalog; these names keep the archive's callers
// (and cmd, web) as they were.
type (
	Record          = catalog.Record
	VerdictEvent    = catalog.VerdictEvent
	Attachment      = catalog.Attachment
	Query           = catalog.Query
	Tally           = catalog.Tally
	Added           = catalog.Added
	IncompleteError = catalog.IncompleteError
)

// ErrBusy: another process holds the catalog.
var ErrBusy = catalog.ErrBusy

// ErrCatalogDamaged: the catalog file cannot be read (catalog.ErrDamaged).
var ErrCatalogDamaged = catalog.ErrDamaged

// Limits on what the catalog copies from a message (catalog.CapRecord).
const (
	MaxFieldBytes = catalog.MaxFieldBytes
	MaxListFields = catalog.MaxListFields
)

// Catalog is the archive's catalog: package catalog's, with what the
// archive keeps in its side buckets typed as the archive knows them
// (packages, audits, runs, users), and a rebuild's spool.
type Catalog struct {
	*catalog.Catalog
	// spool, while a rebuild fills the catalog, takes what Insert is
	// given: the catalog is loaded from it at once (rebuild_spool.go).
	spool *recordSpool
}

// The side buckets the archive keeps in the catalog.
const (
	bucketMeta     = catalog.BucketMeta
	bucketPackages = catalog.BucketPackages
	bucketSources  = catalog.BucketSources
	bucketUsers    = catalog.BucketUsers
	bucketAudits   = catalog.BucketAudits
	bucketTrust    = catalog.BucketTrust
	bucketReports  = catalog.BucketReports
	bucketScarto   = catalog.BucketScarto
	bucketRuns     = catalog.BucketRuns
)

// OpenCatalog opens (creating) the catalog, migrating one of an older
// format. It waits at most timeout for another process to release it.
func OpenCatalog(path string, timeout time.Duration) (*Catalog, error) {
	return wrapCatalog(catalog.Open(path, timeout))
}

// OpenCatalogReadOnly opens an existing catalog for reading, with a shared
// lock, waiting at most timeout for a writer to finish.
func OpenCatalogReadOnly(path string, timeout time.Duration) (*Catalog, error) {
	return wrapCatalog(catalog.OpenReadOnly(path, timeout))
}

func wrapCatalog(c *catalog.Catalog, err error) (*Catalog, error) {
	if err != nil {
		return nil, err
	}
	return &Catalog{Catalog: c}, nil
}

// LoadCatalog makes a new catalog at path from records 0…n-1, fast
// (catalog.Load with catalog.BulkLoad): how large synthetic catalogs are
// made (internal/catbench).
func LoadCatalog(path, tmp string, n int, record func(i int) *Record) error {
	return catalog.Load(path, tmp, n, record, catalog.BulkLoad)
}

// NormalizeMessageID strips blanks and angle brackets, so that
// "<a@b>", "a@b" and " <a@b> " name the same message.
func NormalizeMessageID(id string) string { return catalog.NormalizeMessageID(id) }

// QueryMatches says whether r satisfies every condition of q (what Search
// checks on each record its index gives).
func QueryMatches(q Query, r *Record) bool { return q.Matches(r) }

// Search calls fn for every record matching q, one at a time, as it reads
// them (catalog.Catalog.Search).
func (a *Archive) Search(q Query, fn func(*Record) error) error {
	return a.Catalog.Search(q, fn)
}

// Insert adds records (catalog.Catalog.Insert), or spools them while a
// rebuild fills the catalog.
func (c *Catalog) Insert(recs []*Record) (Added, error) {
	if c.spool != nil {
		return c.spool.add(recs)
	}
	return c.Catalog.Insert(recs)
}

// Packages calls fn for every sealed package, in id (time) order.
func (c *Catalog) Packages(fn func(PackageRecord) error) error {
	return c.Each(bucketPackages, false, func(k, v []byte) error {
		var p PackageRecord
		if err := jsonUnmarshal(v, &p); err != nil {
			return damagedValue("catalog package", k, err)
		}
		return fn(p)
	})
}

// getJSON, putJSON and deleteKey keep small JSON values in a side bucket.
func (c *Catalog) getJSON(bucket catalog.Bucket, key string, v any) (bool, error) {
	return c.GetJSON(bucket, key, v)
}

func (c *Catalog) putJSON(bucket catalog.Bucket, key string, v any) error {
	return c.PutJSON(bucket, key, v)
}

func (c *Catalog) deleteKey(bucket catalog.Bucket, key string) error { return c.Delete(bucket, key) }

// forEachJSON calls fn with every value of a side bucket.
func (c *Catalog) forEachJSON(bucket catalog.Bucket, fn func(k string, v []byte) error) error {
	return c.Each(bucket, false, func(k, v []byte) error { return fn(string(k), v) })
}

func (c *Catalog) records(ids []string) ([]*Record, error) { return c.Records(ids) }

// checkPages and checkIndexes are the catalog's own checks, as audit
// problems of catalog.db.
func (c *Catalog) checkPages() []Problem { return catalogProblems(c.CheckPages()) }

func (c *Catalog) checkIndexes() []Problem { return catalogProblems(c.CheckIndexes()) }

func catalogProblems(found []string) []Problem {
	var probs []Problem
	for _, p := range found {
		probs = append(probs, Problem{Key: "catalog.db", Problem: p})
	}
	return probs
}

// releaseAbove is how much the catalog's pages resident may grow during a
// long read before they are dropped (ReleasingMapped).
const releaseAbove = 16 << 20

func (c *Catalog) releaseLarge() error { return c.ReleaseLarge() }

// rawID is an id as the catalog keys it (catalog.IDBytes).
func rawID(id string) ([]byte, bool) { return catalog.IDBytes(id) }

// isDamaged says whether err reports a damaged catalog.
func isDamaged(err error) bool { return errors.Is(err, ErrCatalogDamaged) }

// damagedValue is the error for a side value that cannot be decoded.
func damagedValue(what string, key []byte, err error) error {
	return fmt.Errorf("%s %.64q: %w (%v)", what, key, ErrCatalogDamaged, err)
}

// errStop ends a walk over the catalog early, without an error.
var errStop = errors.New("stop")

type stopIter struct{}

func (stopIter) Error() string { return "stopped" }

var errStopIter error = stopIter{}
