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
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	"github.com/conserva/conserva/internal/spool"
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
	// release frees what the source keeps for the item (Release).
	release func()
	// spooled is the source's own spool of the bytes, when it made one.
	spooled *spool.File
	// held are the bytes when the source read them whole already.
	held   []byte
	isHeld bool
}

// NewItem makes an item from any opener (sources outside this package).
func NewItem(source string, size int64, open func() (io.ReadCloser, error)) Item {
	return Item{Source: source, Size: size, open: open}
}

// Release frees what the source keeps for the item until it is done
// with (an IMAP message's bytes in memory or in a spool file): called once
// the item has been ingested or refused, whatever the outcome. Safe on
// any item, and more than once.
func (it Item) Release() {
	if it.release != nil {
		it.release()
	}
}

// Spooled is the spool file the source wrote the message's bytes to (hashed
// as they were written), or nil: a caller that would spool them itself
// reads this one instead. It stays open until Release.
func (it Item) Spooled() *spool.File { return it.spooled }

// Open opens the message's raw bytes.
func (it Item) Open() (io.ReadCloser, error) {
	if it.Err != nil {
		return nil, it.Err
	}
	if it.isHeld {
		return io.NopCloser(bytes.NewReader(it.held)), nil
	}
	return it.open()
}

// Held returns the message's bytes when the source has read them whole
// already (small files: see holdMax); ok is false otherwise, and Open reads
// them. The caller must not modify them.
func (it Item) Held() (b []byte, ok bool) { return it.held, it.isHeld && it.Err == nil }

// Source is a place holding messages.
type Source interface {
	String() string
	// Walk calls fn for every message, in a stable order. An error from fn
	// stops the walk and is returned.
	Walk(ctx context.Context, fn func(Item) error) error
}

// Options tune how a path is read.
type Options struct {
	// AllFiles takes every regular file of a directory as a message, not
	// only the files that look like one.
	AllFiles bool
	// Skipped, when set, is told of every entry of a directory that is not
	// taken, and why (not a message, hidden, a symlink loop, …). It may be
	// called from the goroutine that walks the source.
	Skipped func(path, reason string)
}

// Open recognises what spec names, with the default options (a directory
// takes only the files that look like messages).
func Open(spec string) (Source, error) { return OpenWith(spec, Options{}) }

// OpenWith recognises what spec names: a Maildir (a directory with cur/ and
// new/), a directory (walked recursively, each file being a message, an
// mbox or a Maildir), an mbox file (starting with "From "), or a single
// message file. A symlink given here is followed.
func OpenWith(spec string, opts Options) (Source, error) {
	st, err := os.Stat(spec)
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		if isMaildir(spec) {
			return Maildir{Dir: spec, Skipped: opts.Skipped}, nil
		}
		return Dir{Path: spec, AllFiles: opts.AllFiles, Skipped: opts.Skipped}, nil
	}
	if st.Mode().IsRegular() {
		if mbox, err := isMbox(spec); err != nil {
			return nil, err
		} else if mbox {
			return Mbox{Path: spec}, nil
		}
		// A file named on the command line is taken whatever it holds: the
		// user chose it.
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
	if st.Size() > holdMax {
		return statItem(path, st)
	}
	b, whole, err := readStart(path, st.Size())
	if err != nil {
		return Item{Source: path, Size: -1, Err: err}
	}
	if !whole {
		return statItem(path, st) // it grew: read to its end when taken
	}
	return heldItem(path, b)
}

// statItem is the file at path, of the size st says; a file that changed
// since is read to its end all the same.
func statItem(path string, st fs.FileInfo) Item {
	return Item{Source: path, Size: st.Size(), open: func() (io.ReadCloser, error) { return openRead(path) }}
}

// heldItem is a file read whole by the walk.
func heldItem(path string, b []byte) Item {
	return Item{Source: path, Size: int64(len(b)), held: b, isHeld: true}
}

// holdMax: a file of at most this size is read whole when the walk meets
// it (a directory's walk reads its start anyway, to tell a message from
// other files) and handed on as bytes, not opened a second time: the
// second open and read were a tenth of the CPU of an ingest of small
// messages. At most 4 × workers items wait to be taken: a few megabytes.
const holdMax = 64 << 10

// readStart reads a file of the given size (as a stat said): whole when it
// is at most holdMax, else its first sniffLen bytes. whole says that the
// end of the file was reached within holdMax bytes; a file that grew past
// its size is not whole, and head then holds at least what a sniff reads.
func readStart(path string, size int64) (head []byte, whole bool, err error) {
	f, err := openRead(path)
	if err != nil {
		return nil, false, err
	}
	defer f.Close()
	want := int64(sniffLen)
	if size >= 0 && size <= holdMax {
		want = size + 1 // +1 notices a file that grew
	}
	head = make([]byte, want)
	n, err := io.ReadFull(f, head)
	switch {
	case err == io.EOF || err == io.ErrUnexpectedEOF:
		return head[:n], size >= 0 && size <= holdMax, nil
	case err != nil:
		return nil, false, err
	case n < sniffLen:
		// It grew: read on as far as a sniff looks.
		more := make([]byte, sniffLen-n)
		k, err := io.ReadFull(f, more)
		if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
			return nil, false, err
		}
		head = append(head, more[:k]...)
	}
	return head, false, nil
}

