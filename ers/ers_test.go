package ers_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/conserva/conserva/ers"
)

var ctx = context.Background()

func TestCreateAndVerifyEveryLeaf(t *testing.T) {
	dev, roots, keys := devTSA(t)
	for _, n := range []int{1, 2, 3, 7, 1000} {
		data, hashes := objects(n)
		tsa := &countingTSA{DigestAuthority: dev}
		records, err := ers.Create(ctx, tsa, crypto.SHA256, hashes)
		if err != nil {
			t.Fatalf("%d leaves: %v", n, err)
		}
		if tsa.n != 1 {
			t.Fatalf("%d leaves: %d TSA requests, want 1", n, tsa.n)
		}
		v := &ers.Verifier{Roots: roots, At: time.Now()}
		for i := range data {
			res, err := v.VerifyData(ctx, records[i], data[i])
			if err != nil {
				t.Fatalf("%d leaves, leaf %d: %v", n, i, err)
			}
			s := res.Latest()
			if len(res.Stamps) != 1 || s.Kind != "initial" || s.Digest != crypto.SHA256 || !strings.Contains(s.TSA, "DEVELOPMENT TSA") || !s.NotAfter.Equal(keys.TSA.Cert.NotAfter) {
				t.Fatalf("%d leaves, leaf %d: %+v", n, i, res.Stamps)
			}
			// Data outside the tree is not proven. (A record also proves
			// the leaf sharing its first list, as RFC 4998 §4.3 reads.)
			if _, err := v.VerifyData(ctx, records[i], []byte("not archived")); !errors.Is(err, ers.ErrNotCovered) {
				t.Fatalf("%d leaves: leaf %d's record accepted other data: %v", n, i, err)
			}
			er, _ := ers.Parse(records[i])
			if rht := er.Chains[0][0].ReducedHashtree; rht != nil {
				for j := range min(n, 8) {
					inFirst := false
					for _, v := range rht[0] {
						inFirst = inFirst || bytes.Equal(v, hashes[j])
					}
					if _, err := v.VerifyData(ctx, records[i], data[j]); inFirst != (err == nil) {
						t.Fatalf("%d leaves: leaf %d's record, leaf %d's data (in its first list: %v): %v", n, i, j, inFirst, err)
					}
				}
			}
		}
	}
}

func TestVerifyRejectsDamage(t *testing.T) {
	dev, roots, _ := devTSA(t)
	data, hashes := objects(5)
	records, err := ers.Create(ctx, dev, crypto.SHA256, hashes)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Now()
	if _, err := ers.VerifyData(ctx, records[2], data[2], roots, at); err != nil {
		t.Fatal(err)
	}

	t.Run("flipped byte in the data", func(t *testing.T) {
		d := bytes.Clone(data[2])
		d[len(d)/2] ^= 1
		if _, err := ers.VerifyData(ctx, records[2], d, roots, at); !errors.Is(err, ers.ErrNotCovered) || !errors.Is(err, ers.ErrInvalid) {
			t.Fatalf("damaged data: %v", err)
		}
	})

	t.Run("flipped byte in the record", func(t *testing.T) {
		// Every byte outside the TimeStampToken, and the TSTInfo's imprint.
		er, _ := ers.Parse(records[2])
		tok := er.Chains[0][0].TimeStamp
		start := bytes.Index(records[2], tok)
		imprint := bytes.Index(records[2], mustRoot(t, records[2]))
		for i := range records[2] {
			inToken := i >= start && i < start+len(tok)
			if inToken && (i < imprint || i >= imprint+32) {
				continue
			}
			r := bytes.Clone(records[2])
			r[i] ^= 0x01
			_, err := ers.VerifyData(ctx, r, data[2], roots, at)
			if err == nil {
				t.Fatalf("byte %d flipped: accepted", i)
			}
			if errors.Is(err, ers.ErrNotCovered) {
				t.Fatalf("byte %d of the record flipped, blamed on the data: %v", i, err)
			}
		}
	})

	t.Run("timestamp from another TSA", func(t *testing.T) {
		other, _, _ := devTSA(t)
		foreign, err := ers.Create(ctx, other, crypto.SHA256, hashes)
		if err != nil {
			t.Fatal(err)
		}
		_, err = ers.VerifyData(ctx, foreign[2], data[2], roots, at)
		if !errors.Is(err, ers.ErrUntrusted) {
			t.Fatalf("another TSA's record: %v", err)
		}
	})

	t.Run("reduced hash tree of another leaf", func(t *testing.T) {
		a, _ := ers.Parse(records[2])
		b, _ := ers.Parse(records[4])
		a.Chains[0][0].ReducedHashtree = b.Chains[0][0].ReducedHashtree
		r, err := a.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ers.VerifyData(ctx, r, data[2], roots, at); !errors.Is(err, ers.ErrInvalid) {
			t.Fatalf("swapped path: %v", err)
		}
	})

	t.Run("reduced hash tree lists reordered", func(t *testing.T) {
		a, _ := ers.Parse(records[0])
		rht := a.Chains[0][0].ReducedHashtree
		if len(rht) < 3 {
			t.Fatalf("want a deeper path: %d lists", len(rht))
		}
		rht[1], rht[2] = rht[2], rht[1]
		r, _ := a.Marshal()
		if _, err := ers.VerifyData(ctx, r, data[0], roots, at); !errors.Is(err, ers.ErrInvalid) {
			t.Fatalf("reordered path: %v", err)
		}
	})

	t.Run("timestamp from the future", func(t *testing.T) {
		if _, err := ers.VerifyData(ctx, records[2], data[2], roots, at.Add(-time.Hour)); !errors.Is(err, ers.ErrInvalid) {
			t.Fatalf("verified before its timestamp: %v", err)
		}
	})
}

