package archive

import (
	bolt "go.etcd.io/bbolt"
	"golang.org/x/sys/unix"
)

// ReleaseMapped drops the catalog's mapped pages from the process's
// resident memory. They stay in the page cache and come back on the next
// read: a long ingest reads most of the file, and without this the whole
// catalog would count in its resident memory, growing with every message.
func (c *Catalog) ReleaseMapped() error {
	// A read transaction holds bbolt's mmap lock: no remap meanwhile.
	return c.db.View(releaseMappedIn)
}

// releaseMappedIn is ReleaseMapped inside a transaction the caller holds
// (its mmap lock keeps the mapping where it is).
func releaseMappedIn(tx *bolt.Tx) error {
	size := tx.Size()
	if size <= 0 {
		return nil
	}
	// The mapping is shared and read-only: MADV_DONTNEED only unmaps
	// pages of the file, it never changes or loses a byte.
	if _, _, errno := unix.Syscall(unix.SYS_MADVISE, tx.DB().Info().Data, uintptr(size), unix.MADV_DONTNEED); errno != 0 {
		return errno
	}
	return nil
}
