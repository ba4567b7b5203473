package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/conserva/conserva/internal/testutil"
	"github.com/conserva/conserva/storage"
	"github.com/minio/minio-go/v7"
)

// TestS3AuditReconciles: on MinIO, audit and catalog check list every key
// and version of the bucket: an object put behind conserva's back, a
// version written over a message and over a package index, and a delete
// marker are each named.
func TestS3AuditReconciles(t *testing.T) {
	ep := testutil.S3Endpoint(t)
	bucket := fmt.Sprintf("conserva-reconcile-%d", time.Now().UnixNano())
	t.Setenv("AWS_ENDPOINT_URL", ep)
	t.Setenv("CONSERVA_STORE", "s3://"+bucket+"/archivio")
	set := fixtures(t)
	home := filepath.Join(t.TempDir(), "archive")
	ingestFixtures(t, home, 4)
	if r := conserva(t, "--archive", home, "seal"); r.code != 0 {
		t.Fatal(r.stderr)
	}
	rep, r := audit(t, home, "audit", "--trust", set.TrustPEM)
	if r.code != 0 || rep.Stored != 4 || len(rep.Problems) != 0 {
		t.Fatalf("intact S3 archive: %d %s %s", r.code, r.stdout, r.stderr)
	}
	ctx := context.Background()
	s, err := storage.OpenS3(ctx, "s3://"+bucket, storage.S3Options{Endpoint: ep})
	if err != nil {
		t.Fatal(err)
	}
	client, _ := s.Client()
	put := func(key string, data []byte) {
		if _, err := client.PutObject(ctx, bucket, "archivio/"+key, bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	stray := []byte("From: x\r\n\r\nput straight into the bucket\r\n")
	sum := sha256.Sum256(stray)
	strayID := hex.EncodeToString(sum[:])
	put(storage.MessageKey(strayID), stray)
	rows := decodeLines(t, conserva(t, "--archive", home, "search", "--json").stdout)
	over, hidden := rows[0], rows[1]
	put(over["key"].(string), []byte("a forgery"))
	if err := client.RemoveObject(ctx, bucket, "archivio/"+hidden["key"].(string), minio.RemoveObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	index := "packages/" + over["package"].(string) + "/index.xml"
	put(index, []byte("<forged/>"))
	for _, cmd := range [][]string{{"audit"}, {"catalog", "check"}} {
		rep, r = audit(t, home, append(cmd, "--trust", set.TrustPEM)...)
		if r.code != 1 || !rep.names(strayID, "stored but not catalogued") ||
			!rep.names(over["id"].(string), "a newer version") || !rep.names(hidden["id"].(string), "a delete marker") ||
			!rep.names(index, "a newer version") {
			t.Fatalf("%s on S3: %d %s %s", cmd, r.code, r.stdout, r.stderr)
		}
	}
}