// Dir is a directory walked recursively, in lexical order. Nested Maildirs
// and mbox files are read as such; other files are taken when they look
// like a message (see LooksLikeMessage), or all of them with AllFiles.
// Symlinks are followed, each directory read once (a loop is reported, not
// followed). Whatever is not taken is told to Skipped with the reason.
type Dir struct {
	Path     string
	AllFiles bool
	Skipped  func(path, reason string)
}

func (d Dir) String() string { return d.Path }

func (d Dir) skip(path, reason string) {
	if d.Skipped != nil {
		d.Skipped(path, reason)
	}
}

// dirID identifies a directory whatever path leads to it.
type dirID struct{ dev, ino uint64 }

func (d Dir) Walk(ctx context.Context, fn func(Item) error) error {
	st, err := os.Stat(d.Path)
	if err != nil {
		return fn(Item{Source: d.Path, Size: -1, Err: err})
	}
	seen := map[dirID]string{}
	if id, ok := fileID(st); ok {
		seen[id] = d.Path
	}
	return d.walk(ctx, d.Path, seen, fn)
}

func (d Dir) walk(ctx context.Context, dir string, seen map[dirID]string, fn func(Item) error) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		// An unreadable directory is named and skipped.
		return fn(Item{Source: dir, Size: -1, Err: err})
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name() < entries[j].Name() })
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return err
		}
		p := filepath.Join(dir, e.Name())
		if e.Name()[0] == '.' {
			d.skip(p, "hidden")
			continue
		}
		// Stat follows a symlink; a broken one is named.
		st, err := os.Stat(p)
		if err != nil {
			if e.Type()&fs.ModeSymlink != 0 {
				d.skip(p, fmt.Sprintf("broken symlink: %v", err))
				continue
			}
			if err := fn(Item{Source: p, Size: -1, Err: err}); err != nil {
				return err
			}
			continue
		}
		switch {
		case st.IsDir():
			if id, ok := fileID(st); ok {
				if first, dup := seen[id]; dup {
					d.skip(p, fmt.Sprintf("a directory already read as %s (symlink loop or second link)", first))
					continue
				}
				seen[id] = p
			}
			if isMaildir(p) {
				if err := (Maildir{Dir: p, Skipped: d.Skipped}).Walk(ctx, fn); err != nil {
					return err
				}
				continue
			}
			if err := d.walk(ctx, p, seen, fn); err != nil {
				return err
			}
		case st.Mode().IsRegular():
			if err := d.file(p, st, fn); err != nil {
				return err
			}
		default:
			d.skip(p, "not a regular file ("+st.Mode().Type().String()+")")
		}
	}
	return nil
}

// file takes one regular file of a directory: an mbox, a message, or
// (with AllFiles) anything.
func (d Dir) file(p string, st fs.FileInfo, fn func(Item) error) error {
	b, whole, err := readStart(p, st.Size())
	if err != nil {
		return fn(Item{Source: p, Size: -1, Err: err})
	}
	head := b[:min(len(b), sniffLen)]
	if bytes.HasPrefix(head, []byte("From ")) {
		return Mbox{Path: p}.Walk(context.Background(), fn)
	}
	if !d.AllFiles {
		if ok, why := LooksLikeMessage(head); !ok {
			d.skip(p, "not a message: "+why+" (--all-files takes it)")
			return nil
		}
	}
	if whole {
		return fn(heldItem(p, b))
	}
	return fn(statItem(p, st)) // the walk's Stat: no second one
}

// Maildir reads cur/ and new/ (never tmp/, where deliveries are incomplete).
// Every file there is a message, whatever it looks like; symlinks are
// followed; what is not taken is told to Skipped.
type Maildir struct {
	Dir     string
	Skipped func(path, reason string)
}

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
			p := filepath.Join(m.Dir, sub, e.Name())
			if e.Name()[0] == '.' {
				m.skip(p, "hidden")
				continue
			}
			if !e.Type().IsRegular() {
				st, err := os.Stat(p) // a symlink is followed
				if err != nil {
					m.skip(p, fmt.Sprintf("broken symlink: %v", err))
					continue
				}
				if !st.Mode().IsRegular() {
					m.skip(p, "not a regular file ("+st.Mode().Type().String()+")")
					continue
				}
			}
			if err := fn(fileItem(p)); err != nil {
				return err
			}
		}
	}
	return nil
}

func (m Maildir) skip(path, reason string) {
	if m.Skipped != nil {
		m.Skipped(path, reason)
	}
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
