// Package storage keeps evidence objects immutable: a key is written once
// and never rewritten. Backends implement Store; the local WORM directory is
// the embedded default.
package storage

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"time"
)

// Store is where evidence objects live. Keys are slash-separated paths such
// as messages/ab/<sha256>.eml.
type Store interface {
	// Put stores the content of r under key if the key is absent. When the
	// key exists, its content is hashed instead: the same SHA-256 is success
	// (Existed is set), a different one is ErrConflict and nothing changes.
	// wantSHA256, when not empty, is checked against what r delivered
	// before the object becomes visible.
	Put(ctx context.Context, key string, r io.Reader, wantSHA256 string) (PutResult, error)
	// Get opens an object for reading.
	Get(ctx context.Context, key string) (io.ReadCloser, error)
	// Stat describes an object; ErrNotFound when it is absent.
	Stat(ctx context.Context, key string) (Info, error)
	// List calls fn for every object whose key starts with prefix, in key order.
	List(ctx context.Context, prefix string, fn func(Info) error) error
}

// PutResult says what Put did.
type PutResult struct {
	Info
	Existed bool // the object was already there, with the same content
}

// Info describes a stored object.
type Info struct {
	Key       string    `json:"key"`
	Size      int64     `json:"size"`
	SHA256    string    `json:"sha256,omitempty"` // known after Put; Stat and List leave it empty
	ModTime   time.Time `json:"mod_time"`
	VersionID string    `json:"version_id,omitempty"` // backends with versions (S3)
}

var (
	// ErrNotFound: no object under that key.
	ErrNotFound = errors.New("object not found")
	// ErrConflict: the key holds different content. Evidence never changes,
	// so this is an alarm, not something to resolve by overwriting.
	ErrConflict = errors.New("object exists with different content")
)

// HashMismatchError: the bytes delivered are not the ones announced.
type HashMismatchError struct{ Key, Want, Got string }

func (e *HashMismatchError) Error() string {
	return fmt.Sprintf("%s: content hashes to %s, expected %s", e.Key, e.Got, e.Want)
}

// MessageKey is the object key of a message with the given SHA-256 (hex).
func MessageKey(sha256Hex string) string {
	return "messages/" + sha256Hex[:2] + "/" + sha256Hex + ".eml"
}

// DirSyncer is implemented by backends whose writes become durable only
// after their directories are synced; callers batch those syncs.
type DirSyncer interface {
	SyncDirs(ctx context.Context) error
}

// DeferredPutter is implemented by backends that can store without waiting
// for the disk on each object; Sync then makes them all durable at once.
// Callers must Sync before anything refers to those objects.
type DeferredPutter interface {
	PutDeferred(ctx context.Context, key string, r io.Reader, wantSHA256 string) (PutResult, error)
	Sync(ctx context.Context) error
}

// Versioned is implemented by backends that keep versions (S3): reads by
// version id cannot be fooled by a newer version or a delete marker.
type Versioned interface {
	GetVersion(ctx context.Context, key, version string) (io.ReadCloser, error)
}

// LegalHolder is implemented by backends that can put a legal hold on an
// object version.
type LegalHolder interface {
	SetLegalHold(ctx context.Context, key, version string, on bool) error
}

// GetVersion reads a version where the store keeps versions, else the object.
func GetVersion(ctx context.Context, s Store, key, version string) (io.ReadCloser, error) {
	if v, ok := s.(Versioned); ok && version != "" {
		return v.GetVersion(ctx, key, version)
	}
	return s.Get(ctx, key)
}

// evidencer is implemented by stores where a key may hold several versions
// (S3): it finds the oldest version that is not a delete marker.
type evidencer interface {
	evidence(ctx context.Context, key string) (Info, bool, error)
}

// ReadEvidence reads the evidence under key: on a versioned store its first
// version, whatever delete markers or newer versions sit on top of it;
// elsewhere the object itself.
func ReadEvidence(ctx context.Context, s Store, key string) (io.ReadCloser, error) {
	e, ok := s.(evidencer)
	if !ok {
		return s.Get(ctx, key)
	}
	info, found, err := e.evidence(ctx, key)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, fmt.Errorf("%s: %w", key, ErrNotFound)
	}
	return GetVersion(ctx, s, key, info.VersionID)
}

// HashReader returns the SHA-256 (hex) of everything r delivers.
func HashReader(r io.Reader) (string, error) {
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Copy reads an object fully into w; a helper for small objects.
func Copy(ctx context.Context, s Store, key string, w io.Writer) (int64, error) {
	r, err := s.Get(ctx, key)
	if err != nil {
		return 0, err
	}
	defer r.Close()
	return io.Copy(w, r)
}

// VersionLister is implemented by stores that keep versions (S3): every
// version of every key, delete markers included, newest first per key.
type VersionLister interface {
	ListVersions(ctx context.Context, prefix string, fn func(i Info, deleteMarker bool) error) error
}
