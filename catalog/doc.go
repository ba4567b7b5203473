// Package catalog is conserva's catalog: the bbolt file (catalog.db) that
// says what the store holds, so that search, dossiers, seal and statistics
// need not read the store. Its format (format 2, with the layout of its
// keys and values in internal/catalogfmt) is written down in
// docs/FORMAT.md, section "Catalog".
//
// It keeps one Record per stored message under a number given in the
// order catalogued, the indexes a Query goes through (Message-ID,
// identificativo, address, date, subject words, kind, flag, mailbox,
// waiting for a package), the counts statistics read (Tally), and side
// buckets of small JSON values the archive keeps beside the records
// (journals, packages, audits, users, runs: Bucket). It opens a catalog of
// format 1 by migrating it, loads a large one in bulk (Load), checks its
// own pages and indexes (CheckPages, CheckIndexes), turns a damaged file
// into ErrDamaged instead of a crash, and drops the pages it mapped from
// the process's resident memory on long reads.
//
// It is a cache: every record can be made again from the stored bytes,
// and it does not do that itself. It never reads or writes the store,
// parses or verifies a message (package pec makes what a Record says,
// package archive makes Records, rebuilds the catalog and seals), and
// knows nothing of what the archive keeps in its side buckets beyond
// their names.
package catalog
