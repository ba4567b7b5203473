package web

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/conserva/conserva/accesslog"
	"github.com/conserva/conserva/archive"
	"github.com/conserva/conserva/evidencepack"
	"github.com/conserva/conserva/pec"
	"github.com/conserva/conserva/storage"
)

// Who may do what. Content (the decoded message, the evidence pack) and
// legal hold are the legal role's; the auditor reads everything else.
var (
	readers  = []string{archive.RoleLegal, archive.RoleAuditor, archive.RoleRecords}
	legal    = []string{archive.RoleLegal}
	auditors = []string{archive.RoleAuditor}
	stats    = []string{archive.RoleAuditor, archive.RoleRecords}
	admins   = []string{archive.RoleAdmin}
)

const pageSize = 50

func (s *Server) routes() {
	m := http.NewServeMux()
	m.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "ok")
	})
	static := http.FileServerFS(staticFS)
	m.Handle("GET /static/", static)
	m.HandleFunc("GET /login", s.loginForm)
	m.HandleFunc("POST /login", s.login)
	m.HandleFunc("POST /logout", s.guard([]string{archive.RoleLegal, archive.RoleAuditor, archive.RoleRecords, archive.RoleAdmin}, s.logout))
	m.HandleFunc("GET /{$}", s.home)
	m.HandleFunc("GET /search", s.guard(readers, s.search))
	m.HandleFunc("GET /dossier/{id...}", s.guard(readers, s.dossier))
	m.HandleFunc("GET /message/{id}", s.guard(legal, s.message))
	m.HandleFunc("GET /message/{id}/part/{path}", s.guard(legal, s.part))
	m.HandleFunc("GET /export/{id...}", s.guard(legal, s.export))
	m.HandleFunc("POST /hold/{id...}", s.guard(legal, s.hold(true)))
	m.HandleFunc("POST /unhold/{id...}", s.guard(legal, s.hold(false)))
	m.HandleFunc("GET /packages", s.guard(auditors, s.packages))
	m.HandleFunc("GET /audit", s.guard(auditors, s.audit))
	m.HandleFunc("GET /accesslog", s.guard(auditors, s.accessLog))
	m.HandleFunc("GET /stats", s.guard(stats, s.stats))
	m.HandleFunc("GET /users", s.guard(admins, s.users))
	m.HandleFunc("GET /runs", s.guard(runReaders, s.runs))
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.fail(w, r, s.current(r), http.StatusNotFound, "not_found", "")
	})
	s.mux = m
}

// page is what every template gets.
type page struct {
	T       map[string]string
	Lang    string
	User    string
	Role    string
	CSRF    string
	Path    string // the current URL, for the language switch
	Title   string
	Now     time.Time
	Data    any
	Message string
}

func (s *Server) render(w http.ResponseWriter, r *http.Request, sess *session, status int, name, title string, data any) {
	l := lang(w, r)
	p := page{T: texts[l], Lang: l, Title: title, Now: time.Now().UTC(), Data: data, Path: r.URL.Path}
	if sess != nil {
		p.User, p.Role, p.CSRF = sess.user, sess.role, sess.csrf
	}
	if name == "login" {
		p.CSRF = loginToken(w, r, s.opts.Secure)
	}
	if p.Title == "" {
		p.Title = p.T[name]
	}
	t := s.pages[name]
	if t == nil {
		http.Error(w, "no page "+name, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if err := t.Execute(w, p); err != nil {
		s.log.Error("template", "page", name, "error", err)
	}
}

// fail shows an error page: its title is a text key.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, sess *session, status int, key, detail string) {
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "5")
	}
	s.render(w, r, sess, status, "error", texts[lang(w, r)][key], map[string]string{"Key": key, "Detail": detail})
}

// archiveError turns an archive error into a page.
func (s *Server) archiveError(w http.ResponseWriter, r *http.Request, sess *session, err error) {
	var amb *archive.AmbiguousError
	switch {
	case errors.Is(err, archive.ErrNoDossier), errors.Is(err, errNotFound):
		s.fail(w, r, sess, http.StatusNotFound, "not_found", "")
	case errors.As(err, &amb):
		s.render(w, r, sess, http.StatusConflict, "ambiguous", "", amb)
	case errors.Is(err, archive.ErrBusy):
		s.fail(w, r, sess, http.StatusServiceUnavailable, "busy", "")
	default:
		s.log.Error("request", "path", r.URL.Path, "error", err)
		s.fail(w, r, sess, http.StatusInternalServerError, "error", err.Error())
	}
}

