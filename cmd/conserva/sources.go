package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/conserva/conserva/archive"
	"github.com/conserva/conserva/ingest"
	"github.com/conserva/conserva/internal/redact"
)

// openSource turns a SOURCE argument or a configured [[source]] into an
// ingest source. IMAP passwords come from the source's password_env or
// password_file, else CONSERVA_IMAP_PASSWORD; never from the URL.
func openSource(a *archive.Archive, spec string) (ingest.Source, error) {
	if !strings.HasPrefix(spec, "imap://") && !strings.HasPrefix(spec, "imaps://") {
		return ingest.Open(spec)
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
	return m, nil
}
