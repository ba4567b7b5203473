//go:build unix

package ingest

import (
	"errors"
	"io/fs"
	"os"

	"golang.org/x/sys/unix"
)

// openRead opens a file for reading in one system call. os.Open also
// offers every file to the poller, which refuses a regular file: five calls
// more, which on a 7 KB message cost more than reading it.
func openRead(path string) (*os.File, error) {
	for {
		fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if errors.Is(err, unix.EINTR) {
			continue // as os.Open does: a signal (the runtime's own) interrupted it
		}
		if err != nil {
			return nil, &fs.PathError{Op: "open", Path: path, Err: err}
		}
		return os.NewFile(uintptr(fd), path), nil
	}
}
