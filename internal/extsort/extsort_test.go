package extsort

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"testing"
)

// Records come back in order, duplicates kept, whether they stayed in
// memory or were spilled to many runs.
func TestSortsAcrossRuns(t *testing.T) {
	for _, max := range []int{50, 700, 100000} {
		s := New(t.TempDir(), 8, max)
		r := rand.New(rand.NewPCG(1, 2))
		want := map[uint64]int{}
		for range 5000 {
			v := r.Uint64N(3000) // duplicates on purpose
			want[v]++
			if err := s.Add(binary.BigEndian.AppendUint64(nil, v)); err != nil {
				t.Fatal(err)
			}
		}
		var prev []byte
		n := 0
		err := s.Each(func(rec []byte) error {
			if prev != nil && bytes.Compare(prev, rec) > 0 {
				t.Fatalf("max %d: %x after %x", max, rec, prev)
			}
			prev = append(prev[:0], rec...)
			want[binary.BigEndian.Uint64(rec)]--
			n++
			return nil
		})
		if err != nil || n != 5000 {
			t.Fatalf("max %d: %d records, %v", max, n, err)
		}
		for v, c := range want {
			if c != 0 {
				t.Fatalf("max %d: value %d off by %d", max, v, c)
			}
		}
		if max == 50 && len(s.runs) != 0 {
			t.Fatal("runs left open")
		}
	}
}

func TestRefusesWrongSize(t *testing.T) {
	s := New("", 4, 10)
	if err := s.Add([]byte{1, 2, 3}); err == nil {
		t.Fatal("a 3-byte record accepted by a 4-byte sorter")
	}
	if err := s.Each(func([]byte) error { return nil }); err != nil {
		t.Fatal(err)
	}
}