// mustRoot is the imprint of a record's first timestamp, recomputed.
func mustRoot(t *testing.T, record []byte) []byte {
	t.Helper()
	er, err := ers.Parse(record)
	if err != nil {
		t.Fatal(err)
	}
	rht := er.Chains[0][0].ReducedHashtree
	tree, err := ers.Build(crypto.SHA256, rht[0])
	if err != nil {
		t.Fatal(err)
	}
	root := tree.Root()
	for _, l := range rht[1:] {
		tree, _ = ers.Build(crypto.SHA256, [][]byte{root, l[0]})
		root = tree.Root()
	}
	return root
}

func TestTimestampRenewal(t *testing.T) {
	dev, roots, _ := devTSA(t)
	data, hashes := objects(6)
	records, err := ers.Create(ctx, dev, crypto.SHA256, hashes)
	if err != nil {
		t.Fatal(err)
	}
	renewed := records
	for round := 1; round <= 3; round++ {
		tsa := &countingTSA{DigestAuthority: dev}
		// Renew five of the six: one tree, one request.
		out, err := ers.RenewTimestamps(ctx, tsa, renewed[:5])
		if err != nil {
			t.Fatal(err)
		}
		if tsa.n != 1 {
			t.Fatalf("round %d: %d TSA requests", round, tsa.n)
		}
		renewed = append(out, renewed[5])
		for i := range 5 {
			res, err := ers.VerifyData(ctx, renewed[i], data[i], roots, time.Now())
			if err != nil {
				t.Fatalf("round %d, record %d: %v", round, i, err)
			}
			if len(res.Stamps) != round+1 || res.Latest().Kind != "timestamp renewal" || res.Latest().Chain != 0 || res.Latest().Index != round {
				t.Fatalf("round %d: %+v", round, res.Stamps)
			}
		}
		// The originals are untouched and still valid.
		if _, err := ers.VerifyData(ctx, records[0], data[0], roots, time.Now()); err != nil {
			t.Fatal(err)
		}
	}

	// An earlier timestamp replaced by another (valid) one breaks the
	// chain: the later timestamps covered the original.
	other, err := ers.Create(ctx, dev, crypto.SHA256, hashes[:2])
	if err != nil {
		t.Fatal(err)
	}
	o, _ := ers.Parse(other[1])
	er, _ := ers.Parse(renewed[1])
	er.Chains[0][1] = o.Chains[0][0]
	r, _ := er.Marshal()
	if _, err := ers.VerifyData(ctx, r, data[1], roots, time.Now()); !errors.Is(err, ers.ErrInvalid) {
		t.Fatalf("timestamp replaced: %v", err)
	}
}

