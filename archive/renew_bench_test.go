package archive_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/conserva/conserva/archive"
	"github.com/conserva/conserva/pec"
	"github.com/conserva/conserva/storage"
)

// BenchmarkRenew seals 100,000 small stored messages (with their evidence
// records) and then times one forced timestamp renewal of all their
// records (100,006 records, one TSA request), which reads every message
// back to verify its record first. Run:
// go test ./archive -run '^$' -bench Renew -benchtime 1x
func BenchmarkRenew(b *testing.B) {
	const n = 100000
	ctx := context.Background()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		a, err := archive.Open(filepath.Join(b.TempDir(), "a"), nil)
		if err != nil {
			b.Fatal(err)
		}
		d := a.Store.(storage.DeferredPutter)
		recs := make([]*archive.Record, 0, 5000)
		now := time.Now().UTC()
		for k := 0; k < n; k++ {
			body := []byte(fmt.Sprintf("From: a@pec.example\r\nSubject: %d\r\n\r\nmessage %d\r\n", k, k))
			sum := sha256.Sum256(body)
			id := hex.EncodeToString(sum[:])
			if _, err := d.PutDeferred(ctx, storage.MessageKey(id), bytes.NewReader(body), id); err != nil {
				b.Fatal(err)
			}
			recs = append(recs, &archive.Record{ID: id, Key: storage.MessageKey(id), Size: int64(len(body)), Kind: pec.KindNotPEC,
				Signature: pec.Absent, Reason: "not PEC", Dossier: id, IngestedAt: now})
			if len(recs) == cap(recs) || k == n-1 {
				if _, err := a.Catalog.Insert(recs); err != nil {
					b.Fatal(err)
				}
				recs = recs[:0]
			}
		}
		if err := d.Sync(ctx); err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		if _, _, err := a.Seal(ctx, archive.SealOptions{}); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(time.Since(start).Seconds(), "seal-s")
		b.StartTimer()
		start = time.Now()
		sum, err := a.Renew(ctx, archive.RenewOptions{Force: true})
		if err != nil || sum.Records != n+6 || len(sum.Skipped) != 0 { // and index, signature, timestamp, chains, metadata.tar
			b.Fatalf("%+v %v", sum, err)
		}
		b.ReportMetric(time.Since(start).Seconds(), "renew-s")
		b.StopTimer()
		a.Close()
		b.StartTimer()
	}
}
