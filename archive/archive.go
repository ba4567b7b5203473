// Package archive ties the parts together: the archive home, its store
// and catalog, and the flows (ingest, dossiers, search) over them.
package archive

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/conserva/conserva/internal/bytesize"
	"github.com/conserva/conserva/pec"
	"github.com/conserva/conserva/storage"
)

// Archive is an open archive home.
type Archive struct {
	Dir     string
	Config  Config
	Store   storage.Store
	Catalog *Catalog
	Log     *slog.Logger
	// Version is written into package indexes (CreatingApplication).
	Version string
	// RootsOverride are the --signer-roots / --tsa-roots of this run.
	RootsOverride RootsOptions
	roots         *Roots
	segs          *segCache // member indexes of package segments (segments.go)
}

// Open opens the archive in dir, creating it on first use.
func Open(dir string, log *slog.Logger) (*Archive, error) { return open(dir, log, false) }

// OpenForRebuild opens the archive even when its catalog cannot be opened
// (damaged): Catalog is then nil, and Rebuild makes a new one.
func OpenForRebuild(dir string, log *slog.Logger) (*Archive, error) { return open(dir, log, true) }

func open(dir string, log *slog.Logger, anyCatalog bool) (*Archive, error) {
	if dir == "" {
		return nil, errors.New("no archive: set CONSERVA_ARCHIVE or --archive DIR")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("archive home: %w", err)
	}
	cfg, err := loadConfig(dir)
	if err != nil {
		return nil, err
	}
	if err := refuseSilentMove(dir, cfg); err != nil {
		return nil, err
	}
	store, err := openStore(dir, cfg)
	if err != nil {
		return nil, err
	}
	if !anyCatalog {
		if err := refuseLostCatalog(dir, store); err != nil {
			return nil, err
		}
	}
	cat, err := OpenCatalog(filepath.Join(dir, "catalog.db"), 5*time.Second)
	if err != nil && (!anyCatalog || errors.Is(err, ErrBusy)) {
		return nil, err
	}
	if err != nil {
		log.Warn("the catalog cannot be opened: rebuilding without it", "error", err)
	}
	return &Archive{Dir: dir, Config: cfg, Store: store, Catalog: cat, Log: log, Version: "dev", segs: &segCache{}}, nil
}

// Close releases the catalog.
func (a *Archive) Close() error {
	if a.Catalog == nil {
		return nil
	}
	return a.Catalog.Close()
}

// Limits are the parsing limits from the configuration.
// Each call gives a run its own certificate cache: a provider's
// certificates come with each of its messages and are parsed once.
func (a *Archive) Limits() pec.Limits {
	lim := pec.DefaultLimits()
	lim.Certs = pec.NewCertCache()
	if n, err := bytesize.Parse(a.Config.MaxMessageSize); err == nil {
		lim.MaxSize = n
	}
	return lim
}

// Trust loads the trust anchors: the given file, else the configured one;
// nil (and no error) when neither is set.
func (a *Archive) Trust(override string) (*pec.TrustStore, error) {
	path := override
	if path == "" && a.Config.Trust != "" {
		path = a.Config.Trust
		if !filepath.IsAbs(path) {
			path = filepath.Join(a.Dir, path)
		}
	}
	if path == "" {
		return nil, nil
	}
	return pec.LoadTrustFile(path)
}

func openStore(dir string, cfg Config) (storage.Store, error) {
	if cfg.Store == "local" {
		return storage.OpenLocal(filepath.Join(dir, "store"))
	}
	ret, err := storage.ParseRetention(cfg.Retention)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	part, _ := bytesize.Parse(cfg.Ingest.S3PartSize) // checked by loadConfig
	return storage.OpenS3(ctx, cfg.Store, storage.S3Options{Retention: ret, Governance: strings.EqualFold(cfg.RetentionMode, "GOVERNANCE"), PartSize: part})
}
