package storage

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
)

// Local is a write-once directory. An object is written to an unnamed
// temporary file (O_TMPFILE; a named one in .tmp where the file system
// lacks it), fsynced, then hard-linked into place: link(2) fails if the
// name exists, so an object can never be replaced, even by a racing writer,
// and a killed writer leaves nothing behind.
// Files are made read-only (0444). Directory entries become durable at
// SyncDirs, which the caller runs before recording the objects anywhere.
type Local struct {
	root string
	tmp  string

	mu    sync.Mutex
	dirty map[string]bool // directories with new entries since the last SyncDirs
	dirs  sync.Map        // directories known to exist: no MkdirAll (a stat) per object

	// bufs are copy buffers: io.Copy would allocate (and zero) 32 KB per
	// object, which for a seal's hundreds of thousands of small metadata and
	// evidence-record files was gigabytes and a tenth of its time.
	bufs sync.Pool

	// procLink: linking an unnamed file by its descriptor (AT_EMPTY_PATH)
	// was refused (it needs CAP_DAC_READ_SEARCH); link through /proc.
	procLink atomic.Bool
}

// OpenLocal opens (creating if needed) a local store rooted at dir.
func OpenLocal(dir string) (*Local, error) {
	tmp := filepath.Join(dir, ".tmp")
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return nil, fmt.Errorf("local store: %w", err)
	}
	// Leftovers of a killed writer: never linked, so never evidence.
	if entries, err := os.ReadDir(tmp); err == nil {
		for _, e := range entries {
			_ = os.Remove(filepath.Join(tmp, e.Name()))
		}
	}
	return &Local{root: dir, tmp: tmp, dirty: map[string]bool{}}, nil
}

// Root is the store's directory.
func (l *Local) Root() string { return l.root }

func (l *Local) path(key string) (string, error) {
	if err := validKey(key); err != nil {
		return "", err
	}
	return filepath.Join(l.root, filepath.FromSlash(key)), nil
}

// validKey accepts clean relative slash paths that do not start with a dot.
func validKey(key string) error {
	clean := path.Clean(key)
	if key == "" || clean != key || strings.HasPrefix(clean, "/") || strings.HasPrefix(clean, "../") || clean == ".." || strings.HasPrefix(clean, ".") {
		return fmt.Errorf("invalid object key %q", key)
	}
	return nil
}

func (l *Local) Put(ctx context.Context, key string, r io.Reader, wantSHA256 string) (PutResult, error) {
	return l.put(ctx, key, r, wantSHA256, true)
}

// PutDeferred is Put without the per-object fsync: the object becomes
// durable at the next Sync. For many small derived objects (package
// metadata) written before one commit point.
func (l *Local) PutDeferred(ctx context.Context, key string, r io.Reader, wantSHA256 string) (PutResult, error) {
	return l.put(ctx, key, r, wantSHA256, false)
}

// Sync makes every object written so far durable: the whole file system is
// flushed once (syncfs), then the new directory entries.
func (l *Local) Sync(ctx context.Context) error {
	if syncFSCoversDirs {
		// Entries made from now on stay dirty: the next Sync covers them.
		l.mu.Lock()
		l.dirty = map[string]bool{}
		l.mu.Unlock()
	}
	if err := syncFS(l.root); err != nil {
		return fmt.Errorf("syncing %s: %w", l.root, err)
	}
	return l.SyncDirs(ctx)
}

// writebackOver: objects of at least this size start their writeback as
// soon as they are written; for smaller ones asking for it cost more than
// the write itself (100,000 small messages: a tenth of the ingest), and
// the batch's one Sync writes them together.
const writebackOver = 64 << 10

func (l *Local) put(ctx context.Context, key string, r io.Reader, wantSHA256 string, sync bool) (PutResult, error) {
	p, err := l.path(key)
	if err != nil {
		return PutResult{}, err
	}
	// Bytes held in memory (an ingest's messages) are new objects almost
	// always: no look first (a path walk per object); an existing one is
	// found when the link refuses the name, and compared then.
	if _, held := known(r, wantSHA256); !held {
		if st, err := os.Stat(p); err == nil {
			return l.existing(key, p, st.Size(), wantSHA256, r)
		}
	}
	dir := filepath.Dir(p)
	if _, ok := l.dirs.Load(dir); !ok {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return PutResult{}, err
		}
		l.dirs.Store(dir, true)
	}
	t, err := l.tempFile(dir)
	if errors.Is(err, fs.ErrNotExist) {
		// Removed behind the store's back since it was made: make it again.
		l.dirs.Delete(dir)
		if err = os.MkdirAll(dir, 0o755); err == nil {
			t, err = l.tempFile(dir)
		}
	}
	if err != nil {
		return PutResult{}, err
	}
	tmp, publish := t.f, t.publish
	n, got, err := l.write(ctx, tmp, r, wantSHA256)
	if err == nil && !t.readOnly {
		err = tmp.Chmod(0o444)
	}
	if err == nil && sync {
		err = tmp.Sync()
	}
	if err == nil && !sync && n >= writebackOver {
		// The disk starts writing now, while the caller works on the next
		// objects: the Sync that makes them durable then has little to wait for.
		startWriteback(tmp)
	}
	if err != nil {
		tmp.Close()
		publish("") // discard
		return PutResult{}, fmt.Errorf("writing %s: %w", key, err)
	}
	if wantSHA256 != "" && got != wantSHA256 {
		tmp.Close()
		publish("")
		return PutResult{}, &HashMismatchError{Key: key, Want: wantSHA256, Got: got}
	}
	// The link is made while the file is open: O_TMPFILE files are linked
	// through their descriptor.
	st, err := tmp.Stat()
	if err == nil {
		err = publish(p)
	} else {
		publish("")
	}
	tmp.Close()
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			st, serr := os.Stat(p)
			if serr != nil {
				return PutResult{}, serr
			}
			return l.existingHash(key, p, st.Size(), got)
		}
		return PutResult{}, fmt.Errorf("storing %s: %w", key, err)
	}
	l.markDirty(dir)
	return PutResult{Info: Info{Key: key, Size: n, SHA256: got, ModTime: st.ModTime()}}, nil
}

