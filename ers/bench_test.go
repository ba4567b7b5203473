package ers_test

import (
	"crypto"
	"crypto/sha256"
	"encoding/binary"
	"testing"
	"time"

	"github.com/conserva/conserva/ers"
)

func leafHashes(n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		var b [8]byte
		binary.BigEndian.PutUint64(b[:], uint64(i))
		h := sha256.Sum256(b[:])
		out[i] = h[:]
	}
	return out
}

// A night of 100,000 messages: one tree, one timestamp, every record
// verifies (spot checks at both ends and in the middle), records stay
// small.
func TestHundredThousandLeaves(t *testing.T) {
	if testing.Short() {
		t.Skip("100,000 leaves")
	}
	dev, roots, _ := devTSA(t)
	leaves := leafHashes(100_000)
	tree, err := ers.Build(crypto.SHA256, leaves)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tree.Stamp(ctx, dev); err != nil {
		t.Fatal(err)
	}
	v := &ers.Verifier{Roots: roots, At: time.Now()}
	for _, i := range []int{0, 1, 2, 49_999, 50_000, 99_998, 99_999} {
		rec, err := tree.Record(i)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := v.Verify(ctx, rec, ers.Digests{crypto.SHA256: leaves[i]}); err != nil {
			t.Fatalf("leaf %d: %v", i, err)
		}
		er, _ := ers.Parse(rec)
		// ⌈log2 100,000⌉ = 17 levels: at most 16 lists after the first.
		if n := len(er.Chains[0][0].ReducedHashtree); n > 17 {
			t.Fatalf("leaf %d: %d lists", i, n)
		}
	}
}

// BenchmarkSeal100k is the seal's share of the work for 100,000 messages:
// the tree and every record's DER (the timestamp is attached once).
func BenchmarkSeal100k(b *testing.B) {
	dev, _, _ := devTSA(b)
	leaves := leafHashes(100_000)
	tree, err := ers.Build(crypto.SHA256, leaves)
	if err != nil {
		b.Fatal(err)
	}
	token, err := tree.Stamp(ctx, dev)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		t, err := ers.Build(crypto.SHA256, leaves)
		if err != nil {
			b.Fatal(err)
		}
		if err := t.Attach(token); err != nil {
			b.Fatal(err)
		}
		for i := range leaves {
			if _, err := t.Record(i); err != nil {
				b.Fatal(err)
			}
		}
	}
}

func BenchmarkBuild100k(b *testing.B) {
	leaves := leafHashes(100_000)
	for b.Loop() {
		if _, err := ers.Build(crypto.SHA256, leaves); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRenew100k is a timestamp renewal of 100,000 records: parse,
// one tree over their timestamps, the new records (the TSA request is
// made once, before the timer).
func BenchmarkRenew100k(b *testing.B) {
	dev, _, _ := devTSA(b)
	records, err := ers.Create(ctx, dev, crypto.SHA256, leafHashes(100_000))
	if err != nil {
		b.Fatal(err)
	}
	r, err := ers.PrepareTimestampRenewal(records)
	if err != nil {
		b.Fatal(err)
	}
	token, err := r.Stamp(ctx, dev)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		r, err := ers.PrepareTimestampRenewal(records)
		if err != nil {
			b.Fatal(err)
		}
		if err := r.Attach(token); err != nil {
			b.Fatal(err)
		}
		if _, err := r.Records(); err != nil {
			b.Fatal(err)
		}
	}
}
