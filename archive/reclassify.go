package archive

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/conserva/conserva/smistamento"
	"github.com/conserva/conserva/storage"
)

// Reclassify files a message anew. The change is a new event, stored
// write-once and added to the record's history: the earlier
// classifications stay. Metadata already sealed keep what they said.
func (a *Archive) Reclassify(ctx context.Context, ref string, ch ClassChange, by, reason string) (*Record, error) {
	ch, err := ch.Check(by)
	if err != nil {
		return nil, err
	}
	id, err := a.resolveID(ref)
	if err != nil {
		return nil, err
	}
	r, err := a.Catalog.Get(id)
	if err != nil || r == nil {
		return nil, fmt.Errorf("%s: %w", ref, ErrNoDossier)
	}
	c := ch.Apply(r.Class)
	ev := ClassEvent{At: time.Now().UTC(), By: by, Class: c, Reason: reason}
	data, err := json.Marshal(ev)
	if err != nil {
		return nil, err
	}
	if err := a.putBytes(ctx, smistamento.EventKey(id, ev.At), data); err != nil {
		return nil, err
	}
	var out *Record
	err = a.Catalog.Update(func(get func(string) (*Record, error), put func(*Record) error) error {
		cur, err := get(id)
		if err != nil || cur == nil {
			return err
		}
		cur.Class = c
		cur.ClassHistory = append(cur.ClassHistory, ev)
		out = cur
		return put(cur)
	})
	return out, err
}

// resolveID resolves a full id or a short one to exactly one message.
func (a *Archive) resolveID(ref string) (string, error) {
	ref = strings.ToLower(strings.TrimSpace(ref))
	if len(ref) < MinShortID || len(ref) > 64 || !hexPrefix.MatchString(ref) {
		return "", fmt.Errorf("%q: give a message id (at least %d hex digits)", ref, MinShortID)
	}
	ids, err := a.Catalog.ByIDPrefix(ref, 2)
	switch {
	case err != nil:
		return "", err
	case len(ids) == 0:
		return "", fmt.Errorf("%s: %w", ref, ErrNoDossier)
	case len(ids) > 1:
		return "", fmt.Errorf("%s names more than one message: give more of its id", ref)
	}
	return ids[0], nil
}

// restoreClassifications applies the reclassifications the store keeps
// for a record being rebuilt from the store.
func (a *Archive) restoreClassifications(ctx context.Context, r *Record) error {
	var keys []string
	err := a.Store.List(ctx, smistamento.EventsPrefix(r.ID), func(info storage.Info) error {
		keys = append(keys, info.Key)
		return nil
	})
	if err != nil {
		return err
	}
	sort.Strings(keys)
	for _, k := range keys {
		data, err := a.readAll(ctx, k)
		if err != nil {
			return err
		}
		var ev ClassEvent
		if err := json.Unmarshal(data, &ev); err != nil {
			return fmt.Errorf("%s: %w", k, err)
		}
		r.Class = ev.Class
		r.ClassHistory = append(r.ClassHistory, ev)
	}
	return nil
}
