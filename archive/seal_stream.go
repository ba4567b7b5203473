package archive

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/conserva/conserva/internal/spool"
	"github.com/conserva/conserva/sip"
	"github.com/conserva/conserva/storage"
)

// A package is sealed in bounded memory: its records are read from the
// catalog a chunk at a time (never all of them decoded at once), the lists
// of files its index names are spooled to disk (packageLists), the index
// is written straight into the store while hashed, and signed by that
// hash. A package of 100,000 messages held 1.5 GB when all of it was in
// memory.

// sealChunk is how many records a seal reads (and marks sealed) at once.
const sealChunk = 1024

// packageLists are the files a package's index lists, on disk.
type packageLists struct {
	messages, metadata *sip.FileSpool
	bytes              int64 // of the messages
	accessLog          []sip.File
}

func (a *Archive) newPackageLists() (*packageLists, error) {
	dir := a.SpoolDir() // the archive's own disk
	if os.MkdirAll(dir, 0o700) != nil {
		dir = ""
	}
	m, err := sip.NewFileSpool(dir)
	if err != nil {
		return nil, err
	}
	meta, err := sip.NewFileSpool(dir)
	if err != nil {
		m.Close()
		return nil, err
	}
	return &packageLists{messages: m, metadata: meta}, nil
}

func (l *packageLists) Close() {
	l.messages.Close()
	l.metadata.Close()
}

// addMessage lists a message of the package.
func (l *packageLists) addMessage(r *Record) error {
	l.bytes += r.Size
	return l.messages.Add(sip.File{ID: r.ID, Path: r.Key, SHA256: r.ID, Format: "message/rfc822", Extension: "eml", Size: r.Size})
}

// addMetadata lists metadata files.
func (l *packageLists) addMetadata(files ...sip.File) error {
	for _, f := range files {
		if err := l.metadata.Add(f); err != nil {
			return err
		}
	}
	return nil
}

// index is what the index lists.
func (l *packageLists) index() sip.Lists {
	return sip.Lists{Messages: l.messages.List(), MessageBytes: l.bytes, Metadata: l.metadata.List(), AccessLog: sip.Files(l.accessLog)}
}

// eachChunk calls fn with the records of ids (sorted), a chunk at a time,
// in their order; a record missing from the catalog is counted, and the
// error names how many of them are missing once every chunk was read.
func (a *Archive) eachChunk(ids []string, fn func(recs []*Record) error) error {
	missing := 0
	for start := 0; start < len(ids); start += sealChunk {
		chunk := ids[start:min(start+sealChunk, len(ids))]
		recs, err := a.Catalog.records(chunk)
		if err != nil {
			return err
		}
		if missing += len(chunk) - len(recs); missing > 0 {
			continue // counted, not sealed
		}
		if err := fn(recs); err != nil {
			return err
		}
		// Read at random by id: without this the whole catalog file
		// would count in the seal's resident memory.
		_ = a.Catalog.releaseLarge() // memory only
	}
	if missing > 0 {
		return fmt.Errorf("%d of %d messages are not catalogued", missing, len(ids))
	}
	return nil
}

// putStream stores what fill writes under key, through an unlinked file
// in the archive's spool, hashed as it is written: not a buffer (the
// rapporto of a night of 100,000 messages is some 50 MB, a package's
// metadata segment more), and an S3 store, which must know the hash before
// it uploads, is given it rather than reading the object into memory to
// learn it. What fill fails is never stored.
func (a *Archive) putStream(ctx context.Context, key string, fill func(w io.Writer) error) (storage.PutResult, error) {
	f, err := spool.Unlinked(a.SpoolDir(), "put-*") // gone with the process, whatever happens
	if err != nil {
		return storage.PutResult{}, err
	}
	defer f.Close()
	h := sha256.New()
	bw := bufio.NewWriterSize(io.MultiWriter(f, h), 64<<10)
	if err := fill(bw); err != nil {
		return storage.PutResult{}, err
	}
	if err := bw.Flush(); err != nil {
		return storage.PutResult{}, err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return storage.PutResult{}, err
	}
	sum := hex.EncodeToString(h.Sum(nil))
	res, err := a.Store.Put(ctx, key, f, sum)
	if err != nil {
		return res, fmt.Errorf("storing %s: %w", key, err)
	}
	res.Info.SHA256 = sum // what Put checked the bytes against
	return res, nil
}

// reuseOrStream is reuseOr for an object too large to hold: the SHA-256 of
// what a previous, interrupted run stored under key, else of what fill
// writes there now.
func (a *Archive) reuseOrStream(ctx context.Context, key string, fill func(w io.Writer) error) ([32]byte, error) {
	var sum [32]byte
	h, err := a.hashObject(ctx, key)
	if errors.Is(err, storage.ErrNotFound) {
		var res storage.PutResult
		if res, err = a.putStream(ctx, key, fill); err == nil {
			h, err = hex.DecodeString(res.Info.SHA256)
		}
	}
	if err == nil && len(h) != len(sum) {
		err = fmt.Errorf("%s: no SHA-256", key)
	}
	copy(sum[:], h)
	return sum, err
}

// markSealedIDs records that the records of ids are in package p, p
// itself, and the end of the seal's journal, in one transaction
// (catalog.MarkSealedIDs: none counts as sealed before the package does).
func (c *Catalog) markSealedIDs(p PackageRecord, ids []string) error {
	return c.MarkSealedIDs(p.ID, ids, p, journalKey)
}
