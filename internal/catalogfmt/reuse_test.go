package catalogfmt

import (
	"bytes"
	"compress/flate"
	"fmt"
	"math/rand/v2"
	"testing"
)

// The compressor AppendPack keeps from one record to the next packs each
// byte for byte as a new one would: the catalog's bytes do not depend on
// what was packed before (records of every size, the window's 32 KB
// passed too, one after another and from two goroutines at once).
func TestReusedPackerPacksAsNew(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	recs := make([][]byte, 0, 600)
	for i := range cap(recs) {
		r := bytes.Replace(sample, []byte("Documento 10"), fmt.Appendf(nil, "Documento %d %x", i, rng.Uint64()), 1)
		switch i % 50 {
		case 7: // past the window: the compressor slides it
			r = append(r, bytes.Repeat(fmt.Appendf(nil, "%x", rng.Uint64()), 6000)...)
		case 11:
			r = r[:rng.IntN(len(r))]
		case 13:
			r = nil
		}
		recs = append(recs, r)
	}
	fresh := func(data []byte) []byte {
		var b bytes.Buffer
		b.WriteByte(packed)
		w, err := flate.NewWriterDict(&b, packLevel, dict)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(data)
		w.Close()
		return b.Bytes()
	}
	want := make([][]byte, len(recs))
	for i, r := range recs {
		want[i] = fresh(r)
	}
	errs := make(chan error, 2)
	for g := range 2 {
		go func() {
			for i := range recs {
				i := (i + g*len(recs)/2) % len(recs)
				if got := AppendPack([]byte("prefix"), recs[i]); !bytes.Equal(got[len("prefix"):], want[i]) {
					errs <- fmt.Errorf("record %d (%d bytes) packed as %d bytes, a new compressor as %d", i, len(recs[i]), len(got)-len("prefix"), len(want[i]))
					return
				}
			}
			errs <- nil
		}()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

// BenchmarkPackReset is what reusing a compressor still costs for each
// record: its hash tables cleared (640 KB) and the dictionary hashed again
// (compress/flate's Reset), against the whole of AppendPack.
func BenchmarkPackReset(b *testing.B) {
	w, _ := flate.NewWriterDict(nil, packLevel, dict)
	var buf bytes.Buffer
	b.Run("reset", func(b *testing.B) {
		for b.Loop() {
			w.Reset(&buf)
		}
	})
	out := make([]byte, 0, 1024)
	b.Run("appendpack", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			out = AppendPack(out[:0], sample)
		}
	})
}
