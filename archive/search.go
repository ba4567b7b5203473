package archive

import (
	"strings"
	"time"

	"github.com/conserva/conserva/pec"
)

// Query selects catalogued messages. Empty fields match everything.
type Query struct {
	MessageID string // any Message-ID the object carries
	From      string
	To        string
	Subject   string // case-insensitive substring
	Kind      pec.Kind
	Since     time.Time
	Until     time.Time // exclusive
	Flagged   bool
	// Class matches a titolario code and the codes under it ("4.2"
	// matches "4.2.1"); Fascicolo matches exactly.
	Class     string
	Fascicolo string
}

// Search calls fn for every record matching q. The most selective index
// available narrows the scan; every condition is then checked on the record.
func (a *Archive) Search(q Query, fn func(*Record) error) error {
	var ids []string
	var err error
	indexed := true
	switch {
	case q.MessageID != "":
		ids, err = a.Catalog.ByMessageID(q.MessageID)
		if err == nil && len(ids) == 0 {
			ids, err = a.Catalog.ByIdentificativo(q.MessageID)
		}
	case q.From != "":
		ids, err = a.Catalog.ByAddress(q.From)
	case q.To != "":
		ids, err = a.Catalog.ByAddress(q.To)
	case !q.Since.IsZero() || !q.Until.IsZero():
		until := q.Until
		if until.IsZero() {
			until = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)
		}
		err = a.Catalog.ScanDates(q.Since, until, func(id string) error { ids = append(ids, id); return nil })
	default:
		indexed = false
	}
	if err != nil {
		return err
	}
	if !indexed {
		return a.Catalog.Scan(func(r *Record) error {
			if q.matches(r) {
				return fn(r)
			}
			return nil
		})
	}
	recs, err := a.Catalog.records(dedupe(ids))
	if err != nil {
		return err
	}
	for _, r := range recs {
		if q.matches(r) {
			if err := fn(r); err != nil {
				return err
			}
		}
	}
	return nil
}

func dedupe(ids []string) []string {
	seen := map[string]bool{}
	out := ids[:0]
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

func (q Query) matches(r *Record) bool {
	if q.MessageID != "" {
		want := NormalizeMessageID(q.MessageID)
		if NormalizeMessageID(r.MessageID) != want && NormalizeMessageID(r.RefMessageID) != want &&
			NormalizeMessageID(r.Msgid) != want && NormalizeMessageID(r.Identificativo) != want {
			return false
		}
	}
	if q.From != "" && !strings.EqualFold(r.From, strings.TrimSpace(q.From)) {
		return false
	}
	if q.To != "" && !containsFold(append(append([]string{r.Consegna}, r.To...), r.Ricezione...), q.To) {
		return false
	}
	if q.Subject != "" && !strings.Contains(strings.ToLower(r.Subject), strings.ToLower(q.Subject)) {
		return false
	}
	if q.Kind != "" && r.Kind != q.Kind {
		return false
	}
	if !q.Since.IsZero() && (r.Date == nil || r.Date.Before(q.Since)) {
		return false
	}
	if !q.Until.IsZero() && (r.Date == nil || !r.Date.Before(q.Until)) {
		return false
	}
	if q.Flagged && !r.Flagged {
		return false
	}
	if c := strings.TrimSpace(q.Class); c != "" && r.Class.Code != c && !strings.HasPrefix(r.Class.Code, c+".") {
		return false
	}
	if q.Fascicolo != "" && !strings.EqualFold(r.Class.Fascicolo, strings.TrimSpace(q.Fascicolo)) {
		return false
	}
	return true
}

func containsFold(list []string, s string) bool {
	s = strings.TrimSpace(s)
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}
