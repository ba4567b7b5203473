package archive

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/conserva/conserva/internal/atomicfile"
	"github.com/conserva/conserva/storage"
)

// migratedMarker, inside the local store, names the S3 store its objects
// were copied to: only then may the archive be opened on that store.
const migratedMarker = "MIGRATED-TO"

// MigrateSummary is the outcome of a migration.
type MigrateSummary struct {
	To       string `json:"to"`
	Objects  int    `json:"objects"`
	Bytes    int64  `json:"bytes"`
	Existing int    `json:"already_there"`
	Config   bool   `json:"config_updated"`
}

// Migrate copies every object of the local store to an S3 store with
// Object Lock, each checked against its SHA-256, records the messages'
// version ids, and switches conserva.toml to the new store. The local store
// is left as it is (evidence is never deleted here). Rerunning it resumes.
func (a *Archive) Migrate(ctx context.Context, to string, progress func(int)) (MigrateSummary, error) {
	sum := MigrateSummary{To: to}
	local, ok := a.Store.(*storage.Local)
	if !ok {
		return sum, errors.New("migrate: the archive's store is not the local one")
	}
	ret, err := storage.ParseRetention(a.Config.Retention)
	if err != nil {
		return sum, err
	}
	dst, err := storage.OpenS3(ctx, to, storage.S3Options{Retention: ret, Governance: strings.EqualFold(a.Config.RetentionMode, "GOVERNANCE")})
	if err != nil {
		return sum, err
	}
	versions := map[string]string{}
	err = local.List(ctx, "", func(i storage.Info) error {
		if !strings.HasPrefix(i.Key, "messages/") && !strings.HasPrefix(i.Key, "packages/") && !strings.HasPrefix(i.Key, "trust/") {
			return nil
		}
		p := filepath.Join(local.Root(), filepath.FromSlash(i.Key))
		h, err := fileSHA256(p)
		if err != nil {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		res, err := dst.Put(ctx, i.Key, f, h)
		f.Close()
		if err != nil {
			return fmt.Errorf("copying %s: %w", i.Key, err)
		}
		if res.Existed {
			sum.Existing++
		}
		sum.Objects++
		sum.Bytes += i.Size
		if strings.HasPrefix(i.Key, "messages/") {
			versions[strings.TrimSuffix(filepath.Base(i.Key), ".eml")] = res.VersionID
		}
		if progress != nil {
			progress(sum.Objects)
		}
		return nil
	})
	if err != nil {
		return sum, err
	}
	err = a.Catalog.Update(func(get func(string) (*Record, error), put func(*Record) error) error {
		for id, v := range versions {
			r, err := get(id)
			if err != nil || r == nil {
				continue
			}
			r.VersionID = v
			if err := put(r); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return sum, err
	}
	// Written whole, once: a marker already there stays as it is.
	if err := atomicfile.WriteNew(filepath.Join(local.Root(), migratedMarker), []byte(to+"\n"), 0o444); err != nil && !os.IsPermission(err) && !errors.Is(err, os.ErrExist) {
		return sum, err
	}
	sum.Config, err = setStoreInConfig(filepath.Join(a.Dir, "conserva.toml"), to)
	return sum, err
}

var storeLine = regexp.MustCompile(`(?m)^store\s*=\s*".*"\s*$`)

// setStoreInConfig rewrites the store line of conserva.toml.
func setStoreInConfig(path, to string) (bool, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return false, err
	}
	if !storeLine.Match(data) {
		return false, nil
	}
	out := storeLine.ReplaceAll(data, []byte(fmt.Sprintf("store = %q", to)))
	return true, atomicfile.Write(path, out, 0o644)
}

func fileSHA256(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	return storage.HashReader(f)
}

// refuseSilentMove stops an archive whose evidence is in the local store
// from being opened on S3 (where none of it is) unless it was migrated there.
func refuseSilentMove(dir string, cfg Config) error {
	if cfg.Store == "local" {
		return nil
	}
	localStore := filepath.Join(dir, "store")
	entries, err := os.ReadDir(filepath.Join(localStore, "messages"))
	if err != nil || len(entries) == 0 {
		return nil
	}
	if marker, err := os.ReadFile(filepath.Join(localStore, migratedMarker)); err == nil && strings.TrimSpace(string(marker)) == cfg.Store {
		return nil
	}
	return fmt.Errorf("this archive's evidence is in %s (the local store); to move it to %s run `conserva store migrate --to %s` (with the store still local)", localStore, cfg.Store, cfg.Store)
}
