package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/conserva/conserva/ers"
	"github.com/conserva/conserva/internal/devpki"
	"github.com/conserva/conserva/internal/testutil"
	"github.com/conserva/conserva/validation"
)

// TestBouncyCastleVerifiesSealedRecords: Bouncy Castle's ERS API
// (validatePresent, then validate with the TSA's certificate) accepts a
// message's record from a real sealed package, after a timestamp renewal
// and after a hash-tree renewal to SHA-512, and refuses the last one over
// the message changed by one byte.
func TestBouncyCastleVerifiesSealedRecords(t *testing.T) {
	home, msg, rec := sealedMessage(t, 3)
	if r := conserva(t, "--archive", home, "renew", "--force"); r.code != 0 {
		t.Fatalf("renew: %s %s", r.stdout, r.stderr)
	}
	if r := conserva(t, "--archive", home, "renew", "--digest", "sha512"); r.code != 0 || !strings.Contains(r.stdout, "hash-tree renewal to sha512") {
		t.Fatalf("renew --digest sha512: %s %s", r.stdout, r.stderr)
	}
	keys, err := devpki.LoadOrCreate(filepath.Join(home, "keys"))
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	tsa := filepath.Join(tmp, "tsa.der")
	os.WriteFile(tsa, keys.TSA.Cert.Raw, 0o644)
	// The renewals' records, unpacked from their segments.
	var v2, v3 string
	for _, p := range unpackedRecords(t, home) {
		switch filepath.Base(p) {
		case strings.TrimSuffix(filepath.Base(rec), ".ers") + ".2.ers":
			v2 = p
		case strings.TrimSuffix(filepath.Base(rec), ".ers") + ".3.ers":
			v3 = p
		}
	}
	if v2 == "" || v3 == "" {
		t.Fatal("no renewed records")
	}
	// Each record carries the chains' validation data in its cryptoInfos
	// (the development CA's CRL among them): Bouncy Castle reads past them.
	for _, f := range []string{rec, v2, v3} {
		der, _ := os.ReadFile(f)
		er, err := ers.Parse(der)
		if err != nil {
			t.Fatal(err)
		}
		b, err := validation.FromCryptoInfos(er.CryptoInfos)
		if err != nil || len(b.CRLs) == 0 || len(b.Certs) < 3 {
			t.Fatalf("%s: cryptoInfos %v", f, err)
		}
	}
	data, _ := os.ReadFile(msg)
	data[len(data)/2] ^= 1
	altered := filepath.Join(tmp, "altered.eml")
	os.WriteFile(altered, data, 0o644)
	out, err := testutil.Java(t, filepath.Join(testutil.RepoRoot(t), "ers", "testdata", "ERSCheck.java"),
		"verify", tsa, rec, msg, v2, msg, v3, msg, v3, altered)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if err != nil || len(lines) != 4 || lines[0] != "OK" || lines[1] != "OK" || lines[2] != "OK" || lines[3] == "OK" {
		t.Fatalf("Bouncy Castle on the sealed, renewed and re-hashed records, and on an altered message: %v\n%s", err, out)
	}
	// And conserva agrees on the last one.
	if r := conserva(t, "--archive", home, "verify-ers", v3, msg); r.code != 0 || !strings.Contains(r.stdout, "3 archive timestamp(s)") || !strings.Contains(r.stdout, "SHA-512") {
		t.Fatalf("verify-ers on the re-hashed record: %d %s %s", r.code, r.stdout, r.stderr)
	}
}