var errNotFound = errors.New("not found")

// loginToken is the CSRF token of the login form, in its own cookie
// (double submit: another site can neither read it nor, SameSite=Strict,
// send it).
func loginToken(w http.ResponseWriter, r *http.Request, secure bool) string {
	if c, err := r.Cookie(loginCookie); err == nil && len(c.Value) == 43 {
		return c.Value
	}
	tok := randomToken()
	http.SetCookie(w, &http.Cookie{Name: loginCookie, Value: tok, Path: "/login", HttpOnly: true, Secure: secure, SameSite: http.SameSiteStrictMode})
	return tok
}

func (s *Server) home(w http.ResponseWriter, r *http.Request) {
	sess := s.current(r)
	switch {
	case sess == nil:
		http.Redirect(w, r, "/login", http.StatusSeeOther)
	case sess.role == archive.RoleAdmin:
		http.Redirect(w, r, "/users", http.StatusSeeOther)
	case sess.role == archive.RoleRecords:
		http.Redirect(w, r, "/stats", http.StatusSeeOther)
	default:
		http.Redirect(w, r, "/search", http.StatusSeeOther)
	}
}

func (s *Server) loginForm(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, nil, http.StatusOK, "login", "", nil)
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	c, err := r.Cookie(loginCookie)
	if err != nil || !sameToken(r.PostFormValue("csrf"), c.Value) {
		s.record(r, nil, "csrf-refused", "/login", "denied")
		s.fail(w, r, nil, http.StatusForbidden, "forbidden", "missing or invalid csrf token")
		return
	}
	name := strings.ToLower(strings.TrimSpace(r.PostFormValue("username")))
	pw := r.PostFormValue("password")
	keys := []string{"u:" + name, "a:" + clientAddr(r)}
	if wait := s.throttled(keys...); wait > 0 {
		s.record(r, nil, "login-throttled", "", "denied")
		w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
		s.render(w, r, nil, http.StatusTooManyRequests, "login", "", map[string]string{"Error": texts[lang(w, r)]["throttled"]})
		return
	}
	var u *archive.User
	err = s.arch.View(r.Context(), func(a *archive.Archive) error {
		var err error
		u, err = a.Catalog.User(name)
		return err
	})
	if err != nil && !errors.Is(err, archive.ErrNoUser) {
		s.archiveError(w, r, nil, err)
		return
	}
	ok := false
	if u != nil {
		ok = u.CheckPassword(pw) && !u.Disabled
	} else {
		archive.DummyCheck(pw) // as slow as a wrong password
	}
	if !ok {
		s.failed(keys...)
		who := "(unknown)" // never what was typed: it may be a password
		if u != nil {
			who = u.Name
		}
		s.record(r, &session{user: who}, "login", "", "denied")
		s.render(w, r, nil, http.StatusUnauthorized, "login", "", map[string]string{"Error": texts[lang(w, r)]["bad_login"]})
		return
	}
	s.succeeded(keys...)
	sess := &session{user: u.Name, role: u.Role}
	if err := s.record(r, sess, "login", "", "ok"); err != nil {
		s.fail(w, r, nil, http.StatusInternalServerError, "error", "the access log cannot be written")
		return
	}
	s.endSession(w, r)
	s.newSession(w, u)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func sameToken(a, b string) bool {
	return a != "" && b != "" && len(a) == len(b) && subtleEq(a, b)
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request, sess *session) {
	s.record(r, sess, "logout", "", "ok")
	s.endSession(w, r)
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// Search ------------------------------------------------------------------

type searchData struct {
	Q, Kind, Since, Until, Sort string
	Source                      string // a mailbox or source: part of its name
	Flagged                     bool
	Kinds                       []string
	Rows                        []*archive.Record
	Total, Page, Pages          int
	PrevURL, NextURL            string
	SortURL                     map[string]string // the same search, sorted by a column
	Searched                    bool
	Capped                      bool // stopped at maxResults
	Skipped                     int  // damaged index entries stepped over
	MaxResults                  int
}

var (
	hexRef   = regexp.MustCompile(`^[0-9a-f]{4,64}$`)
	looksMID = regexp.MustCompile(`^<?[^<>\s@]+@[^<>\s@]+>?$`)
)

func (s *Server) search(w http.ResponseWriter, r *http.Request, sess *session) {
	q := r.URL.Query()
	d := searchData{Q: strings.TrimSpace(q.Get("q")), Kind: q.Get("kind"), Since: q.Get("since"), Until: q.Get("until"),
		Sort: q.Get("sort"), Flagged: q.Get("flagged") != "", Source: strings.TrimSpace(q.Get("source")), MaxResults: maxResults}
	for _, k := range []pec.Kind{pec.KindPostaCertificata, pec.KindAccettazione, pec.KindNonAccettazione, pec.KindPresaInCarico,
		pec.KindAvvenutaConsegna, pec.KindErroreConsegna, pec.KindPreavvisoErroreConsegna, pec.KindRilevazioneVirus, pec.KindAnomalia, pec.KindNotPEC} {
		d.Kinds = append(d.Kinds, string(k))
	}
	d.Page, _ = strconv.Atoi(q.Get("page"))
	d.Page = max(d.Page, 1)
	if len(d.Q) > 512 {
		s.fail(w, r, sess, http.StatusBadRequest, "error", "the query is longer than 512 characters")
		return
	}
	var filter archive.Query
	if d.Kind != "" {
		k, ok := pec.ParseKind(d.Kind)
		if !ok {
			s.fail(w, r, sess, http.StatusBadRequest, "error", "unknown kind")
			return
		}
		filter.Kind = k
	}
	for _, f := range []struct {
		in  string
		out *time.Time
		add int
	}{{d.Since, &filter.Since, 0}, {d.Until, &filter.Until, 1}} {
		if f.in == "" {
			continue
		}
		t, err := time.Parse("2006-01-02", f.in)
		if err != nil {
			s.fail(w, r, sess, http.StatusBadRequest, "error", "dates are YYYY-MM-DD")
			return
		}
		*f.out = t.AddDate(0, 0, f.add)
	}
	filter.Flagged = d.Flagged
	d.Searched = d.Q != "" || d.Kind != "" || d.Since != "" || d.Until != "" || d.Flagged || d.Source != ""
	if d.Searched {
		err := s.arch.View(r.Context(), func(a *archive.Archive) error {
			f, err := find(a, d.Q, filter)
			d.Rows, d.Capped, d.Skipped = f.rows, f.capped, f.skipped
			return err
		})
		if d.Source != "" {
			kept := d.Rows[:0]
			for _, rec := range d.Rows {
				for _, src := range rec.Sources {
					if strings.Contains(strings.ToLower(src), strings.ToLower(d.Source)) {
						kept = append(kept, rec)
						break
					}
				}
			}
			d.Rows = kept
		}
		if err != nil {
			s.record(r, sess, "search", readableQuery(r), "error")
			s.archiveError(w, r, sess, err)
			return
		}
		if err := s.record(r, sess, "search", readableQuery(r), "ok"); err != nil {
			s.fail(w, r, sess, http.StatusInternalServerError, "error", "the access log cannot be written")
			return
		}
	}
	sortRows(d.Rows, d.Sort)
	d.Total = len(d.Rows)
	d.Pages = max(1, (d.Total+pageSize-1)/pageSize)
	d.Page = min(d.Page, d.Pages)
	from, to := (d.Page-1)*pageSize, min(d.Page*pageSize, d.Total)
	d.Rows = d.Rows[from:to]
	pageURL := func(n int) string {
		v := r.URL.Query()
		v.Set("page", strconv.Itoa(n))
		return "/search?" + v.Encode()
	}
	d.SortURL = map[string]string{}
	for _, col := range []string{"date", "kind", "from", "subject"} {
		v := r.URL.Query()
		v.Del("page")
		v.Set("sort", col)
		d.SortURL[col] = "/search?" + v.Encode()
	}
	if d.Page > 1 {
		d.PrevURL = pageURL(d.Page - 1)
	}
	if d.Page < d.Pages {
		d.NextURL = pageURL(d.Page + 1)
	}
	s.render(w, r, sess, http.StatusOK, "search", "", d)
}

// readableQuery is the search as the access log keeps it: the non-empty
// parameters, decoded.
func readableQuery(r *http.Request) string {
	q := r.URL.Query()
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		if v := q.Get(k); v != "" && k != "page" && k != "sort" {
			parts = append(parts, k+"="+v)
		}
	}
	return strings.Join(parts, " ")
}

