package ers_test

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/notaryproject/tspclient-go"

	"github.com/conserva/conserva/ers"
	"github.com/conserva/conserva/internal/testutil"
)

// Bouncy Castle 1.72 (ERSEvidenceRecord.validatePresent + validate) and
// this package must agree on every record: fresh ones from trees of 1, 2,
// 3 and 1000 leaves (first, middle and last leaves), after one and two
// timestamp renewals, after a hash-tree renewal to SHA-512 and a renewal
// of that chain; and both must refuse damaged data.
func TestBouncyCastleAcceptsOurRecords(t *testing.T) {
	dev, roots, keys := devTSA(t)
	dir := t.TempDir()
	tsaCert := filepath.Join(dir, "tsa.der")
	if err := os.WriteFile(tsaCert, keys.TSA.Cert.Raw, 0o644); err != nil {
		t.Fatal(err)
	}
	type check struct {
		name   string
		record []byte
		data   []byte
		ok     bool
	}
	var checks []check
	add := func(name string, records, data [][]byte, leaves ...int) {
		for _, i := range leaves {
			checks = append(checks, check{fmt.Sprintf("%s leaf %d", name, i), records[i], data[i], true})
		}
		d := bytes.Clone(data[leaves[0]])
		d[len(d)-3] ^= 0x20
		checks = append(checks, check{fmt.Sprintf("%s leaf %d, damaged data", name, leaves[0]), records[leaves[0]], d, false})
	}
	for _, n := range []int{1, 2, 3, 1000} {
		data, hashes := objects(n)
		records, err := ers.Create(ctx, dev, crypto.SHA256, hashes)
		if err != nil {
			t.Fatal(err)
		}
		add(fmt.Sprintf("%d leaves:", n), records, data, 0, n/2, n-1)
	}

	data, hashes := objects(3)
	records, err := ers.Create(ctx, dev, crypto.SHA256, hashes)
	if err != nil {
		t.Fatal(err)
	}
	once, err := ers.RenewTimestamps(ctx, dev, records)
	if err != nil {
		t.Fatal(err)
	}
	add("timestamp renewal:", once, data, 0, 1, 2)
	alone, err := ers.RenewTimestamps(ctx, dev, records[2:])
	if err != nil {
		t.Fatal(err)
	}
	add("timestamp renewal of 1 record:", append(make([][]byte, 2), alone...), data, 2)
	twice, err := ers.RenewTimestamps(ctx, dev, once[:2])
	if err != nil {
		t.Fatal(err)
	}
	add("second timestamp renewal (2 records):", twice, data, 0, 1)
	single, err := ers.RenewTimestamps(ctx, dev, twice[:1])
	if err != nil {
		t.Fatal(err)
	}
	add("third timestamp renewal (1 record):", single, data, 0)
	items := make([]ers.HashRenewal, 3)
	for i := range items {
		items[i] = ers.HashRenewal{Record: once[i], DataHash: sum(crypto.SHA512, data[i])}
	}
	sha512, err := ers.RenewHashTree(ctx, dev, crypto.SHA512, items)
	if err != nil {
		t.Fatal(err)
	}
	add("hash-tree renewal to SHA-512:", sha512, data, 0, 1, 2)
	lone, err := ers.RenewHashTree(ctx, dev, crypto.SHA512, items[:1])
	if err != nil {
		t.Fatal(err)
	}
	add("hash-tree renewal of 1 record:", lone, data, 0)
	after, err := ers.RenewTimestamps(ctx, dev, sha512)
	if err != nil {
		t.Fatal(err)
	}
	add("timestamp renewal of the SHA-512 chain:", after, data, 0, 2)

	// Stamped by another TSA: Bouncy Castle's verifier is built from our
	// TSA's certificate, Go's roots are our CA.
	other, _, _ := devTSA(t)
	foreign, err := ers.Create(ctx, other, crypto.SHA256, hashes)
	if err != nil {
		t.Fatal(err)
	}
	checks = append(checks, check{"another TSA", foreign[1], data[1], false})

	args := []string{"verify", tsaCert}
	for i, c := range checks {
		r, d := filepath.Join(dir, fmt.Sprintf("%d.ers", i)), filepath.Join(dir, fmt.Sprintf("%d.data", i))
		if err := os.WriteFile(r, c.record, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(d, c.data, 0o644); err != nil {
			t.Fatal(err)
		}
		args = append(args, r, d)
	}
	out, err := testutil.Java(t, "testdata/ERSCheck.java", args...)
	if err != nil {
		t.Fatalf("Bouncy Castle: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != len(checks) {
		t.Fatalf("Bouncy Castle answered %d of %d checks:\n%s", len(lines), len(checks), out)
	}
	for i, c := range checks {
		bcOK := lines[i] == "OK"
		_, goErr := ers.VerifyData(ctx, c.record, c.data, roots, time.Now())
		if bcOK != c.ok || (goErr == nil) != c.ok {
			t.Errorf("%s: Bouncy Castle %q, Go %v; want valid=%v", c.name, lines[i], goErr, c.ok)
		}
	}
	t.Logf("%d records checked by Bouncy Castle and Go", len(checks))
}

// Records made by Bouncy Castle's own generator verify here, and its tree
// over the same hashes has the same root as ours.
func TestOurVerifierAcceptsBouncyCastleRecords(t *testing.T) {
	_, roots, keys := devTSA(t)
	dir := t.TempDir()
	key, err := x509.MarshalPKCS8PrivateKey(keys.TSA.Key)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{"tsa.der": keys.TSA.Cert.Raw, "tsa.pk8": key, "ca.der": keys.CA.Raw}
	data, hashes := objects(5)
	args := []string{"generate", filepath.Join(dir, "tsa.der"), filepath.Join(dir, "tsa.pk8"), filepath.Join(dir, "ca.der"), dir}
	for i, d := range data {
		name := fmt.Sprintf("%d.data", i)
		files[name] = d
		args = append(args, filepath.Join(dir, name))
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := testutil.Java(t, "testdata/ERSCheck.java", args...); err != nil {
		t.Fatalf("Bouncy Castle: %v\n%s", err, out)
	}
	tree, err := ers.Build(crypto.SHA256, hashes)
	if err != nil {
		t.Fatal(err)
	}
	for i := range data {
		record, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("%d.ers", i)))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ers.VerifyData(ctx, record, data[i], roots, time.Now()); err != nil {
			t.Fatalf("Bouncy Castle's record %d: %v", i, err)
		}
		other := bytes.Clone(data[i])
		other[0] ^= 1
		if _, err := ers.VerifyData(ctx, record, other, roots, time.Now()); err == nil {
			t.Fatalf("Bouncy Castle's record %d accepted damaged data", i)
		}
		er, _ := ers.Parse(record)
		st, err := tspclient.ParseSignedToken(er.Chains[0][0].TimeStamp)
		if err != nil {
			t.Fatal(err)
		}
		info, _ := st.Info()
		if !bytes.Equal(info.MessageImprint.HashedMessage, tree.Root()) {
			t.Fatalf("Bouncy Castle's root %x, ours %x", info.MessageImprint.HashedMessage, tree.Root())
		}
	}
	// Bouncy Castle's own renewals of record 0.
	for name, stamps := range map[string]int{"renewed-timestamp.ers": 2, "renewed-hash.ers": 3} {
		record, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		res, err := ers.VerifyData(ctx, record, data[0], roots, time.Now())
		if err != nil {
			t.Fatalf("Bouncy Castle's %s: %v", name, err)
		}
		if len(res.Stamps) != stamps {
			t.Fatalf("Bouncy Castle's %s: %+v", name, res.Stamps)
		}
		if _, err := ers.VerifyData(ctx, record, data[1], roots, time.Now()); err == nil {
			t.Fatalf("Bouncy Castle's %s accepted another object", name)
		}
	}
}
