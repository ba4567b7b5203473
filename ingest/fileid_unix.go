//go:build unix

package ingest

import (
	"os"
	"syscall"
)

// fileID is a file's device and inode.
func fileID(st os.FileInfo) (dirID, bool) {
	if s, ok := st.Sys().(*syscall.Stat_t); ok {
		return dirID{dev: uint64(s.Dev), ino: uint64(s.Ino)}, true //nolint:unconvert // int32 on some systems
	}
	return dirID{}, false
}
