//go:build !linux

package storage

import "os"

func (l *Local) tempFile(dir string) (temp, error) { return l.namedTemp() }

// syncFSCoversDirs: sync(2) may return before the metadata is written.
const syncFSCoversDirs = false

// syncFS has no portable form: fall back to the directory entries only,
// which SyncDirs already covers, after a full sync of the data.
func syncFS(dir string) error {
	syscallSync()
	return nil
}

// startWriteback has no portable form: Sync writes everything.
func startWriteback(*os.File) {}
