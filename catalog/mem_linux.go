package catalog

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

// keepMapped is the size below which ReleaseLarge leaves a catalog
// mapped: each page read through the mapping costs a fault that maps its
// neighbours too (tens of µs on a virtual machine), and every page a
// write changes is written elsewhere, so a catalog released after every
// batch faulted most of its pages back in the next. At most this much of
// a small catalog stays resident; a large one is read at random all over
// and is released as before.
const keepMapped = 32 << 20

// ReleaseLarge is ReleaseMapped for a catalog larger than keepMapped.
func (c *Catalog) ReleaseLarge() error {
	return c.db.View(func(tx *bolt.Tx) error {
		if tx.Size() <= keepMapped {
			return nil
		}
		return releaseMappedIn(tx)
	})
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
