//go:build !linux

package archive

// ReleaseMapped does nothing where madvise is not at hand.
func (c *Catalog) ReleaseMapped() error { return nil }