// maxResults bounds one search (the page says so when reached): the
// catalog streams, the page keeps at most this many to sort and page.
const maxResults = 10000

var errEnough = errors.New("enough results")

// found is what one search gave: the records (at most maxResults), whether
// it stopped there, and how many damaged index entries it stepped over.
type found struct {
	rows    []*archive.Record
	capped  bool
	skipped int
}

// find interprets free text: a Message-ID (or identificativo), an id or
// its prefix, an address, else words of the subject (all of them).
func find(a *archive.Archive, text string, filter archive.Query) (found, error) {
	var f found
	seen := map[string]bool{}
	collect := func(r *archive.Record) error {
		if len(f.rows) >= maxResults {
			f.capped = true
			return errEnough // the stream stops here
		}
		if !seen[r.ID] {
			seen[r.ID] = true
			f.rows = append(f.rows, r)
		}
		return nil
	}
	// search runs one query: a damaged index is told on the page beside
	// the hits that could be read, not in place of them.
	search := func(q archive.Query) error {
		err := a.Search(q, collect)
		var inc *archive.IncompleteError
		if errors.As(err, &inc) {
			f.skipped += inc.Skipped
			return nil
		}
		if err == errEnough {
			return nil
		}
		return err
	}
	if text == "" {
		return f, search(filter)
	}
	lower := strings.ToLower(text)
	if hexRef.MatchString(lower) {
		ids, err := a.Catalog.ByIDPrefix(lower, 1000)
		if err != nil {
			return f, err
		}
		recs, err := a.Catalog.Records(ids)
		if err != nil {
			return f, err
		}
		for _, r := range recs {
			if matches(filter, r) {
				collect(r)
			}
		}
		if len(f.rows) > 0 {
			return f, nil
		}
	}
	if looksMID.MatchString(text) {
		q := filter
		q.MessageID = text
		if err := search(q); err != nil || len(f.rows) > 0 {
			return f, err
		}
		// An address: the address index (senders and recipients alike),
		// read in date order, each record once.
		q = filter
		q.Address = strings.Trim(text, "<>")
		if err := search(q); err != nil || len(f.rows) > 0 {
			return f, err
		}
	}
	// Words of the subject, through the subject index.
	q := filter
	q.Subject = text
	return f, search(q)
}

