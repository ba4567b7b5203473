package main

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"

	"github.com/conserva/conserva/archive"
	"github.com/conserva/conserva/ingest"
	"github.com/conserva/conserva/internal/redact"
)

// openSource turns a SOURCE argument or a configured [[source]] into an
// ingest source. IMAP passwords come from the source's password_env or
// password_file, else CONSERVA_IMAP_PASSWORD; never from the URL.
func openSource(a *archive.Archive, spec string, opts ingest.Options) (ingest.Source, error) {
	if !isIMAP(spec) {
		return ingest.OpenWith(spec, opts)
	}
	var cfg archive.SourceConfig
	for _, s := range a.Config.Sources {
		if s.URL == spec {
			cfg = s
		}
	}
	password := os.Getenv("CONSERVA_IMAP_PASSWORD")
	switch {
	case cfg.PasswordFile != "":
		b, err := os.ReadFile(cfg.PasswordFile)
		if err != nil {
			return nil, fmt.Errorf("%s: password_file: %w", redact.URL(spec), err)
		}
		password = strings.TrimRight(string(b), "\r\n")
	case cfg.PasswordEnv != "":
		password = os.Getenv(cfg.PasswordEnv)
	}
	m, err := ingest.ParseIMAP(spec, password)
	if err != nil {
		return nil, err
	}
	if password == "" {
		return nil, fmt.Errorf("%s: no password (CONSERVA_IMAP_PASSWORD, or password_env / password_file in conserva.toml)", m)
	}
	m.InsecureSkipVerify = cfg.InsecureSkipVerify
	m.Marks = a.Catalog
	m.SpoolDir = a.SpoolDir()
	return m, nil
}

func isIMAP(spec string) bool {
	return strings.HasPrefix(spec, "imap://") || strings.HasPrefix(spec, "imaps://")
}

// skipList collects what directory walks did not take, from the walking
// goroutine.
type skipList struct {
	mu   sync.Mutex
	list []skipped
}

type skipped struct {
	Source string `json:"source"`
	Reason string `json:"reason"`
}

func (s *skipList) add(path, reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.list = append(s.list, skipped{path, reason})
}

func (s *skipList) all() []skipped {
	s.mu.Lock()
	defer s.mu.Unlock()
	// Sources read at once add theirs interleaved: each source's in its
	// walk's order, sources by name.
	list := append([]skipped(nil), s.list...)
	slices.SortStableFunc(list, func(a, b skipped) int { return strings.Compare(a.Source, b.Source) })
	return list
}
