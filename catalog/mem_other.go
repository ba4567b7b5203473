//go:build !linux

package catalog

import bolt "go.etcd.io/bbolt"

// ReleaseMapped does nothing where madvise is not at hand.
func (c *Catalog) ReleaseMapped() error { return nil }

// ReleaseLarge does nothing where madvise is not at hand.
func (c *Catalog) ReleaseLarge() error { return nil }

func releaseMappedIn(*bolt.Tx) error { return nil }