// matches applies the filters a search by id prefix does not go through.
func matches(q archive.Query, r *archive.Record) bool {
	ok := true
	if q.Kind != "" && r.Kind != q.Kind {
		ok = false
	}
	if q.Flagged && !r.Flagged {
		ok = false
	}
	if r.Date != nil && ((!q.Since.IsZero() && r.Date.Before(q.Since)) || (!q.Until.IsZero() && !r.Date.Before(q.Until))) {
		ok = false
	}
	return ok
}

func sortRows(rows []*archive.Record, by string) {
	less := func(i, j int) bool { return dateOf(rows[i]).After(dateOf(rows[j])) }
	switch by {
	case "date":
		less = func(i, j int) bool { return dateOf(rows[i]).Before(dateOf(rows[j])) }
	case "from":
		less = func(i, j int) bool { return strings.ToLower(rows[i].From) < strings.ToLower(rows[j].From) }
	case "subject":
		less = func(i, j int) bool { return strings.ToLower(rows[i].Subject) < strings.ToLower(rows[j].Subject) }
	case "kind":
		less = func(i, j int) bool { return rows[i].Kind < rows[j].Kind }
	}
	sort.SliceStable(rows, less)
}

func dateOf(r *archive.Record) time.Time {
	if r.Date != nil {
		return *r.Date
	}
	return r.IngestedAt
}

// Dossier -------------------------------------------------------------------

type dossierData struct {
	Ref      string
	D        *archive.Dossier
	Timeline []archive.Event
	Packages []string
	Sources  []string
	Records  []*archive.Record
	CanHold  bool
	CanRead  bool
}

