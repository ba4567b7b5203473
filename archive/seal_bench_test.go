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
		took := time.Since(start)
		b.ReportMetric(float64(n)/took.Seconds(), "messages/s")
		b.StopTimer()
		// The physical floor on the same machine, now: writing as many
		// bytes as the seal stored, hashed once, in one file made durable.
		var size int64
		files := 0
		filepath.WalkDir(filepath.Join(a.Dir, "store", "packages"), func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				if info, err := d.Info(); err == nil {
					size += info.Size()
					files++
				}
			}
			return nil
		})
		floor := writeFloor(b, size)
		b.ReportMetric(floor.Seconds(), "floor-s")
		b.ReportMetric(took.Seconds()/floor.Seconds(), "x-floor")
		b.ReportMetric(float64(size)/1e6, "MB")
		b.ReportMetric(float64(files), "files")
		a.Close()
		b.StartTimer()
	}
}

// writeFloor writes size bytes to a new file in 1 MiB writes, hashing them
// with SHA-256, and fsyncs it: what storing the same bytes costs at least.
func writeFloor(b *testing.B, size int64) time.Duration {
	b.Helper()
	buf := make([]byte, 1<<20)
	for i := range buf {
		buf[i] = byte(i * 7)
	}
	start := time.Now()
	f, err := os.Create(filepath.Join(b.TempDir(), "floor"))
	if err != nil {
		b.Fatal(err)
	}
	h := sha256.New()
	for left := size; left > 0; left -= int64(len(buf)) {
		chunk := buf[:min(int64(len(buf)), left)]
		h.Write(chunk)
		if _, err := f.Write(chunk); err != nil {
			b.Fatal(err)
		}
	}
	if err := f.Sync(); err != nil {
		b.Fatal(err)
	}
	f.Close()
	_ = h.Sum(nil)
	return time.Since(start)
}
