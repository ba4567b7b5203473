package archive

import (
	"context"
	"fmt"
	"time"

	"github.com/conserva/conserva/ers"
	"github.com/conserva/conserva/evidencepack"
	"github.com/conserva/conserva/storage"
)

// exportERS puts each sealed message's latest evidence record in the pack
// as ers/<sha256>.ers, checked against the pinned TSA roots and the
// message's stored bytes; one that does not verify goes in all the same
// (it is evidence) and the pack says it is not intact.
func (a *Archive) exportERS(ctx context.Context, rep *evidencepack.Report, pw *evidencepack.Writer) error {
	r, err := a.verifyRoots()
	if err != nil {
		return err
	}
	vf := &ers.Verifier{Roots: r.TSAPool(), At: time.Now()}
	tsaRoot := map[string]string{}
	for _, p := range rep.Packages {
		tsaRoot[p.ID] = p.TSARoot
	}
	versions := map[string]int{}
	for i := range rep.Messages {
		m := &rep.Messages[i]
		if m.Package == "" {
			continue
		}
		v, ok := versions[m.Package]
		if !ok {
			if v, err = a.ersVersion(ctx, m.Package); err != nil {
				return err
			}
			versions[m.Package] = v
		}
		if v == 0 {
			rep.Notes = append(rep.Notes, fmt.Sprintf("%s: its package %s has no evidence records yet", m.File, m.Package))
			continue
		}
		// Found in its segment without indexing it (readOnce).
		rec, err := readERSWith(ctx, ersKey(m.Package, m.ID, v), a.readOnce)
		for w := v - 1; w >= 1 && err != nil; w-- {
			rec, err = readERSWith(ctx, ersKey(m.Package, m.ID, w), a.readOnce)
		}
		if err != nil {
			rep.PackIntact = false
			rep.Notes = append(rep.Notes, fmt.Sprintf("%s: evidence record missing: %v", m.File, err))
			continue
		}
		name := evidencepack.ERSFile(m.ID)
		if err := pw.AddBytes(name, rec); err != nil {
			return err
		}
		m.EvidenceRecord = name
		rec0, err := a.Catalog.Get(m.ID)
		if err != nil || rec0 == nil {
			return fmt.Errorf("%s: not catalogued: %v", m.ID, err)
		}
		rc, err := storage.GetVersion(ctx, a.Store, rec0.Key, rec0.VersionID)
		if err != nil {
			return fmt.Errorf("%s: %w", rec0.Key, err)
		}
		res, err := vf.VerifyReader(ctx, rec, rc)
		rc.Close()
		if err != nil {
			rep.PackIntact = false
			rep.Notes = append(rep.Notes, fmt.Sprintf("%s: %v", name, err))
			continue
		}
		m.EvidenceRecordOK, m.ERSRoot = true, tsaRoot[m.Package]
		first := res.Stamps[0].Time.UTC()
		m.ProvenAt, m.RenewBefore = &first, res.Expires().UTC()
	}
	return nil
}
