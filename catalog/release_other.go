//go:build !linux

package catalog

// ReleasingMapped does nothing where madvise is not at hand (ReleaseMapped).
func (c *Catalog) ReleasingMapped(int64) (stop func()) { return func() {} }
