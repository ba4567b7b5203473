package archive

import (
	"context"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/beevik/etree"
	"github.com/conserva/conserva/ingest"
	"github.com/conserva/conserva/pec"
	"github.com/conserva/conserva/storage"
	"github.com/conserva/conserva/timestamp"
)

// RebuildSummary is the outcome of a catalog rebuild.
type RebuildSummary struct {
	Messages   int       `json:"messages"`
	Flagged    int       `json:"flagged"`
	Packages   int       `json:"packages"`
	Incomplete int       `json:"incomplete_packages"` // a seal to resume: left pending
	Errors     int       `json:"errors"`
	Previous   string    `json:"previous_catalog,omitempty"`
	Failures   []Failure `json:"failures,omitempty"`
}

// Rebuild makes a new catalog from the store alone: every message is read
// back, re-parsed and re-verified; package membership comes from the
// package indexes. What the store cannot tell (where a message came from,
// when it was ingested) is carried over from the old catalog when there is
// one, else the object's time stands for it. The old catalog is kept beside
// the new one, renamed, never deleted.
func (a *Archive) Rebuild(ctx context.Context, trust *pec.TrustStore, progress func(int)) (RebuildSummary, error) {
	var sum RebuildSummary
	carried := map[string]*Record{}
	var j journal
	hasJournal := false
	if a.Catalog != nil {
		_ = a.Catalog.Scan(func(r *Record) error {
			carried[r.ID] = &Record{Sources: r.Sources, IngestedAt: r.IngestedAt, History: r.History}
			return nil
		})
		hasJournal, _ = a.Catalog.getJSON(bucketMeta, journalKey, &j)
	}
	newPath := filepath.Join(a.Dir, "catalog.db.rebuilding")
	_ = os.Remove(newPath) // a previous rebuild that died: start over
	cat, err := OpenCatalog(newPath, 5*time.Second)
	if err != nil {
		return sum, err
	}
	b := *a
	b.Catalog = cat
	src := storeSource{store: a.Store}
	ing, err := b.Ingest(ctx, []ingest.Source{src}, IngestOptions{Trust: trust, Progress: progress, NoStore: true})
	sum.Messages, sum.Flagged, sum.Errors, sum.Failures = ing.Archived+ing.Duplicates, ing.Flagged, ing.Errors, ing.Failures
	if err == nil {
		err = b.restoreOrigins(carried)
	}
	if err == nil {
		sum.Packages, sum.Incomplete, err = b.restorePackages(ctx, hasJournal, j)
	}
	if err == nil && hasJournal {
		err = cat.putJSON(bucketMeta, journalKey, j)
	}
	if err != nil {
		cat.Close()
		return sum, err
	}
	if err := cat.Close(); err != nil {
		return sum, err
	}
	// Swap: the old catalog is kept under a dated name.
	old := filepath.Join(a.Dir, "catalog.db")
	if a.Catalog != nil {
		a.Catalog.Close()
	}
	if _, err := os.Stat(old); err == nil {
		sum.Previous = old + ".old-" + time.Now().UTC().Format("20060102T150405Z")
		if err := os.Rename(old, sum.Previous); err != nil {
			return sum, err
		}
	}
	if err := os.Rename(newPath, old); err != nil {
		return sum, err
	}
	a.Catalog, err = OpenCatalog(old, 5*time.Second)
	return sum, err
}

// restoreOrigins brings back sources and ingestion times; objects unknown
// to the old catalog keep "store:<key>" as source and the rebuild time.
func (a *Archive) restoreOrigins(carried map[string]*Record) error {
	return a.Catalog.Update(func(get func(string) (*Record, error), put func(*Record) error) error {
		for id, c := range carried {
			r, err := get(id)
			if err != nil {
				return err
			}
			if r == nil {
				continue // catalogued once, gone from the store: audit reports it
			}
			r.Sources, r.IngestedAt = c.Sources, c.IngestedAt
			// The verdicts given before stay; the rebuild's own judgement
			// is added when it differs from the latest.
			if n := len(c.History); n > 0 {
				now := r.History
				r.History = c.History
				if len(now) > 0 && (now[0].Verdict != c.History[n-1].Verdict || now[0].Reason != c.History[n-1].Reason) {
					ev := now[0]
					ev.By = "rebuild"
					r.History = append(r.History, ev)
				}
			}
			if err := put(r); err != nil {
				return err
			}
		}
		return nil
	})
}

