package web

import (
	"context"
	"net/http"
	"time"

	"github.com/conserva/conserva/accesslog"
	"github.com/conserva/conserva/archive"
	"github.com/conserva/conserva/runs"
)

// Who sees the run history: the records manager checks last night's run,
// the auditor and the administrator too.
var runReaders = []string{archive.RoleRecords, archive.RoleAuditor, archive.RoleAdmin}

// runsShown bounds the history page (the catalog keeps runs.Keep).
const runsShown = 200

func (s *Server) runs(w http.ResponseWriter, r *http.Request, sess *session) {
	var list []runs.Run
	err := s.arch.View(r.Context(), func(a *archive.Archive) error {
		var err error
		list, err = a.Catalog.Runs(runsShown)
		return err
	})
	if err != nil {
		s.archiveError(w, r, sess, err)
		return
	}
	s.record(r, sess, "runs", "", "ok")
	s.render(w, r, sess, http.StatusOK, "runs", "", list)
}

// nextSeal is what the audit page says of the next seal.
type nextSeal struct {
	Messages  int   // catalogued messages in no package yet
	AccessLog int64 // access log records not sealed yet
	Expected  time.Time
	Known     bool // Expected is known (from the nightly runs' history)
	Overdue   bool
}

// nextSealOf counts what the next seal will take and guesses when it runs
// from the history of `conserva run`. Counts only: no record is read (the
// catalog's size less what its packages hold).
func (s *Server) nextSealOf(ctx context.Context, a *archive.Archive) (nextSeal, error) {
	var n nextSeal
	total, err := a.Catalog.Count()
	if err != nil {
		return n, err
	}
	sealed := 0
	if err := a.Catalog.Packages(func(p archive.PackageRecord) error { sealed += p.Messages; return nil }); err != nil {
		return n, err
	}
	n.Messages = max(total-sealed, 0)
	mark, err := a.AccessLogSealed()
	if err != nil {
		return n, err
	}
	if n.AccessLog, err = accesslog.Unsealed(s.logPath, mark); err != nil {
		return n, err
	}
	history, err := a.Catalog.Runs(runs.Keep)
	if err != nil {
		return n, err
	}
	n.Expected, n.Known = runs.NextExpected(history, "run")
	n.Overdue = n.Known && n.Expected.Before(time.Now())
	return n, nil
}
