package archive

import (
	"context"
	"fmt"

	"github.com/conserva/conserva/storage"
)

// HoldResult says what a hold change touched.
type HoldResult struct {
	MessageID string `json:"message_id"`
	Hold      bool   `json:"legal_hold"`
	Messages  int    `json:"messages"`
	Objects   int    `json:"objects"`  // store objects whose hold was set (S3)
	Recorded  bool   `json:"recorded"` // the catalog records it (always)
	Backend   string `json:"backend"`  // "s3" when the store enforces it, "catalog" otherwise
}

// SetHold puts (on) or lifts a legal hold on every object of a dossier: its
// messages and their metadata files. On S3 the store enforces it (no
// deletion while held, even past retention); on the local store it is
// recorded in the catalog only.
func (a *Archive) SetHold(ctx context.Context, ref string, on bool) (HoldResult, error) {
	d, err := a.FindDossier(ref)
	if err != nil {
		return HoldResult{}, err
	}
	res := HoldResult{MessageID: d.MessageID, Hold: on, Messages: len(d.records), Backend: "catalog"}
	holder, isS3 := a.Store.(storage.LegalHolder)
	if isS3 {
		res.Backend = "s3"
		done := map[string]bool{}
		for _, r := range d.records {
			if err := holder.SetLegalHold(ctx, r.Key, r.VersionID, on); err != nil {
				return res, fmt.Errorf("legal hold on %s: %w", r.Key, err)
			}
			res.Objects++
			if r.Package != "" {
				// Format 2 keeps the metadata in the package's segment:
				// held whole (the other messages' metadata with it).
				key := "packages/" + r.Package + "/meta/" + r.ID + ".xml"
				if seg, _, _ := segmentOf(key); seg != "" {
					if ok, err := a.segmentExists(ctx, seg); err != nil {
						return res, err
					} else if ok {
						key = seg
					}
				}
				if done[key] {
					continue
				}
				done[key] = true
				if err := holder.SetLegalHold(ctx, key, "", on); err != nil {
					return res, fmt.Errorf("legal hold on %s: %w", key, err)
				}
				res.Objects++
			}
		}
	}
	err = a.Catalog.Update(func(get func(string) (*Record, error), put func(*Record) error) error {
		for _, r := range d.records {
			cur, err := get(r.ID)
			if err != nil || cur == nil {
				return err
			}
			cur.LegalHold = on
			if err := put(cur); err != nil {
				return err
			}
		}
		return nil
	})
	res.Recorded = err == nil
	return res, err
}
