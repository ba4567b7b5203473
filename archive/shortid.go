package archive

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// MinShortID is the fewest hex digits accepted as an id prefix.
const MinShortID = 4

var hexPrefix = regexp.MustCompile(`^[0-9a-f]+$`)

// AmbiguousError: an id prefix names messages of more than one dossier.
type AmbiguousError struct {
	Prefix     string
	Candidates []*Record // at most maxCandidates
	More       bool      // there were more than these
}

const maxCandidates = 10

func (e *AmbiguousError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s is ambiguous: it begins the ids of", e.Prefix)
	if e.More {
		b.WriteString(" more than")
	}
	fmt.Fprintf(&b, " %d messages of different dossiers (give more digits):", len(e.Candidates))
	for i, r := range e.Candidates {
		if i > 0 {
			b.WriteString(";")
		}
		fmt.Fprintf(&b, " %s %s <%s>", r.ID[:min(len(r.ID), max(len(e.Prefix)+4, 12))], r.Kind, r.Dossier)
	}
	return b.String()
}

// dossierByIDPrefix resolves a short id, as search and ingest print them:
// "" when nothing begins with it, the dossier key when every message that
// does belongs to one dossier, an *AmbiguousError otherwise.
func (a *Archive) dossierByIDPrefix(ref string) (string, error) {
	ref = strings.ToLower(ref)
	if len(ref) < MinShortID || len(ref) > 64 || !hexPrefix.MatchString(ref) {
		return "", nil
	}
	ids, err := a.Catalog.ByIDPrefix(ref, maxCandidates+1)
	if err != nil || len(ids) == 0 {
		return "", err
	}
	recs, err := a.Catalog.Records(ids)
	if err != nil {
		return "", err
	}
	dossiers := map[string]bool{}
	for _, r := range recs {
		dossiers[r.Dossier] = true
	}
	if len(dossiers) == 1 && len(ids) <= maxCandidates {
		return recs[0].Dossier, nil
	}
	sort.Slice(recs, func(i, j int) bool { return recs[i].ID < recs[j].ID })
	e := &AmbiguousError{Prefix: ref, Candidates: recs}
	if len(recs) > maxCandidates {
		e.Candidates, e.More = recs[:maxCandidates], true
	}
	return "", e
}
