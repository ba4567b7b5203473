// Package atomicfile writes small files (configuration, keys) so that a
// crash or a full disk leaves either the old file or the new one, complete:
// never an empty or truncated file. The data goes to a temporary file in the
// same directory, is fsynced, then renamed (or linked) over the name, and the
// directory is fsynced so that the name itself survives a power loss.
package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Write replaces path with data, atomically and durably.
func Write(path string, data []byte, perm os.FileMode) error {
	return write(path, data, perm, false)
}

// WriteNew creates path with data, atomically and durably; it fails with an
// error matching fs.ErrExist when path exists, and never replaces it (two
// processes racing to create the same file: one wins, whole).
func WriteNew(path string, data []byte, perm os.FileMode) error {
	return write(path, data, perm, true)
}

func write(path string, data []byte, perm os.FileMode, exclusive bool) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	name := tmp.Name()
	defer func() {
		if err != nil {
			os.Remove(name)
		}
	}()
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if exclusive {
		// A link fails when the name exists, where a rename would replace it.
		if err := os.Link(name, path); err != nil {
			if errors.Is(err, fs.ErrExist) {
				return fmt.Errorf("%s: %w", path, fs.ErrExist)
			}
			return err
		}
		os.Remove(name)
	} else if err := os.Rename(name, path); err != nil {
		return err
	}
	return SyncDir(dir)
}

// SyncFile fsyncs a file that is already written.
func SyncFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// SyncDir fsyncs a directory, making the names created in it durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("syncing %s: %w", dir, err)
	}
	return nil
}
