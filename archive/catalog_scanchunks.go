package archive

import bolt "go.etcd.io/bbolt"

// scanReleasing is Scan (every record, in the order catalogued) a chunk
// per read transaction, the catalog's mapped pages released between
// chunks: a pass over a whole catalog (the rebuild's over the old one)
// does not make it resident. fn runs outside any transaction. A record
// that cannot be decoded ends it with the error, after fn saw every
// record before it (as Scan).
func (c *Catalog) scanReleasing(fn func(*Record) error) error {
	if c.legacy {
		return c.Scan(fn) // a kept format 1 catalog: read as it always was
	}
	var after []byte
	for {
		var chunk []*Record
		var bad error
		err := c.db.View(func(tx *bolt.Tx) error {
			cur := tx.Bucket(bucketRecords).Cursor()
			k, v := cur.First()
			if after != nil {
				if k, v = cur.Seek(after); k != nil && string(k) == string(after) {
					k, v = cur.Next()
				}
			}
			for ; k != nil && len(chunk) < byIDChunk; k, v = cur.Next() {
				after = append(after[:0], k...)
				r, err := decodeValue(v)
				if err != nil {
					bad = err
					return nil
				}
				chunk = append(chunk, r)
			}
			return nil
		})
		if err != nil {
			return err
		}
		_ = c.ReleaseMapped() // memory only
		for _, r := range chunk {
			if err := fn(r); err != nil {
				return err
			}
		}
		if bad != nil || len(chunk) == 0 {
			return bad
		}
	}
}

// pageReleaser drops catalogs' mapped pages after every few lookups of a
// long pass of random reads (ids taken one by one): each lookup leaves
// its pages and their neighbours resident, and a pass over every message
// would leave the whole file so. Counted in lookups, not in time: the
// branch pages read again after a release are a few, the leaves were
// not going to be read twice anyway.
type pageReleaser struct {
	cats []*Catalog
	n    int
}

// releaseEvery is how many lookups a pageReleaser lets go by: each
// leaves a leaf or two and their neighbours (64 KB each) resident, some
// MB at most between releases.
const releaseEvery = 64

func releasing(cats ...*Catalog) *pageReleaser { return &pageReleaser{cats: cats} }

// looked counts one lookup.
func (p *pageReleaser) looked() {
	if p.n++; p.n%releaseEvery == 0 {
		p.release()
	}
}

// release drops the pages now (memory only: a failure changes nothing else).
func (p *pageReleaser) release() {
	for _, c := range p.cats {
		if c != nil {
			_ = c.ReleaseMapped()
		}
	}
}
