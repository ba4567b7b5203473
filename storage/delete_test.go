package storage_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/conserva/conserva/storage"
)

func TestLocalDeleteOnlyAfterRetention(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := storage.OpenLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	data := []byte("evidence")
	key := storage.MessageKey(hexSum(data))
	if _, err := s.Put(ctx, key, bytes.NewReader(data), ""); err != nil {
		t.Fatal(err)
	}
	ret := storage.Retention{Days: 1}
	if err := s.DeleteExpired(ctx, key, "", ret, time.Now()); !errors.Is(err, storage.ErrRetained) {
		t.Fatalf("deleted within retention: %v", err)
	}
	if _, err := s.Stat(ctx, key); err != nil {
		t.Fatal("the object is gone after a refused deletion")
	}
	if err := s.DeleteExpired(ctx, key, "", ret, time.Now().AddDate(0, 0, 2)); err != nil {
		t.Fatalf("after retention: %v", err)
	}
	if _, err := s.Stat(ctx, key); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("still there: %v", err)
	}
	// An old file (written long ago) is deletable now.
	old := []byte("old evidence")
	okey := storage.MessageKey(hexSum(old))
	s.Put(ctx, okey, bytes.NewReader(old), "")
	past := time.Now().AddDate(0, 0, -3)
	os.Chtimes(filepath.Join(dir, okey), past, past)
	if err := s.DeleteExpired(ctx, okey, "", ret, time.Now()); err != nil {
		t.Fatal(err)
	}
}

// On MinIO the store itself refuses to delete a version under retention,
// and a version under legal hold.
func TestS3DeleteRefusedUnderRetentionAndHold(t *testing.T) {
	ctx := context.Background()
	s := openBucket(t)
	data := []byte("locked evidence")
	key := storage.MessageKey(hexSum(data))
	res, err := s.Put(ctx, key, bytes.NewReader(data), hexSum(data))
	if err != nil {
		t.Fatal(err)
	}
	// Whatever retention the caller believes, the Object Lock decides.
	err = s.DeleteExpired(ctx, key, res.VersionID, storage.Retention{Days: 1}, time.Now().AddDate(20, 0, 0))
	if !errors.Is(err, storage.ErrRetained) {
		t.Fatalf("a retained version: %v", err)
	}
	if _, err := s.StatVersion(ctx, key, res.VersionID); err != nil {
		t.Fatalf("the version is gone: %v", err)
	}
	if err := s.SetLegalHold(ctx, key, res.VersionID, true); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteExpired(ctx, key, res.VersionID, storage.Retention{Days: 1}, time.Now()); !errors.Is(err, storage.ErrHeld) {
		t.Fatalf("a held version: %v", err)
	}
}
