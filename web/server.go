// Package web is conserva serve: the web interface for legal staff,
// auditors and records managers, on the same archive as the command line.
//
// It holds no lock on the archive between requests: each request opens
// the catalog read-only (or, for a legal hold, read-write) for its own
// length only (archive.Shared), so the nightly job and the command line
// run beside it. Every access is written to the access log (accesslog).
package web

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/conserva/conserva/accesslog"
	"github.com/conserva/conserva/archive"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Options configure a Server.
type Options struct {
	Archive *archive.Shared
	// Secure: the server is reached over HTTPS (TLS here, or a reverse
	// proxy that terminates it): cookies get the Secure attribute.
	Secure bool
	Log    *slog.Logger
	// SessionIdle and SessionMax end sessions (default 30 min, 10 h).
	SessionIdle, SessionMax time.Duration
}

// Server is the web interface.
type Server struct {
	opts      Options
	arch      *archive.Shared
	logPath   string
	log       *slog.Logger
	pages     map[string]*template.Template
	mux       *http.ServeMux
	mu        sync.Mutex
	sessions  map[string]*session
	failures  map[string]*failure
	idle, max time.Duration
}

type session struct {
	user, role, csrf string
	created, seen    time.Time
	checked          time.Time // when the user was last found enabled in the catalog
}

// failure counts failed logins of one user name or one address.
type failure struct {
	n     int
	until time.Time
}

const (
	sessionCookie = "conserva_session"
	loginCookie   = "conserva_login" // the CSRF token of the login form, before any session
	freeFailures  = 5                // failed logins of one user name before any delay
	freeAddr      = 20               // of one address (a reverse proxy is one address for all)
	maxDelay      = 15 * time.Minute
	maxTracked    = 100_000 // failure counters kept before the expired ones are dropped
)

// New makes the server.
func New(opts Options) (*Server, error) {
	if opts.Archive == nil {
		return nil, errors.New("web: no archive")
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	s := &Server{opts: opts, arch: opts.Archive, log: opts.Log, logPath: filepath.Join(opts.Archive.Dir, accesslog.FileName),
		sessions: map[string]*session{}, failures: map[string]*failure{}, idle: opts.SessionIdle, max: opts.SessionMax}
	if s.idle == 0 {
		s.idle = 30 * time.Minute
	}
	if s.max == 0 {
		s.max = 10 * time.Hour
	}
	if err := s.parseTemplates(); err != nil {
		return nil, err
	}
	s.routes()
	return s, nil
}

var funcs = template.FuncMap{
	"short": archive.ShortID,
	"date": func(t any) string {
		switch v := t.(type) {
		case *time.Time:
			if v == nil {
				return ""
			}
			return v.UTC().Format("2006-01-02 15:04:05Z")
		case time.Time:
			if v.IsZero() {
				return ""
			}
			return v.UTC().Format("2006-01-02 15:04:05Z")
		}
		return ""
	},
	"join": strings.Join,
	// pathesc makes an id or Message-ID one path segment.
	"pathesc": url.PathEscape,
	"add":     func(a, b int) int { return a + b },
}

func (s *Server) parseTemplates() error {
	s.pages = map[string]*template.Template{}
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return err
	}
	for _, n := range names {
		base := filepath.Base(n)
		if base == "layout.html" {
			continue
		}
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", n)
		if err != nil {
			return err
		}
		s.pages[strings.TrimSuffix(base, ".html")] = t
	}
	return nil
}

// Handler is the whole interface, with its security headers.
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		// No script at all: nothing inline, nothing loaded.
		h.Set("Content-Security-Policy", "default-src 'none'; script-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-store")
		if s.opts.Secure {
			h.Set("Strict-Transport-Security", "max-age=31536000")
		}
		s.mux.ServeHTTP(w, r)
	})
}

func randomToken() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// record writes one access; a failure to write is logged and refuses the
// request (an access that cannot be recorded does not happen).
func (s *Server) record(r *http.Request, sess *session, action, target, result string) error {
	rec := accesslog.Record{Action: action, Target: target, Addr: clientAddr(r), Result: result}
	if sess != nil {
		rec.User, rec.Role = sess.user, sess.role
	}
	if _, err := accesslog.Append(s.logPath, rec); err != nil {
		s.log.Error("access log", "error", err)
		return err
	}
	return nil
}

// current returns the request's session, or nil.
func (s *Server) current(r *http.Request) *session {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sess := s.sessions[c.Value]
	now := time.Now()
	if sess == nil {
		return nil
	}
	if now.Sub(sess.seen) > s.idle || now.Sub(sess.created) > s.max {
		delete(s.sessions, c.Value)
		return nil
	}
	sess.seen = now
	cp := *sess
	return &cp
}

