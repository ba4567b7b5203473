package archive

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/conserva/conserva/storage"
	berrors "go.etcd.io/bbolt/errors"
)

// Shared is an archive home used by a long-running process (conserva
// serve) beside the command line and the nightly job. bbolt lets one
// process write at a time and holds its file lock for as long as the
// database is open, so Shared keeps the configuration and the store open
// but opens the catalog only for the length of one use: read-only (a
// shared lock, which a writer waits for only that long) for reading, and
// read-write briefly for the few writes (legal hold, users).
type Shared struct {
	Dir           string
	Config        Config
	Store         storage.Store
	Log           *slog.Logger
	Version       string
	RootsOverride RootsOptions
	// Wait is how long one use waits for another process to release the
	// catalog before giving up with ErrBusy.
	Wait time.Duration
	segs *segCache // shared by every use: segments never change
}

// OpenShared opens the archive in dir for shared use. The catalog must be
// usable: it is opened (created if need be) once, then closed.
func OpenShared(dir string, log *slog.Logger) (*Shared, error) {
	a, err := Open(dir, log)
	if err != nil {
		return nil, err
	}
	s := &Shared{Dir: a.Dir, Config: a.Config, Store: a.Store, Log: a.Log, Version: a.Version, Wait: 10 * time.Second, segs: a.segs}
	if err := a.Close(); err != nil {
		return nil, err
	}
	return s, nil
}

// View runs fn on the archive with its catalog open read-only. A write
// attempted in fn fails with an error that IsReadOnly recognises.
func (s *Shared) View(ctx context.Context, fn func(*Archive) error) error {
	return s.use(ctx, true, fn)
}

// Update runs fn on the archive with its catalog open read-write: keep fn
// short, every other process waits for it.
func (s *Shared) Update(ctx context.Context, fn func(*Archive) error) error {
	return s.use(ctx, false, fn)
}

// IsReadOnly says whether err is a write refused by a read-only catalog.
func IsReadOnly(err error) bool { return errors.Is(err, berrors.ErrDatabaseReadOnly) }

func (s *Shared) use(ctx context.Context, readOnly bool, fn func(*Archive) error) error {
	path := filepath.Join(s.Dir, "catalog.db")
	deadline := time.Now().Add(s.Wait)
	var cat *Catalog
	var err error
	// Short waits, retried, so that a cancelled request stops waiting.
	for {
		step := min(time.Until(deadline), time.Second)
		if step <= 0 {
			step = time.Millisecond
		}
		if readOnly {
			cat, err = OpenCatalogReadOnly(path, step)
		} else {
			cat, err = OpenCatalog(path, step)
		}
		if err == nil || !errors.Is(err, ErrBusy) || time.Now().After(deadline) {
			break
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	if err != nil {
		return err
	}
	defer cat.Close()
	a := &Archive{Dir: s.Dir, Config: s.Config, Store: s.Store, Catalog: cat, Log: s.Log, Version: s.Version, RootsOverride: s.RootsOverride, segs: s.segs}
	return fn(a)
}
