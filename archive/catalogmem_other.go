//go:build !linux

package archive

import bolt "go.etcd.io/bbolt"

// ReleaseMapped does nothing where madvise is not at hand.
func (c *Catalog) ReleaseMapped() error { return nil }

func (c *Catalog) releaseLarge() error { return nil }

func releaseMappedIn(*bolt.Tx) error { return nil }
