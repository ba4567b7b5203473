package archive_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/conserva/conserva/archive"
	"github.com/conserva/conserva/ingest"
	"github.com/conserva/conserva/pec"
)

// BenchmarkIngestDir ingests the directory CONSERVA_BENCH_SRC (pecgen -n
// output: its trust.pem is the trust) into a fresh archive per iteration:
// for profiles of an ingest at the bench's sizes.
func BenchmarkIngestDir(b *testing.B) {
	src := os.Getenv("CONSERVA_BENCH_SRC")
	if src == "" {
		b.Skip("CONSERVA_BENCH_SRC is not set")
	}
	trust, err := pec.LoadTrustFile(filepath.Join(src, "trust.pem"))
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		a, err := archive.Open(filepath.Join(b.TempDir(), "a"), nil)
		if err != nil {
			b.Fatal(err)
		}
		s, err := ingest.Open(src)
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		sum, err := a.Ingest(context.Background(), []ingest.Source{s}, archive.IngestOptions{Trust: trust})
		if err != nil || sum.Errors > 0 {
			b.Fatalf("%+v %v", sum, err)
		}
		b.ReportMetric(float64(sum.Archived)/b.Elapsed().Seconds()*float64(b.N), "messages/s")
		b.StopTimer()
		a.Close()
		b.StartTimer()
	}
}
