//go:build unix

package ingest

import (
	"errors"
	"io/fs"
	"os"

	"golang.org/x/sys/unix"
)

// openRead opens a file for reading in two system calls (open, and the
// flags os.NewFile reads). os.Open takes six: it also offers the file to
// the poller, which refuses a regular file, switching it to non-blocking
// and back; on a 7 KB message that cost more than reading it.
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