func (s *Server) dossier(w http.ResponseWriter, r *http.Request, sess *session) {
	ref := r.PathValue("id")
	if len(ref) > 1000 || ref == "" {
		s.fail(w, r, sess, http.StatusNotFound, "not_found", "")
		return
	}
	d := dossierData{Ref: ref, CanHold: sess.role == archive.RoleLegal, CanRead: sess.role == archive.RoleLegal}
	err := s.arch.View(r.Context(), func(a *archive.Archive) error {
		dos, err := a.FindDossier(ref)
		if err != nil {
			return err
		}
		d.D = dos
		d.Timeline = dos.Timeline()
		pk, src := map[string]bool{}, map[string]bool{}
		for _, ev := range d.Timeline {
			rec, err := a.Catalog.Get(ev.ID)
			if err != nil || rec == nil {
				continue
			}
			d.Records = append(d.Records, rec)
			if rec.Package != "" && !pk[rec.Package] {
				pk[rec.Package] = true
				d.Packages = append(d.Packages, rec.Package)
			}
			for _, so := range rec.Sources {
				if !src[so] {
					src[so] = true
					d.Sources = append(d.Sources, so)
				}
			}
		}
		return nil
	})
	result := "ok"
	if err != nil {
		result = "not-found"
	}
	if lerr := s.record(r, sess, "dossier", ref, result); lerr != nil {
		s.fail(w, r, sess, http.StatusInternalServerError, "error", "the access log cannot be written")
		return
	}
	if err != nil {
		s.archiveError(w, r, sess, err)
		return
	}
	s.render(w, r, sess, http.StatusOK, "dossier", d.D.MessageID, d)
}

// Message -------------------------------------------------------------------

type messageData struct {
	R *archive.Record
	V View
}

func (s *Server) message(w http.ResponseWriter, r *http.Request, sess *session) {
	id := strings.ToLower(r.PathValue("id"))
	if !hexRef.MatchString(id) || len(id) != 64 {
		s.record(r, sess, "message", id, "not-found")
		s.fail(w, r, sess, http.StatusNotFound, "not_found", "")
		return
	}
	rec, raw, err := s.storedMessage(r.Context(), id)
	if err != nil {
		result := "error"
		if errors.Is(err, errNotFound) {
			result = "not-found"
		}
		s.record(r, sess, "message", id, result)
		s.archiveError(w, r, sess, err)
		return
	}
	defer raw.Close()
	if err := s.record(r, sess, "message", id, "ok"); err != nil {
		s.fail(w, r, sess, http.StatusInternalServerError, "error", "the access log cannot be written")
		return
	}
	s.render(w, r, sess, http.StatusOK, "message", rec.Subject, messageData{R: rec, V: decode(raw)})
}

var partPath = regexp.MustCompile(`^1(\.[0-9]{1,4}){0,16}$`)

// part downloads one attachment, always as a download (never shown by the
// browser: an HTML attachment must not run under this origin).
func (s *Server) part(w http.ResponseWriter, r *http.Request, sess *session) {
	id, path := strings.ToLower(r.PathValue("id")), r.PathValue("path")
	target := id + " part " + path
	if !hexRef.MatchString(id) || len(id) != 64 || !partPath.MatchString(path) {
		s.record(r, sess, "download", target, "not-found")
		s.fail(w, r, sess, http.StatusNotFound, "not_found", "")
		return
	}
	_, raw, err := s.storedMessage(r.Context(), id)
	if err == nil {
		defer raw.Close()
		// The part is streamed to the browser as it is decoded: an
		// attachment of any size costs a buffer, not its size.
		var ok bool
		ok, err = findPart(raw, path, func(name string, body io.Reader) error {
			if err := s.record(r, sess, "download", target, "ok"); err != nil {
				s.fail(w, r, sess, http.StatusInternalServerError, "error", "the access log cannot be written")
				return nil
			}
			file := safeFileName(name)
			if file == "" {
				file = "part-" + path
			}
			w.Header().Set("Content-Type", "application/octet-stream")
			w.Header().Set("Content-Disposition", `attachment; filename="`+file+`"; filename*=UTF-8''`+rfc5987(name))
			_, err := io.Copy(w, body)
			return err
		})
		if err != nil {
			// Headers are sent: the browser sees a cut download.
			s.log.Warn("download cut short", "message", id, "part", path, "err", err)
			return
		}
		if ok {
			return
		}
		err = errNotFound
	}
	s.record(r, sess, "download", target, "not-found")
	s.archiveError(w, r, sess, err)
}

