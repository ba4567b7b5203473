package catalog

import (
	"bytes"
	"os"
	"strconv"
	"time"
)

// releaseCheckPeriod is how often a long read of the catalog looks at how
// much of the file it holds resident (ReleasingMapped).
const releaseCheckPeriod = 10 * time.Millisecond

// ReleasingMapped drops the catalog's mapped pages from resident memory
// whenever the process's resident file pages have grown by above bytes,
// until the returned stop is called: for passes that read much of the
// catalog in one transaction or at random (the page check, bbolt's Check
// in a goroutine of its own, the rebuild's lookups in both catalogs).
// Every page they touch would otherwise stay resident, and the kernel maps
// up to 64 KB around each one read: the whole file (1.2 KB per message)
// would count in the process's memory. Released by what was read, not by
// the clock: each release makes the next reads fault again, and costs a
// walk of the whole mapping.
func (c *Catalog) ReleasingMapped(above int64) (stop func()) {
	done, finished := make(chan struct{}), make(chan struct{})
	// The starting level is read before returning: read in the
	// goroutine, it could come after the pass's first reads (a loaded
	// machine schedules it late) and count them as the base.
	base, ok := residentShared()
	go func() {
		defer close(finished)
		t := time.NewTicker(releaseCheckPeriod)
		defer t.Stop()
		for ok {
			select {
			case <-done:
				return
			case <-t.C:
			}
			var now int64
			if now, ok = residentShared(); ok && now > base+above {
				_ = c.ReleaseMapped() // memory only
				base, ok = residentShared()
			} else if ok && now < base {
				base = now // other file pages went: growth counts from here
			}
		}
	}()
	return func() {
		close(done)
		<-finished
		_ = c.ReleaseMapped()
	}
}

// residentShared is the process's resident file-backed memory (the
// program's text and the mapped catalogs), from /proc/self/statm.
func residentShared() (int64, bool) {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0, false
	}
	f := bytes.Fields(b)
	if len(f) < 3 {
		return 0, false
	}
	pages, err := strconv.ParseInt(string(f[2]), 10, 64)
	return pages * int64(os.Getpagesize()), err == nil
}
