package archive

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
