// Package spool keeps one large message's bytes in a temporary file while
// it is parsed, verified and stored, so that no command holds a message of
// hundreds of megabytes in memory. The file is unlinked as soon as it is
// created: a crash leaves nothing behind, and nothing but this process can
// see the bytes. The bytes are hashed on the way in, so what is parsed and
// stored afterwards is exactly what was hashed, whatever the source does.
package spool

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
)

// ErrTooLarge: the source held more than the limit given to Write.
var ErrTooLarge = errors.New("larger than the limit")

// File is a spooled message.
type File struct {
	f      *os.File
	name   string // set when the file could not be unlinked while open
	Size   int64
	SHA256 string // hex
}

// Write copies r into an unlinked temporary file in dir (the system's when
// dir is ""), hashing it. More than max bytes (when max > 0) is ErrTooLarge.
func Write(dir string, r io.Reader, max int64) (*File, error) {
	if dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("spool directory: %w", err)
		}
	}
	f, err := os.CreateTemp(dir, ".spool-*")
	if err != nil {
		return nil, fmt.Errorf("spool file: %w", err)
	}
	// Unlinked at once: nothing to clean after a crash. (Where an open file
	// cannot be removed, Close removes it.)
	unlinked := os.Remove(f.Name()) == nil
	s := &File{f: f}
	if !unlinked {
		s.name = f.Name()
	}
	h := sha256.New()
	src := r
	if max > 0 {
		src = io.LimitReader(r, max+1)
	}
	n, err := io.Copy(io.MultiWriter(f, h), src)
	if err == nil && max > 0 && n > max {
		err = fmt.Errorf("message %w of %d bytes", ErrTooLarge, max)
	}
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("spooling: %w", err)
	}
	s.Size, s.SHA256 = n, hex.EncodeToString(h.Sum(nil))
	return s, nil
}

// Unlinked creates a scratch file in dir (made if missing; the system's
// temporary directory when dir is "") and removes its name at once:
// nothing is left behind a killed run, and no other process can open it.
func Unlinked(dir, pattern string) (*os.File, error) {
	if dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, err
		}
	}
	f, err := os.CreateTemp(dir, pattern)
	if err != nil {
		return nil, err
	}
	_ = os.Remove(f.Name())
	return f, nil
}

// ReadAt reads the spooled bytes (io.ReaderAt).
func (s *File) ReadAt(p []byte, off int64) (int, error) { return s.f.ReadAt(p, off) }

// Reader reads the spooled bytes from the start; each call is independent.
func (s *File) Reader() io.Reader { return io.NewSectionReader(s.f, 0, s.Size) }

// Close frees the file.
func (s *File) Close() error {
	err := s.f.Close()
	if s.name != "" {
		os.Remove(s.name)
	}
	return err
}
