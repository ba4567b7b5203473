//go:build !linux

package storage

import "os"

func (l *Local) tempFile(dir string) (*os.File, func(string) error, error) { return l.namedTemp() }
