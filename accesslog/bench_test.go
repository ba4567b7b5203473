package accesslog

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// writeLog writes n chained records as Append would, without a sync per
// record (a year of a busy office in seconds).
func writeLog(b *testing.B, path string, n int) {
	b.Helper()
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriter(f)
	prev := Genesis
	t0 := time.Date(2026, 1, 1, 8, 0, 0, 0, time.UTC)
	for i := range n {
		r := Record{Seq: int64(i + 1), Time: t0.Add(time.Duration(i) * time.Second), User: "avv.rossi", Role: "legal", Action: "search",
			Target: fmt.Sprintf("q=decreto ingiuntivo %d", i), Addr: "10.0.0.7", Result: "ok", Prev: prev}
		r.Hash = r.Sum()
		prev = r.Hash
		data, _ := json.Marshal(r)
		w.Write(append(data, '\n'))
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	f.Close()
}

// BenchmarkSealedCheck: cutting a day's records and comparing a year of
// sealed segments (one a day) with the live log, as accesslog verify and
// audit do. CONSERVA_BENCH_ACCESS sets the records (default 365,000).
func BenchmarkSealedCheck(b *testing.B) {
	n := 365000
	if v := os.Getenv("CONSERVA_BENCH_ACCESS"); v != "" {
		fmt.Sscan(v, &n)
	}
	path := filepath.Join(b.TempDir(), FileName)
	writeLog(b, path, n)
	data, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	// One segment a day, as nightly seals cut them.
	perDay := max(n/365, 1)
	var sealed []Sealed
	var m Mark
	for off := 0; off < len(data); {
		end, lines := off, 0
		for end < len(data) && lines < perDay {
			end += bytes.IndexByte(data[end:], '\n') + 1
			lines++
		}
		sum := sha256.Sum256(data[off:end])
		s := Segment{First: m.Line + 1, Last: m.Line + int64(lines), Offset: int64(off), Length: int64(end - off), SHA256: hex.EncodeToString(sum[:])}
		sealed = append(sealed, Sealed{Key: "packages/x/accesslog/" + s.Name(), Name: s.Name(), Data: data[off:end]})
		m, off = s.End(), end
	}
	// What the next nightly seal does: cut the day's records.
	last := sealed[len(sealed)-1]
	lastSeg, _ := ParseSegmentName(last.Name)
	t0 := time.Now()
	if seg, _, err := Cut(path, Mark{Line: lastSeg.First - 1, Offset: int64(len(data) - len(last.Data))}); err != nil || seg.Last != int64(n) {
		b.Fatal(seg, err)
	}
	cut := time.Since(t0)
	// The floor, in the same run: reading the log once and hashing it.
	t0 = time.Now()
	whole, _ := os.ReadFile(path)
	sha256.Sum256(whole)
	floor := time.Since(t0)
	b.ResetTimer()
	for range b.N {
		probs, mark, err := CheckSealed(path, sealed)
		if err != nil || len(probs) != 0 || mark.Line != int64(n) {
			b.Fatal(probs, mark, err)
		}
	}
	b.ReportMetric(float64(len(sealed)), "segments")
	b.ReportMetric(float64(cut.Microseconds()), "µs/cut")
	b.ReportMetric(float64(len(data))/1e6, "MB")
	b.ReportMetric(float64(b.Elapsed())/float64(b.N)/float64(floor), "x-read+sha256")
}
