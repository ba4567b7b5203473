package archive_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/conserva/conserva/archive"
	"github.com/conserva/conserva/pec"
	"github.com/conserva/conserva/storage"
)

// BenchmarkSeal seals 100,000 catalogued messages (SEAL_N overrides, for
// profiles) into one package with one signature and one timestamp, and
// their evidence records. Run: go test ./archive -run '^$' -bench Seal -benchtime 1x
func BenchmarkSeal(b *testing.B) {
	n := 100000
	if v, err := strconv.Atoi(os.Getenv("SEAL_N")); err == nil && v > 0 {
		n = v
	}
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		a, err := archive.Open(filepath.Join(b.TempDir(), "a"), nil)
		if err != nil {
			b.Fatal(err)
		}
		recs := make([]*archive.Record, 0, 5000)
		now := time.Now().UTC()
		for k := 0; k < n; k++ {
			sum := sha256.Sum256([]byte(fmt.Sprint(k)))
			id := hex.EncodeToString(sum[:])
			recs = append(recs, &archive.Record{ID: id, Key: storage.MessageKey(id), Size: 70000, Kind: pec.KindAccettazione,
				Signature: pec.Valid, Reason: "ok", From: "a@pec.example", To: []string{"b@pec.example"}, Subject: "s",
				Dossier: id, IngestedAt: now})
			if len(recs) == cap(recs) || k == n-1 {
				if _, err := a.Catalog.Insert(recs); err != nil {
					b.Fatal(err)
				}
				recs = recs[:0]
			}
		}
		b.StartTimer()
		start := time.Now()
		pkgs, _, err := a.Seal(context.Background(), archive.SealOptions{})
		if err != nil || len(pkgs) != 1 || pkgs[0].Messages != n {
			b.Fatalf("%+v %v", pkgs, err)
		}
		b.ReportMetric(float64(n)/time.Since(start).Seconds(), "messages/s")
		b.StopTimer()
		a.Close()
		b.StartTimer()
	}
}
