package archive_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/conserva/conserva/archive"
	"github.com/conserva/conserva/ingest"
	"github.com/conserva/conserva/internal/pecgen"
	"github.com/conserva/conserva/pec"
)

// BenchmarkIngest ingests 500 signed envelopes of ~70 KB into a fresh archive
// per iteration; bytes/s are those of the messages.
func BenchmarkIngest(b *testing.B) {
	w, err := newWorld()
	if err != nil {
		b.Fatal(err)
	}
	src := b.TempDir()
	payload := make([]byte, 50*1024)
	var total int64
	for i := 0; i < 500; i++ {
		payload[0], payload[1] = byte(i), byte(i>>8)
		raw, err := w.prov.Build(pecgen.Spec{Kind: pec.KindPostaCertificata, Subject: fmt.Sprint(i), Attachment: payload})
		if err != nil {
			b.Fatal(err)
		}
		total += int64(len(raw))
		os.WriteFile(filepath.Join(src, fmt.Sprintf("%04d.eml", i)), raw, 0o644)
	}
	trust := pec.NewTrustStore(w.ca.Cert)
	b.SetBytes(total)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		a, err := archive.Open(filepath.Join(b.TempDir(), "a"), nil)
		if err != nil {
			b.Fatal(err)
		}
		s, _ := ingest.Open(src)
		b.StartTimer()
		sum, err := a.Ingest(context.Background(), []ingest.Source{s}, archive.IngestOptions{Trust: trust})
		if err != nil || sum.Archived != 500 {
			b.Fatalf("%+v %v", sum, err)
		}
		b.StopTimer()
		a.Close()
		b.StartTimer()
	}
}
