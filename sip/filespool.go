package sip

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/conserva/conserva/internal/spool"
)

// FileSpool keeps a list of index files on disk, in the order added, so
// that a package of 100,000 messages (300,000 files, some 80 MB as
// strings) is listed without holding the list: an unlinked temporary
// file, read back as often as needed.
type FileSpool struct {
	f   *os.File
	w   *bufio.Writer
	at  int64
	n   int
	err error // the first failure: every later use returns it
}

// NewFileSpool makes an empty spool in dir ("" for the system's
// temporary directory).
func NewFileSpool(dir string) (*FileSpool, error) {
	f, err := spool.Unlinked(dir, "index-files-*") // nothing is left behind a killed run
	if err != nil {
		return nil, err
	}
	return &FileSpool{f: f, w: bufio.NewWriterSize(f, 64<<10)}, nil
}

// Add appends one file.
func (s *FileSpool) Add(f File) error {
	if s.err != nil {
		return s.err
	}
	var b []byte
	for _, v := range [...]string{f.ID, f.Path, f.SHA256, f.Format, f.Extension} {
		b = binary.AppendUvarint(b, uint64(len(v)))
		b = append(b, v...)
	}
	b = binary.AppendVarint(b, f.Size)
	var n int
	n, s.err = s.w.Write(b)
	s.at += int64(n)
	s.n++
	return s.err
}

// Len is the number of files added.
func (s *FileSpool) Len() int { return s.n }

// List is the spool as an index's list of files: what was added so far.
func (s *FileSpool) List() FileList {
	return FileList{Len: s.n, Each: s.Each}
}

// Each calls fn with every file added so far, in order.
func (s *FileSpool) Each(fn func(File) error) error {
	if s.err == nil {
		s.err = s.w.Flush()
	}
	if s.err != nil {
		return s.err
	}
	r := bufio.NewReaderSize(io.NewSectionReader(s.f, 0, s.at), 64<<10)
	str := func() (string, error) {
		n, err := binary.ReadUvarint(r)
		if err != nil || n > 1<<20 {
			return "", fmt.Errorf("index files spool: %v (length %d)", err, n)
		}
		b := make([]byte, n)
		_, err = io.ReadFull(r, b)
		return string(b), err
	}
	for i := 0; i < s.n; i++ {
		var f File
		var err error
		for _, v := range [...]*string{&f.ID, &f.Path, &f.SHA256, &f.Format, &f.Extension} {
			if *v, err = str(); err != nil {
				return err
			}
		}
		if f.Size, err = binary.ReadVarint(r); err != nil {
			return fmt.Errorf("index files spool: %w", err)
		}
		if err := fn(f); err != nil {
			return err
		}
	}
	return nil
}

// Close drops the spool.
func (s *FileSpool) Close() error {
	if s.f == nil {
		return nil
	}
	err := s.f.Close()
	s.f, s.err = nil, errors.New("index files spool: closed")
	return err
}