// write copies r into f, hashing it, and returns the size and the hash.
// Bytes whose hash is known (Hashed, under the announced hash) are written
// in one call and not hashed again.
func (l *Local) write(ctx context.Context, f *os.File, r io.Reader, want string) (int64, string, error) {
	if h, ok := known(r, want); ok {
		if err := ctx.Err(); err != nil {
			return 0, "", err
		}
		n, err := f.Write(h.b)
		return int64(n), h.hex, err
	}
	h := sha256.New()
	buf, _ := l.bufs.Get().(*[]byte)
	if buf == nil {
		b := make([]byte, 32<<10)
		buf = &b
	}
	n, err := io.CopyBuffer(io.MultiWriter(f, h), ctxReader{ctx, r}, *buf)
	l.bufs.Put(buf)
	return n, hex.EncodeToString(h.Sum(nil)), err
}

// existing handles a Put on a key that is already there: the caller's
// content is hashed (read to the end) and compared with the stored one.
func (l *Local) existing(key, p string, size int64, want string, r io.Reader) (PutResult, error) {
	if h, ok := known(r, ""); ok && want == "" {
		want = h.hex
	}
	if want == "" {
		var err error
		if want, err = HashReader(r); err != nil {
			return PutResult{}, err
		}
	}
	return l.existingHash(key, p, size, want)
}

func (l *Local) existingHash(key, p string, size int64, want string) (PutResult, error) {
	got, err := hashFile(p)
	if err != nil {
		return PutResult{}, err
	}
	if got != want {
		return PutResult{}, fmt.Errorf("%s: %w (stored %s, offered %s)", key, ErrConflict, got, want)
	}
	st, err := os.Stat(p)
	if err != nil {
		return PutResult{}, err
	}
	// The entry may come from a run killed before it synced the directory.
	l.markDirty(filepath.Dir(p))
	return PutResult{Info: Info{Key: key, Size: size, SHA256: got, ModTime: st.ModTime()}, Existed: true}, nil
}

func (l *Local) markDirty(dir string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.dirty[dir] = true
	// New parent directories must be durable too.
	for d := filepath.Dir(dir); strings.HasPrefix(d, l.root) && d != l.root; d = filepath.Dir(d) {
		l.dirty[d] = true
	}
	l.dirty[l.root] = true
}

// SyncDirs makes every new directory entry durable.
func (l *Local) SyncDirs(ctx context.Context) error {
	l.mu.Lock()
	dirs := make([]string, 0, len(l.dirty))
	for d := range l.dirty {
		dirs = append(dirs, d)
	}
	l.dirty = map[string]bool{}
	l.mu.Unlock()
	// Deepest first, so a parent is synced after its children's entries.
	sort.Slice(dirs, func(i, j int) bool { return len(dirs[i]) > len(dirs[j]) })
	for _, d := range dirs {
		if err := syncDir(d); err != nil {
			return fmt.Errorf("syncing %s: %w", d, err)
		}
	}
	return nil
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

func (l *Local) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	p, err := l.path(key)
	if err != nil {
		return nil, err
	}
	// O_NOFOLLOW: the store holds regular files only; a link put in its
	// place (to /dev/zero, to another file) is damage, never followed.
	f, err := os.OpenFile(p, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", key, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("%s: not a regular file", key)
	}
	return f, nil
}

func (l *Local) Stat(ctx context.Context, key string) (Info, error) {
	p, err := l.path(key)
	if err != nil {
		return Info{}, err
	}
	st, err := os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return Info{}, fmt.Errorf("%s: %w", key, ErrNotFound)
	}
	if err != nil {
		return Info{}, err
	}
	return Info{Key: key, Size: st.Size(), ModTime: st.ModTime()}, nil
}

func (l *Local) List(ctx context.Context, prefix string, fn func(Info) error) error {
	return filepath.WalkDir(l.root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		rel, _ := filepath.Rel(l.root, p)
		key := filepath.ToSlash(rel)
		if d.IsDir() {
			if strings.HasPrefix(d.Name(), ".") && p != l.root {
				return filepath.SkipDir
			}
			// Skip directories that cannot hold a matching key.
			if key != "." && !strings.HasPrefix(key+"/", prefix) && !strings.HasPrefix(prefix, key+"/") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasPrefix(key, prefix) {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		return fn(Info{Key: key, Size: info.Size(), ModTime: info.ModTime()})
	})
}

func hashFile(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	return HashReader(f)
}

// ctxReader stops a long copy when the context ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// temp is an object being written: publish links it under its final name
// (publish("") discards it); readOnly says it was created 0444 already.
type temp struct {
	f        *os.File
	publish  func(dst string) error
	readOnly bool
}

// namedTemp is the portable temporary file: created in .tmp, linked into
// place, then its temporary name removed.
func (l *Local) namedTemp() (temp, error) {
	f, err := os.CreateTemp(l.tmp, "put-*")
	if err != nil {
		return temp{}, err
	}
	name := f.Name()
	return temp{f: f, publish: func(dst string) error {
		defer os.Remove(name)
		if dst == "" {
			return nil
		}
		return os.Link(name, dst)
	}}, nil
}
