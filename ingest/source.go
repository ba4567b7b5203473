// Package ingest finds messages in the places they arrive: single files,
// directories, mbox files and Maildirs. It yields raw bytes only; parsing
// is the pec package's job and storing the archive's.
package ingest

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
)

// Item is one message found in a source.
type Item struct {
	// Source names where the message came from: a path, "path#N" for the
	// N-th message of an mbox (from 1), later mailbox+UID.
	Source string
	// Size is the size in the source, -1 when unknown.
	Size int64
	// Err is set when the message could not even be located or read; it is
	// reported by name and does not stop the run.
	Err error
	// WantSHA256, when set, is the hash the bytes must have (an object read
	// back from a store names its hash): a mismatch is damage, reported.
	WantSHA256 string
	// Version is the store version the item was read from (rebuild on S3).
	Version string
	// Done, when set, is called once the message is stored and catalogued
	// (or found already catalogued): sources that keep a position (IMAP
	// UIDs) advance it only then.
	Done func()
	open func() (io.ReadCloser, error)
}

// NewItem makes an item from any opener (sources outside this package).
func NewItem(source string, size int64, open func() (io.ReadCloser, error)) Item {
	return Item{Source: source, Size: size, open: open}
}

// Open opens the message's raw bytes.
func (it Item) Open() (io.ReadCloser, error) {
	if it.Err != nil {
		return nil, it.Err
	}
	return it.open()
}

// Source is a place holding messages.
type Source interface {
	String() string
	// Walk calls fn for every message, in a stable order. An error from fn
	// stops the walk and is returned.
	Walk(ctx context.Context, fn func(Item) error) error
}

// Open recognises what spec names: a Maildir (a directory with cur/ and
// new/), a directory (walked recursively, each file being a message, an
// mbox or a Maildir), an mbox file (starting with "From "), or a single
// message file.
func Open(spec string) (Source, error) {
	st, err := os.Stat(spec)
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		if isMaildir(spec) {
			return Maildir{Dir: spec}, nil
		}
		return Dir{Path: spec}, nil
	}
	if st.Mode().IsRegular() {
		if mbox, err := isMbox(spec); err != nil {
			return nil, err
		} else if mbox {
			return Mbox{Path: spec}, nil
		}
		return File{Path: spec}, nil
	}
	return nil, fmt.Errorf("%s: not a file or directory", spec)
}

// File is a single message file (.eml or any name).
type File struct{ Path string }

func (f File) String() string { return f.Path }

func (f File) Walk(ctx context.Context, fn func(Item) error) error {
	return fn(fileItem(f.Path))
}

func fileItem(path string) Item {
	st, err := os.Stat(path)
	if err != nil {
		return Item{Source: path, Size: -1, Err: err}
	}
	return Item{Source: path, Size: st.Size(), open: func() (io.ReadCloser, error) { return os.Open(path) }}
}

// Dir is a directory walked recursively, in lexical order. Hidden entries
// are skipped; nested Maildirs and mbox files are read as such.
type Dir struct{ Path string }

func (d Dir) String() string { return d.Path }

func (d Dir) Walk(ctx context.Context, fn func(Item) error) error {
	return filepath.WalkDir(d.Path, func(p string, e os.DirEntry, err error) error {
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		if err != nil {
			// An unreadable directory or file is named and skipped.
			return fn(Item{Source: p, Size: -1, Err: err})
		}
		if p != d.Path && len(e.Name()) > 0 && e.Name()[0] == '.' {
			if e.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if e.IsDir() {
			if p != d.Path && isMaildir(p) {
				if err := (Maildir{Dir: p}).Walk(ctx, fn); err != nil {
					return err
				}
				return filepath.SkipDir
			}
			return nil
		}
		if !e.Type().IsRegular() {
			return nil
		}
		mbox, err := isMbox(p)
		if err != nil {
			return fn(Item{Source: p, Size: -1, Err: err})
		}
		if mbox {
			return Mbox{Path: p}.Walk(ctx, fn)
		}
		return fn(fileItem(p))
	})
}

// Maildir reads cur/ and new/ (never tmp/, where deliveries are incomplete).
type Maildir struct{ Dir string }

func (m Maildir) String() string { return m.Dir }

func (m Maildir) Walk(ctx context.Context, fn func(Item) error) error {
	for _, sub := range []string{"cur", "new"} {
		entries, err := os.ReadDir(filepath.Join(m.Dir, sub))
		if err != nil {
			if err := fn(Item{Source: filepath.Join(m.Dir, sub), Size: -1, Err: err}); err != nil {
				return err
			}
			continue
		}
		sort.Slice(entries, func(i, j int) bool { return entries[i].Name() < entries[j].Name() })
		for _, e := range entries {
			if err := ctx.Err(); err != nil {
				return err
			}
			if !e.Type().IsRegular() || e.Name()[0] == '.' {
				continue
			}
			if err := fn(fileItem(filepath.Join(m.Dir, sub, e.Name()))); err != nil {
				return err
			}
		}
	}
	return nil
}

func isMaildir(dir string) bool {
	for _, sub := range []string{"cur", "new"} {
		if st, err := os.Stat(filepath.Join(dir, sub)); err != nil || !st.IsDir() {
			return false
		}
	}
	return true
}

func isMbox(path string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	head := make([]byte, 5)
	n, _ := io.ReadFull(bufio.NewReader(f), head)
	return bytes.Equal(head[:n], []byte("From ")), nil
}