// rfc5987 percent-encodes a file name for filename*.
func rfc5987(s string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		if c < 0x80 && (c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-._~", c) >= 0) {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// storedMessage finds a catalogued message (errNotFound when there is
// none) and reads its bytes.
func (s *Server) storedMessage(ctx context.Context, id string) (*archive.Record, io.ReadCloser, error) {
	var rec *archive.Record
	err := s.arch.View(ctx, func(a *archive.Archive) error {
		var err error
		rec, err = a.Catalog.Get(id)
		if err == nil && rec == nil {
			err = errNotFound
		}
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	// Read from the store as it is used (the catalog is not held meanwhile).
	rc, err := storage.GetVersion(ctx, s.arch.Store, rec.Key, rec.VersionID)
	if err != nil {
		return nil, nil, fmt.Errorf("reading %s: %w", rec.Key, err)
	}
	return rec, rc, nil
}

// Export --------------------------------------------------------------------

func (s *Server) export(w http.ResponseWriter, r *http.Request, sess *session) {
	ref := r.PathValue("id")
	if len(ref) > 1000 || ref == "" {
		s.fail(w, r, sess, http.StatusNotFound, "not_found", "")
		return
	}
	// The pack is made in a temporary file first: an error is a page, not
	// half a zip.
	tmp, err := os.CreateTemp("", "conserva-export-*.zip")
	if err != nil {
		s.archiveError(w, r, sess, err)
		return
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	var rep *evidencepack.Report
	do := func(a *archive.Archive) error {
		if _, err := tmp.Seek(0, io.SeekStart); err != nil {
			return err
		}
		if err := tmp.Truncate(0); err != nil {
			return err
		}
		trust, files, err := a.ProviderTrust(r.Context(), "")
		if err != nil {
			return err
		}
		rep, err = a.Export(r.Context(), ref, tmp, archive.ExportOptions{Trust: trust, TrustFiles: files})
		return err
	}
	err = s.arch.View(r.Context(), do)
	if archive.IsReadOnly(err) {
		// The first export keeps what it needs (trust files, keys) in the
		// catalog: then, once, briefly read-write.
		err = s.arch.Update(r.Context(), do)
	}
	if err != nil {
		s.record(r, sess, "export", ref, "error")
		s.archiveError(w, r, sess, err)
		return
	}
	if err := s.record(r, sess, "export", ref, "ok"); err != nil {
		s.fail(w, r, sess, http.StatusInternalServerError, "error", "the access log cannot be written")
		return
	}
	size, _ := tmp.Seek(0, io.SeekEnd)
	tmp.Seek(0, io.SeekStart)
	name := "conserva-evidence.zip"
	if rep != nil && rep.Dossier != nil {
		name = "conserva-" + safeFileName(rep.Dossier.MessageID) + ".zip"
	}
	w.Header().Set("Content-Type", "application/zip")
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	w.Header().Set("Content-Length", strconv.FormatInt(size, 10))
	io.Copy(w, tmp)
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

func safeFileName(s string) string {
	s = unsafeName.ReplaceAllString(s, "_")
	if len(s) > 80 {
		s = s[:80]
	}
	return strings.Trim(s, "._")
}

// Hold ----------------------------------------------------------------------

func (s *Server) hold(on bool) func(http.ResponseWriter, *http.Request, *session) {
	action := "unhold"
	if on {
		action = "hold"
	}
	return func(w http.ResponseWriter, r *http.Request, sess *session) {
		ref := r.PathValue("id")
		if len(ref) > 1000 || ref == "" {
			s.fail(w, r, sess, http.StatusNotFound, "not_found", "")
			return
		}
		err := s.arch.Update(r.Context(), func(a *archive.Archive) error {
			_, err := a.SetHold(r.Context(), ref, on)
			return err
		})
		result := "ok"
		if err != nil {
			result = "error"
		}
		if lerr := s.record(r, sess, action, ref, result); lerr != nil && err == nil {
			s.fail(w, r, sess, http.StatusInternalServerError, "error", "the access log cannot be written")
			return
		}
		if err != nil {
			s.archiveError(w, r, sess, err)
			return
		}
		http.Redirect(w, r, "/dossier/"+url.PathEscape(ref), http.StatusSeeOther)
	}
}

// Auditor pages ---------------------------------------------------------------

// packageRow is a package with what the last audit said of its
// signature, timestamp and contents (the audit checks them against the
// pinned roots; the page does not re-verify).
type packageRow struct {
	archive.PackageRecord
	Audited  bool     // the last audit ran after the package was sealed
	Problems []string // what it found wrong in this package
}

type packagesData struct {
	Rows      []packageRow
	LastAudit *archive.AuditReport
}

func (s *Server) packages(w http.ResponseWriter, r *http.Request, sess *session) {
	var d packagesData
	err := s.arch.View(r.Context(), func(a *archive.Archive) error {
		if err := a.Catalog.Packages(func(p archive.PackageRecord) error {
			d.Rows = append(d.Rows, packageRow{PackageRecord: p})
			return nil
		}); err != nil {
			return err
		}
		return a.Catalog.Audits(func(rep archive.AuditReport) error {
			if d.LastAudit == nil || rep.Started.After(d.LastAudit.Started) {
				d.LastAudit = &rep
			}
			return nil
		})
	})
	if err != nil {
		s.archiveError(w, r, sess, err)
		return
	}
	for i := range d.Rows {
		row := &d.Rows[i]
		if d.LastAudit == nil || d.LastAudit.Started.Before(row.Created) {
			continue
		}
		row.Audited = true
		for _, p := range d.LastAudit.Problems {
			if strings.HasPrefix(p.Key, "packages/"+row.ID+"/") {
				row.Problems = append(row.Problems, p.Key+": "+p.Problem)
			}
		}
	}
	sort.Slice(d.Rows, func(i, j int) bool { return d.Rows[i].Created.After(d.Rows[j].Created) })
	s.record(r, sess, "packages", "", "ok")
	s.render(w, r, sess, http.StatusOK, "packages", "", d)
}

type auditData struct {
	Runs []archive.AuditReport
	Last *archive.AuditReport
	Next nextSeal
}

func (s *Server) audit(w http.ResponseWriter, r *http.Request, sess *session) {
	var d auditData
	err := s.arch.View(r.Context(), func(a *archive.Archive) error {
		var err error
		if d.Next, err = s.nextSealOf(r.Context(), a); err != nil {
			return err
		}
		return a.Catalog.Audits(func(rep archive.AuditReport) error { d.Runs = append(d.Runs, rep); return nil })
	})
	if err != nil {
		s.archiveError(w, r, sess, err)
		return
	}
	sort.Slice(d.Runs, func(i, j int) bool { return d.Runs[i].Started.After(d.Runs[j].Started) })
	if len(d.Runs) > 0 {
		d.Last = &d.Runs[0]
	}
	if len(d.Runs) > 100 {
		d.Runs = d.Runs[:100]
	}
	s.record(r, sess, "audit", "", "ok")
	s.render(w, r, sess, http.StatusOK, "audit", "", d)
}

type accessData struct {
	Report  accesslog.Report
	Records []accesslog.Record
	Total   int
	Sealed  accesslog.Mark // how far the packages seal it, as the catalog says
}

func (s *Server) accessLog(w http.ResponseWriter, r *http.Request, sess *session) {
	if err := s.record(r, sess, "accesslog", "", "ok"); err != nil {
		s.fail(w, r, sess, http.StatusInternalServerError, "error", "the access log cannot be written")
		return
	}
	var d accessData
	var err error
	if d.Report, err = accesslog.Verify(s.logPath); err != nil {
		s.archiveError(w, r, sess, err)
		return
	}
	if err := s.arch.View(r.Context(), func(a *archive.Archive) error {
		d.Sealed, err = a.AccessLogSealed()
		return err
	}); err != nil {
		s.archiveError(w, r, sess, err)
		return
	}
	// The newest 500, newest first.
	var ring []accesslog.Record
	accesslog.Read(s.logPath, func(rec accesslog.Record) error {
		d.Total++
		ring = append(ring, rec)
		if len(ring) > 1000 {
			ring = append([]accesslog.Record(nil), ring[500:]...)
		}
		return nil
	})
	if len(ring) > 500 {
		ring = ring[len(ring)-500:]
	}
	for i := len(ring) - 1; i >= 0; i-- {
		d.Records = append(d.Records, ring[i])
	}
	s.render(w, r, sess, http.StatusOK, "accesslog", "", d)
}

func (s *Server) users(w http.ResponseWriter, r *http.Request, sess *session) {
	var list []*archive.User
	err := s.arch.View(r.Context(), func(a *archive.Archive) error {
		var err error
		list, err = a.Catalog.Users()
		return err
	})
	if err != nil {
		s.archiveError(w, r, sess, err)
		return
	}
	s.render(w, r, sess, http.StatusOK, "users", "", list)
}