func TestHashTreeRenewal(t *testing.T) {
	dev, roots, _ := devTSA(t)
	data, hashes := objects(4)
	records, err := ers.Create(ctx, dev, crypto.SHA256, hashes)
	if err != nil {
		t.Fatal(err)
	}
	if records, err = ers.RenewTimestamps(ctx, dev, records); err != nil {
		t.Fatal(err)
	}
	items := make([]ers.HashRenewal, len(records))
	for i := range records {
		items[i] = ers.HashRenewal{Record: records[i], DataHash: sum(crypto.SHA512, data[i])}
	}
	tsa := &countingTSA{DigestAuthority: dev}
	renewed, err := ers.RenewHashTree(ctx, tsa, crypto.SHA512, items)
	if err != nil {
		t.Fatal(err)
	}
	if tsa.n != 1 {
		t.Fatalf("%d TSA requests", tsa.n)
	}
	// And a timestamp renewal of the new SHA-512 chain.
	if renewed, err = ers.RenewTimestamps(ctx, dev, renewed); err != nil {
		t.Fatal(err)
	}
	for i := range renewed {
		res, err := ers.VerifyData(ctx, renewed[i], data[i], roots, time.Now())
		if err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		var kinds []string
		for _, s := range res.Stamps {
			kinds = append(kinds, s.Kind+"/"+s.Digest.String())
		}
		if got := strings.Join(kinds, ","); got != "initial/SHA-256,timestamp renewal/SHA-256,hash-tree renewal/SHA-512,timestamp renewal/SHA-512" {
			t.Fatalf("record %d: %s", i, got)
		}
		er, _ := ers.Parse(renewed[i])
		algs, _ := er.Algorithms()
		if len(algs) != 2 || algs[1] != crypto.SHA512 || len(er.DigestAlgorithms) != 2 {
			t.Fatalf("algorithms %v, digestAlgorithms %d", algs, len(er.DigestAlgorithms))
		}
		// Damaged data fails under both hashes.
		d := bytes.Clone(data[i])
		d[0] ^= 1
		if _, err := ers.VerifyData(ctx, renewed[i], d, roots, time.Now()); !errors.Is(err, ers.ErrInvalid) {
			t.Fatalf("damaged data: %v", err)
		}
		// Without the SHA-512 hash the record cannot be checked.
		if _, err := ers.Verify(ctx, renewed[i], ers.Digests{crypto.SHA256: hashes[i]}, roots, time.Now()); err == nil {
			t.Fatal("verified without the SHA-512 hash")
		}
		// Damage in the earlier chain breaks the new one, which covers it.
		er.Chains[0][1].ReducedHashtree[0][0][0] ^= 1
		r, _ := er.Marshal()
		if _, err := ers.VerifyData(ctx, r, data[i], roots, time.Now()); !errors.Is(err, ers.ErrInvalid) {
			t.Fatalf("damaged first chain: %v", err)
		}
	}
	// A hash-tree renewal with a wrong data hash does not verify.
	bad := []ers.HashRenewal{{Record: records[0], DataHash: sum(crypto.SHA512, data[1])}}
	out, err := ers.RenewHashTree(ctx, dev, crypto.SHA512, bad)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ers.VerifyData(ctx, out[0], data[0], roots, time.Now()); !errors.Is(err, ers.ErrInvalid) {
		t.Fatalf("renewal over the wrong data: %v", err)
	}
}

// The proof of time lasts while the newest timestamp's TSA certificate
// does; a renewal made in time extends it, one made too late does not.
func TestRenewalInTime(t *testing.T) {
	now := time.Now()
	years := func(y float64) time.Time { return now.Add(time.Duration(y * 365 * 24 * float64(time.Hour))) }
	// A TSA whose certificate expires in a year stamped three years ago.
	old, oldRoots := tsaValid(t, years(-4), years(1), func() time.Time { return years(-3) })
	data, hashes := objects(3)
	records, err := ers.Create(ctx, old, crypto.SHA256, hashes)
	if err != nil {
		t.Fatal(err)
	}
	res, err := ers.VerifyData(ctx, records[1], data[1], oldRoots, now)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Expires().Equal(old.Cert.NotAfter) {
		t.Fatalf("expires %v, want %v", res.Expires(), old.Cert.NotAfter)
	}
	if _, err := ers.VerifyData(ctx, records[1], data[1], oldRoots, years(2)); !errors.Is(err, ers.ErrInvalid) || !strings.Contains(err.Error(), "lapsed") {
		t.Fatalf("expired proof: %v", err)
	}

	for _, c := range []struct {
		renewAt float64
		ok      bool
	}{{0, true}, {1.1, false}} {
		// The next TSA's certificate lasts ten years.
		next, _ := tsaValid(t, years(-1), years(10), func() time.Time { return years(c.renewAt) })
		renewed, err := ers.RenewTimestamps(ctx, next, records)
		if err != nil {
			t.Fatal(err)
		}
		both := x509.NewCertPool()
		both.AddCert(old.Chain[1])
		both.AddCert(next.Chain[1])
		res, err := ers.VerifyData(ctx, renewed[1], data[1], both, years(2))
		if c.ok != (err == nil) {
			t.Fatalf("renewed at +%vy: %v", c.renewAt, err)
		}
		if c.ok && !res.Expires().Equal(next.Cert.NotAfter) {
			t.Fatalf("renewed at +%vy: expires %v", c.renewAt, res.Expires())
		}
		if !c.ok && !strings.Contains(err.Error(), "lapsed") {
			t.Fatalf("renewed at +%vy: %v", c.renewAt, err)
		}
		// Only the old TSA's root: the renewal is untrusted.
		if _, err := ers.VerifyData(ctx, renewed[1], data[1], oldRoots, now.Add(time.Hour)); c.ok && !errors.Is(err, ers.ErrUntrusted) {
			t.Fatalf("renewal by an unconfigured TSA: %v", err)
		}
	}
}

