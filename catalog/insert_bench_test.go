package catalog_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/conserva/conserva/catalog"
	"github.com/conserva/conserva/internal/catbench"
)

// insertBase is the catalog BenchmarkCatalogInsert inserts into:
// CONSERVA_BENCH_CATALOG (a copy of a real one, e.g. the catalog of an
// ingest of 100,000 pecgen messages) or 100,000 synthetic records
// inserted in chunks as ingest does (pages as ingest leaves them; half a
// minute to make, in dir).
func insertBase(dir string) (string, error) {
	if p := os.Getenv("CONSERVA_BENCH_CATALOG"); p != "" {
		return p, nil
	}
	path := filepath.Join(dir, "base.db")
	c, err := catalog.Open(path, time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	for start := 0; start < 100_000; start += 256 {
		var chunk []*catalog.Record
		for i := start; i < min(start+256, 100_000); i++ {
			chunk = append(chunk, benchRecord(i))
		}
		if _, err := c.Insert(chunk); err != nil {
			return "", err
		}
	}
	return path, nil
}

// benchRecord is catbench's i-th record with Message-IDs as random as a
// provider's (catbench's grow with the dossier: keys in order).
func benchRecord(i int) *catalog.Record {
	r := catbench.Record(i)
	h := sha256.Sum256(fmt.Appendf(nil, "mid %d", i/4))
	mid := hex.EncodeToString(h[:8]) + "@client.pec.example"
	r.RefMessageID, r.Dossier = "<"+mid+">", mid
	if r.Msgid != "" {
		r.Msgid = r.RefMessageID
	}
	r.MessageID = "<" + hex.EncodeToString(h[8:16]) + fmt.Sprint(i%4) + "@pec.example>"
	r.Identificativo = "opec." + mid
	return r
}

// BenchmarkCatalogInsert inserts chunks of 256 new records (one per
// iteration) into a catalog of 100,000, releasing the mapped pages after
// each as ingest's commit does for a large catalog; cpu-µs/rec is the
// process's CPU time (user and system: page faults count), which the
// commits' fsyncs do not add to, faults/rec its minor page faults.
func BenchmarkCatalogInsert(b *testing.B) {
	dir := b.TempDir()
	base, err := insertBase(dir)
	if err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(dir, "catalog.db")
	data, err := os.ReadFile(base)
	if err == nil {
		err = os.WriteFile(path, data, 0o600)
	}
	if err != nil {
		b.Fatal(err)
	}
	c, err := catalog.Open(path, time.Second)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	chunks := make([][]*catalog.Record, b.N)
	for n := range chunks {
		for i := range 256 {
			chunks[n] = append(chunks[n], benchRecord(1_000_000+n*256+i))
		}
	}
	b.ReportAllocs()
	before, faults := cpuTime()
	b.ResetTimer()
	for n := range b.N {
		added, err := c.Insert(chunks[n])
		if err != nil || !added[0] {
			b.Fatal(added[0], err)
		}
		_ = c.ReleaseMapped()
	}
	b.StopTimer()
	after, faults2 := cpuTime()
	b.ReportMetric(float64((after-before).Microseconds())/float64(b.N*256), "cpu-µs/rec")
	b.ReportMetric(float64(faults2-faults)/float64(b.N*256), "faults/rec")
}

// cpuTime is the process's CPU time and its minor page faults so far.
func cpuTime() (time.Duration, int64) {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), ru.Minflt
}