// restorePackages reads every complete package's index and records its
// members. A package without its timestamp is the interrupted seal the
// journal names (resumed by the next seal), never a sealed one.
func (a *Archive) restorePackages(ctx context.Context, hasJournal bool, j journal) (int, int, error) {
	files := map[string]map[string]bool{}
	err := a.Store.List(ctx, "packages/", func(i storage.Info) error {
		parts := strings.SplitN(i.Key, "/", 3)
		if len(parts) == 3 {
			if files[parts[1]] == nil {
				files[parts[1]] = map[string]bool{}
			}
			files[parts[1]][parts[2]] = true
		}
		return nil
	})
	if err != nil {
		return 0, 0, err
	}
	complete, incomplete := 0, 0
	for id, have := range files {
		if !have["index.xml"] || !have["index.xml.p7s"] || !have["index.xml.p7s.tsr"] || (hasJournal && id == j.ID) {
			incomplete++
			continue
		}
		p, ids, err := a.readPackage(ctx, id)
		if err != nil {
			return complete, incomplete, fmt.Errorf("package %s: %w", id, err)
		}
		if err := a.Catalog.markSealed(p, ids); err != nil {
			return complete, incomplete, err
		}
		complete++
	}
	return complete, incomplete, nil
}

func (a *Archive) readPackage(ctx context.Context, id string) (PackageRecord, []string, error) {
	prefix := "packages/" + id + "/"
	read := func(name string) ([]byte, error) {
		rc, err := a.readEvidence(ctx, prefix+name)
		if err != nil {
			return nil, err
		}
		defer rc.Close()
		return io.ReadAll(rc)
	}
	index, err := read("index.xml")
	if err != nil {
		return PackageRecord{}, nil, err
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(index); err != nil {
		return PackageRecord{}, nil, fmt.Errorf("index.xml: %w", err)
	}
	p := PackageRecord{ID: id}
	var ids []string
	for _, g := range doc.FindElements("//FileGroup") {
		if gid := g.SelectElement("ID"); gid == nil || gid.Text() != "messages" {
			continue
		}
		for _, f := range g.SelectElements("File") {
			if h := f.SelectElement("Hash"); h != nil {
				ids = append(ids, strings.TrimSpace(h.Text()))
			}
		}
	}
	if e := doc.FindElement("//PackageInfo/Created"); e != nil {
		p.Created, _ = time.Parse(time.RFC3339, e.Text())
	}
	p.Development = doc.FindElement("//PackageInfo/Warning") != nil
	tsr, err := read("index.xml.p7s.tsr")
	if err != nil {
		return PackageRecord{}, nil, err
	}
	tok, err := timestamp.Parse(tsr)
	if err != nil {
		return PackageRecord{}, nil, err
	}
	p.Timestamp = tok.Time.UTC()
	var present []string
	for _, id := range ids {
		r, err := a.Catalog.Get(id)
		if err != nil {
			return PackageRecord{}, nil, err
		}
		if r == nil {
			continue // listed but gone from the store: audit's business
		}
		present = append(present, id)
		p.Bytes += r.Size
	}
	p.Messages = len(present)
	return p, present, nil
}

// storeSource walks the messages of a store as an ingest source.
type storeSource struct{ store storage.Store }

func (s storeSource) String() string { return "store" }

func (s storeSource) Walk(ctx context.Context, fn func(ingest.Item) error) error {
	return s.store.List(ctx, "messages/", func(i storage.Info) error {
		key, version := i.Key, i.VersionID
		it := ingest.NewItem("store:"+key, i.Size, func() (io.ReadCloser, error) { return storage.GetVersion(ctx, s.store, key, version) })
		it.Version = version
		// The object's name is its hash.
		it.WantSHA256 = strings.TrimSuffix(path.Base(key), ".eml")
		return fn(it)
	})
}

// readEvidence reads the first version of an object (on S3 a newer version
// or a delete marker may sit on top of it).
func (a *Archive) readEvidence(ctx context.Context, key string) (io.ReadCloser, error) {
	return storage.ReadEvidence(ctx, a.Store, key)
}

func parseXML(r io.Reader) (*etree.Document, error) {
	doc := etree.NewDocument()
	_, err := doc.ReadFrom(r)
	return doc, err
}
