//go:build !unix

package ingest

import "os"

// fileID: no inode here; loops are then bounded by the path length limit.
func fileID(os.FileInfo) (dirID, bool) { return dirID{}, false }