// A renewal interrupted after its timestamp resumes from the journaled
// token, with the records in any order and no second TSA request.
func TestRenewalResumes(t *testing.T) {
	dev, roots, _ := devTSA(t)
	data, hashes := objects(5)
	records, err := ers.Create(ctx, dev, crypto.SHA256, hashes)
	if err != nil {
		t.Fatal(err)
	}
	r, err := ers.PrepareTimestampRenewal(records)
	if err != nil {
		t.Fatal(err)
	}
	token, err := r.Stamp(ctx, dev)
	if err != nil {
		t.Fatal(err)
	}
	// "Crash"; the journal holds token. Prepare again, reversed.
	reversed := make([][]byte, len(records))
	for i := range records {
		reversed[i] = records[len(records)-1-i]
	}
	again, err := ers.PrepareTimestampRenewal(reversed)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again.Root(), r.Root()) {
		t.Fatal("the renewal tree depends on the order of the records")
	}
	if _, err := again.Records(); err == nil {
		t.Fatal("records without a timestamp")
	}
	if err := again.Attach(token); err != nil {
		t.Fatal(err)
	}
	out, err := again.Records()
	if err != nil {
		t.Fatal(err)
	}
	for i := range out {
		res, err := ers.VerifyData(ctx, out[i], data[len(records)-1-i], roots, time.Now())
		if err != nil || len(res.Stamps) != 2 {
			t.Fatalf("record %d: %v", i, err)
		}
	}
	// Another batch's timestamp does not attach.
	fewer, err := ers.PrepareTimestampRenewal(records[:4])
	if err != nil {
		t.Fatal(err)
	}
	if err := fewer.Attach(token); err == nil {
		t.Fatal("attached the timestamp of another batch")
	}
	// Hash-tree renewal resumes the same way.
	items := make([]ers.HashRenewal, len(records))
	for i := range records {
		items[i] = ers.HashRenewal{Record: out[i], DataHash: sum(crypto.SHA512, data[len(records)-1-i])}
	}
	h, err := ers.PrepareHashTreeRenewal(crypto.SHA512, items)
	if err != nil {
		t.Fatal(err)
	}
	htoken, err := h.Stamp(ctx, dev)
	if err != nil {
		t.Fatal(err)
	}
	h2, _ := ers.PrepareHashTreeRenewal(crypto.SHA512, items)
	if err := h2.Attach(htoken); err != nil {
		t.Fatal(err)
	}
	sha512, err := h2.Records()
	if err != nil {
		t.Fatal(err)
	}
	// A batch mixing SHA-256 and SHA-512 chains is refused.
	if _, err := ers.PrepareTimestampRenewal([][]byte{records[0], sha512[0]}); err == nil {
		t.Fatal("mixed batch accepted")
	}
	res, err := ers.VerifyData(ctx, sha512[0], data[len(records)-1], roots, time.Now())
	if err != nil || len(res.Stamps) != 3 {
		t.Fatalf("%v", err)
	}
}

// One Verifier shared by an audit's workers.
func TestVerifierConcurrent(t *testing.T) {
	dev, roots, _ := devTSA(t)
	data, hashes := objects(64)
	records, err := ers.Create(ctx, dev, crypto.SHA256, hashes)
	if err != nil {
		t.Fatal(err)
	}
	v := &ers.Verifier{Roots: roots, At: time.Now()}
	errs := make(chan error, len(records))
	for i := range records {
		go func() {
			_, err := v.VerifyData(ctx, records[i], data[i])
			errs <- err
		}()
	}
	for range records {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}
