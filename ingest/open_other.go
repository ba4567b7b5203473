//go:build !unix

package ingest

import "os"

func openRead(path string) (*os.File, error) { return os.Open(path) }
