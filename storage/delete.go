package storage

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/minio/minio-go/v7"
)

// Deleter removes an object at the end of its retention: the only
// deletion the archive ever does (scarto, after an approved proposal).
// A store refuses anything still retained or under legal hold.
type Deleter interface {
	// DeleteExpired removes one object (one version on S3). r is the
	// archive's retention, which the local store counts from the object's
	// modification time; S3 enforces its own Object Lock, whatever r says.
	DeleteExpired(ctx context.Context, key, version string, r Retention, now time.Time) error
}

var (
	// ErrRetained: the object's retention has not ended.
	ErrRetained = errors.New("under retention")
	// ErrHeld: the object is under legal hold.
	ErrHeld = errors.New("under legal hold")
)

// DeleteExpired removes a file whose retention, counted from its
// modification time (when it was written), has ended by now. Legal holds
// on the local store are the catalog's: the caller checks them.
func (l *Local) DeleteExpired(ctx context.Context, key, version string, r Retention, now time.Time) error {
	p, err := l.path(key)
	if err != nil {
		return err
	}
	st, err := os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s: %w", key, ErrNotFound)
	}
	if err != nil {
		return err
	}
	if until := r.Until(st.ModTime()); now.Before(until) {
		return fmt.Errorf("%s: %w until %s", key, ErrRetained, until.UTC().Format(time.RFC3339))
	}
	if err := os.Remove(p); err != nil {
		return fmt.Errorf("%s: %w", key, err)
	}
	return nil
}

// DeleteExpired removes one version. A version under legal hold is not
// even tried; one under retention is refused by the store itself (never
// with a governance bypass), and that refusal is returned as ErrRetained.
func (s *S3) DeleteExpired(ctx context.Context, key, version string, _ Retention, now time.Time) error {
	if version == "" {
		// Without a version S3 would only add a delete marker.
		st, err := s.Stat(ctx, key)
		if err != nil {
			return err
		}
		version = st.VersionID
	}
	hold, err := s.client.GetObjectLegalHold(ctx, s.bucket, s.name(key), minio.GetObjectLegalHoldOptions{VersionID: version})
	if err == nil && hold != nil && *hold == minio.LegalHoldEnabled {
		return fmt.Errorf("%s: %w", key, ErrHeld)
	}
	err = s.client.RemoveObject(ctx, s.bucket, s.name(key), minio.RemoveObjectOptions{VersionID: version})
	if err != nil {
		var until string
		if _, t, rerr := s.Retention(ctx, key, version); rerr == nil && !t.IsZero() {
			until = " until " + t.UTC().Format(time.RFC3339)
		}
		return fmt.Errorf("%s: %w%s (the store refused: %v)", key, ErrRetained, until, err)
	}
	return nil
}