// stillEnabled checks, at most once a minute per session, that the user
// is still in the catalog and enabled: a disabled user's sessions end.
func (s *Server) stillEnabled(ctx context.Context, r *http.Request, sess *session) bool {
	if time.Since(sess.checked) < time.Minute {
		return true
	}
	var u *archive.User
	err := s.arch.View(ctx, func(a *archive.Archive) error {
		var err error
		u, err = a.Catalog.User(sess.user)
		return err
	})
	if errors.Is(err, archive.ErrBusy) {
		return true // checked again at the next request
	}
	c, _ := r.Cookie(sessionCookie)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil || u.Disabled || u.Role != sess.role {
		if c != nil {
			delete(s.sessions, c.Value)
		}
		return false
	}
	if c != nil && s.sessions[c.Value] != nil {
		s.sessions[c.Value].checked = time.Now()
	}
	return true
}

// wantsHTML: a browser navigating (redirect to /login) rather than a
// script (401).
func wantsHTML(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "text/html")
}

// guard wraps a handler: a session with one of roles, and for POST a valid
// csrf field.
func (s *Server) guard(roles []string, h func(http.ResponseWriter, *http.Request, *session)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sess := s.current(r)
		if sess != nil && !s.stillEnabled(r.Context(), r, sess) {
			sess = nil
		}
		if sess == nil {
			if wantsHTML(r) && r.Method == http.MethodGet {
				http.Redirect(w, r, "/login", http.StatusSeeOther)
				return
			}
			w.Header().Set("WWW-Authenticate", `Cookie realm="conserva"`)
			http.Error(w, "401 sign in first (/login)", http.StatusUnauthorized)
			return
		}
		if r.Method == http.MethodPost && !s.validCSRF(w, r, sess.csrf) {
			s.record(r, sess, "csrf-refused", r.URL.Path, "denied")
			s.fail(w, r, sess, http.StatusForbidden, "forbidden", "missing or invalid csrf token")
			return
		}
		allowed := false
		for _, role := range roles {
			if sess.role == role {
				allowed = true
			}
		}
		if !allowed {
			s.record(r, sess, "refused", r.Method+" "+r.URL.Path, "denied")
			s.fail(w, r, sess, http.StatusForbidden, "forbidden", "")
			return
		}
		h(w, r, sess)
	}
}

func (s *Server) validCSRF(w http.ResponseWriter, r *http.Request, want string) bool {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	got := r.PostFormValue("csrf")
	return got != "" && want != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// throttled says how long a user name or address must still wait.
func (s *Server) throttled(keys ...string) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	var wait time.Duration
	for _, k := range keys {
		if f := s.failures[k]; f != nil {
			wait = max(wait, time.Until(f.until))
		}
	}
	return wait
}

// failed counts a failed login: after freeFailures, each one doubles the
// wait (1 s, 2 s, 4 s, … up to maxDelay).
func (s *Server) failed(keys ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.failures) > maxTracked {
		// Forget the oldest first: those no longer waiting.
		for k, f := range s.failures {
			if time.Now().After(f.until) {
				delete(s.failures, k)
			}
		}
	}
	for _, k := range keys {
		f := s.failures[k]
		if f == nil {
			f = &failure{}
			s.failures[k] = f
		}
		f.n++
		free := freeFailures
		if strings.HasPrefix(k, "a:") {
			free = freeAddr
		}
		if f.n >= free {
			f.until = time.Now().Add(min(maxDelay, time.Second<<min(f.n-free, 20)))
		}
	}
}

func (s *Server) succeeded(keys ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range keys {
		delete(s.failures, k)
	}
}

func (s *Server) newSession(w http.ResponseWriter, u *archive.User) {
	tok := randomToken()
	now := time.Now()
	s.mu.Lock()
	for k, old := range s.sessions {
		if now.Sub(old.seen) > s.idle || now.Sub(old.created) > s.max {
			delete(s.sessions, k)
		}
	}
	s.sessions[tok] = &session{user: u.Name, role: u.Role, csrf: randomToken(), created: now, seen: now, checked: now}
	s.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: tok, Path: "/", HttpOnly: true, Secure: s.opts.Secure, SameSite: http.SameSiteStrictMode})
}

func (s *Server) endSession(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(sessionCookie); err == nil {
		s.mu.Lock()
		delete(s.sessions, c.Value)
		s.mu.Unlock()
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: s.opts.Secure, SameSite: http.SameSiteStrictMode})
}
