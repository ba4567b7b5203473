package archive

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/conserva/conserva/storage"
)

// ErrCatalogLost: catalog.db is gone while the store holds messages.
// Making a new, empty catalog there would hide every message from search
// and audit, and let the next ingest and seal put sealed messages into a
// second package.
var ErrCatalogLost = errors.New("catalog.db is missing but the store holds messages: run conserva catalog rebuild")

var errFound = errors.New("found")

// refuseLostCatalog returns ErrCatalogLost when the catalog file is absent
// and the store is not empty.
func refuseLostCatalog(dir string, store storage.Store) error {
	if _, err := os.Stat(filepath.Join(dir, "catalog.db")); !errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := store.List(ctx, "messages/", func(storage.Info) error { return errFound })
	switch {
	case errors.Is(err, errFound):
		return ErrCatalogLost
	case err != nil:
		return fmt.Errorf("catalog.db is missing and the store cannot be listed to tell whether it holds messages: %w", err)
	}
	return nil
}
