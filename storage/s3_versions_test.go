package storage_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/conserva/conserva/storage"
	"github.com/minio/minio-go/v7"
)

// ListVersions shows what List hides: a version written over the evidence
// and a delete marker on top, newest first.
func TestS3ListVersions(t *testing.T) {
	ctx := context.Background()
	s := openBucket(t)
	data := []byte("evidence")
	key := storage.MessageKey(hexSum(data))
	first, err := s.Put(ctx, key, bytes.NewReader(data), hexSum(data))
	if err != nil {
		t.Fatal(err)
	}
	client, bucket := s.Client()
	if _, err := client.PutObject(ctx, bucket, "pfx/"+key, bytes.NewReader([]byte("over")), 4, minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := client.RemoveObject(ctx, bucket, "pfx/"+key, minio.RemoveObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	var got []string
	var markers []bool
	err = storage.VersionLister(s).ListVersions(ctx, "messages/", func(i storage.Info, marker bool) error {
		if i.Key != key {
			t.Fatalf("key %q", i.Key)
		}
		got = append(got, i.VersionID)
		markers = append(markers, marker)
		return nil
	})
	if err != nil || len(got) != 3 || !markers[0] || markers[1] || markers[2] || got[2] != first.VersionID {
		t.Fatalf("versions %v markers %v (evidence %s): %v", got, markers, first.VersionID, err)
	}
	// List still gives the evidence.
	s.List(ctx, "messages/", func(i storage.Info) error {
		if i.VersionID != first.VersionID {
			t.Fatalf("List gives %s, not the evidence %s", i.VersionID, first.VersionID)
		}
		return nil
	})
}
