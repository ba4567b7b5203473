package storage

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// tempFile opens an unnamed file in dir (O_TMPFILE): no directory entry
// until publish links it under its final name, so there is nothing to clean
// after a crash and one directory operation per object instead of three.
// It is created read-only (the descriptor still writes): no chmod after.
func (l *Local) tempFile(dir string) (temp, error) {
	fd, err := unix.Open(dir, unix.O_TMPFILE|unix.O_WRONLY|unix.O_CLOEXEC, 0o444)
	if errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.EISDIR) || errors.Is(err, unix.EINVAL) {
		return l.namedTemp()
	}
	if err != nil {
		return temp{}, fmt.Errorf("temporary file in %s: %w", dir, err)
	}
	f := os.NewFile(uintptr(fd), dir+"/(unnamed)")
	return temp{f: f, readOnly: true, publish: func(dst string) error {
		if dst == "" {
			return nil // the descriptor's close frees it
		}
		return l.link(fd, dst)
	}}, nil
}

// link names an unnamed file. By its descriptor when allowed (no path to
// resolve: a third of the cost of linking 100,000 small messages through
// /proc); else through /proc/self/fd, remembered for the next objects.
func (l *Local) link(fd int, dst string) error {
	if !l.procLink.Load() {
		err := unix.Linkat(fd, "", unix.AT_FDCWD, dst, unix.AT_EMPTY_PATH)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, unix.EEXIST):
			return os.ErrExist
		case errors.Is(err, unix.ENOENT) || errors.Is(err, unix.EPERM):
			// Refused for want of the capability (ENOENT), or a missing
			// directory: /proc tells which.
		default:
			return err
		}
	}
	err := unix.Linkat(unix.AT_FDCWD, fmt.Sprintf("/proc/self/fd/%d", fd), unix.AT_FDCWD, dst, unix.AT_SYMLINK_FOLLOW)
	switch {
	case err == nil:
		l.procLink.Store(true)
		return nil
	case errors.Is(err, unix.EEXIST):
		return os.ErrExist
	case errors.Is(err, unix.ENOENT):
		return fmt.Errorf("linking %s (is /proc mounted?): %w", dst, err)
	}
	return err
}

// syncFSCoversDirs: syncfs(2) writes the file system's metadata too (new
// directory entries included), so no directory needs an fsync of its own.
const syncFSCoversDirs = true

// syncFS flushes the whole file system holding dir.
func syncFS(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return unix.Syncfs(int(f.Fd()))
}

// startWriteback asks the kernel to start writing f's dirty pages without
// waiting for them (a hint: durability still comes from Sync).
func startWriteback(f *os.File) {
	_ = unix.SyncFileRange(int(f.Fd()), 0, 0, unix.SYNC_FILE_RANGE_WRITE)
}
