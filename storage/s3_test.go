package storage_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/conserva/conserva/internal/testutil"
	"github.com/conserva/conserva/storage"
	"github.com/minio/minio-go/v7"
)

func openBucket(t *testing.T) *storage.S3 {
	t.Helper()
	ep := testutil.S3Endpoint(t)
	name := fmt.Sprintf("s3://conserva-test-%d/pfx", time.Now().UnixNano())
	s, err := storage.OpenS3(context.Background(), name, storage.S3Options{Endpoint: ep, Region: "us-east-1"})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func hexSum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func TestS3ObjectLock(t *testing.T) {
	ctx := context.Background()
	s := openBucket(t)
	data := []byte("evidence bytes")
	key := storage.MessageKey(hexSum(data))
	res, err := s.Put(ctx, key, bytes.NewReader(data), hexSum(data))
	if err != nil || res.VersionID == "" {
		t.Fatalf("put: %+v %v", res, err)
	}
	mode, until, err := s.Retention(ctx, key, res.VersionID)
	if err != nil || mode != "COMPLIANCE" || until.Before(time.Now().AddDate(10, 0, -1)) {
		t.Fatalf("retention %s until %v (%v), want COMPLIANCE for 10 years", mode, until, err)
	}
	client, bucket := s.Client()
	name := "pfx/" + key
	// Deleting the locked version is refused.
	if err := client.RemoveObject(ctx, bucket, name, minio.RemoveObjectOptions{VersionID: res.VersionID}); err == nil {
		t.Fatal("a locked version was deleted")
	}
	// Even bypassing governance: COMPLIANCE holds.
	if err := client.RemoveObject(ctx, bucket, name, minio.RemoveObjectOptions{VersionID: res.VersionID, GovernanceBypass: true}); err == nil {
		t.Fatal("a COMPLIANCE version was deleted with governance bypass")
	}
	// A delete marker hides the latest, not the version the catalog names.
	if err := client.RemoveObject(ctx, bucket, name, minio.RemoveObjectOptions{}); err != nil {
		t.Fatalf("placing a delete marker: %v", err)
	}
	if _, err := s.Get(ctx, key); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("latest after a delete marker: %v", err)
	}
	rc, err := s.GetVersion(ctx, key, res.VersionID)
	if err != nil {
		t.Fatalf("the evidence version after a delete marker: %v", err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if !bytes.Equal(got, data) {
		t.Fatal("evidence changed")
	}
	// An overwrite through the store is an alarm; one behind its back makes
	// a new version, and the evidence version is untouched.
	if _, err := s.Put(ctx, key, bytes.NewReader([]byte("forgery")), ""); err == nil {
		// the latest is a delete marker: Put stored a new object; that is
		// allowed only for identical content, which this is not.
		t.Fatal("a different content was accepted under an evidence key")
	}
	if _, err := client.PutObject(ctx, bucket, name, bytes.NewReader([]byte("forgery")), 7, minio.PutObjectOptions{}); err != nil {
		t.Fatalf("raw overwrite: %v", err)
	}
	rc, _ = s.GetVersion(ctx, key, res.VersionID)
	got, _ = io.ReadAll(rc)
	rc.Close()
	if !bytes.Equal(got, data) {
		t.Fatal("an overwrite replaced the evidence version")
	}
	// Legal hold on and off.
	if err := s.SetLegalHold(ctx, key, res.VersionID, true); err != nil {
		t.Fatal(err)
	}
	st, err := client.GetObjectLegalHold(ctx, bucket, name, minio.GetObjectLegalHoldOptions{VersionID: res.VersionID})
	if err != nil || st == nil || *st != minio.LegalHoldEnabled {
		t.Fatalf("legal hold: %v %v", st, err)
	}
	if err := s.SetLegalHold(ctx, key, res.VersionID, false); err != nil {
		t.Fatal(err)
	}
}

func TestS3AnnouncedHashIsChecked(t *testing.T) {
	ctx := context.Background()
	s := openBucket(t)
	data := []byte("the real bytes")
	if _, err := s.Put(ctx, "messages/aa/x.eml", bytes.NewReader(data), hexSum([]byte("other bytes"))); err == nil {
		t.Fatal("bytes that do not match the announced hash were stored")
	}
	if _, err := s.Stat(ctx, "messages/aa/x.eml"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("a refused upload left an object: %v", err)
	}
	res, err := s.Put(ctx, "messages/aa/y.eml", bytes.NewReader(data), hexSum(data))
	if err != nil {
		t.Fatal(err)
	}
	again, err := s.Put(ctx, "messages/aa/y.eml", bytes.NewReader(data), hexSum(data))
	if err != nil || !again.Existed || again.VersionID != res.VersionID {
		t.Fatalf("idempotent put: %+v %v", again, err)
	}
}

func TestS3LargeObjectMultipart(t *testing.T) {
	ctx := context.Background()
	s := openBucket(t)
	data := make([]byte, 100<<20)
	rand.Read(data)
	sum := hexSum(data)
	// A reader of unknown size forces the multipart path.
	res, err := s.Put(ctx, storage.MessageKey(sum), io.MultiReader(bytes.NewReader(data)), sum)
	if err != nil || res.Size != int64(len(data)) {
		t.Fatalf("100 MB put: %+v %v", res, err)
	}
	rc, err := s.GetVersion(ctx, storage.MessageKey(sum), res.VersionID)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	io.Copy(h, rc)
	rc.Close()
	if hex.EncodeToString(h.Sum(nil)) != sum {
		t.Fatal("100 MB object read back differs")
	}
}

func TestS3RefusesBucketWithoutLock(t *testing.T) {
	ep := testutil.S3Endpoint(t)
	s := openBucket(t)
	client, _ := s.Client()
	name := fmt.Sprintf("conserva-nolock-%d", time.Now().UnixNano())
	if err := client.MakeBucket(context.Background(), name, minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := storage.OpenS3(context.Background(), "s3://"+name, storage.S3Options{Endpoint: ep}); err == nil {
		t.Fatal("a bucket without object lock was accepted")
	}
}

// Bytes hashed in memory (what ingest hands over) go up in one PUT under
// their hash and read back the same; announced under another hash they
// are refused and nothing is stored.
func TestS3PutHashed(t *testing.T) {
	ctx := context.Background()
	s := openBucket(t)
	data := make([]byte, 70_000)
	rand.Read(data)
	h := storage.NewHashed(data)
	other := storage.MessageKey(hexSum([]byte("other")))
	if _, err := s.Put(ctx, other, h.Reader(), hexSum([]byte("other"))); err == nil {
		t.Fatal("bytes were stored under a hash that is not theirs")
	}
	if _, err := s.Stat(ctx, other); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("refused bytes are in the bucket: %v", err)
	}
	key := storage.MessageKey(h.Hex())
	res, err := s.Put(ctx, key, h.Reader(), h.Hex())
	if err != nil || res.SHA256 != h.Hex() || res.Size != int64(len(data)) {
		t.Fatalf("put: %+v %v", res, err)
	}
	var back bytes.Buffer
	if _, err := storage.Copy(ctx, s, key, &back); err != nil || !bytes.Equal(back.Bytes(), data) {
		t.Fatalf("read back %d bytes (%v), want the %d stored", back.Len(), err, len(data))
	}
}
