package main

import (
	"encoding/json"
	"github.com/conserva/conserva/internal/testutil"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/conserva/conserva/internal/testpki"
)

// sealedMessage seals n messages and returns one message's stored file and
// its record.
func sealedMessage(t *testing.T, n int) (home, msg, rec string) {
	t.Helper()
	home = filepath.Join(t.TempDir(), "archive")
	ingestFixtures(t, home, n)
	if r := conserva(t, "--archive", home, "seal"); r.code != 0 {
		t.Fatal(r.stderr)
	}
	recs := unpackedRecords(t, home)
	for _, p := range recs {
		name := strings.TrimSuffix(filepath.Base(p), ".ers")
		if len(name) == 64 {
			return home, filepath.Join(home, "store", "messages", name[:2], name+".eml"), p
		}
	}
	t.Fatalf("no message record among %v", recs)
	return
}

// unpackedRecords unpacks every package's segments as an auditor would
// (tar) and returns the record files of every version.
func unpackedRecords(t *testing.T, home string) []string {
	t.Helper()
	pkgs, _ := filepath.Glob(filepath.Join(home, "store", "packages", "*"))
	var recs []string
	for _, p := range pkgs {
		more, _ := filepath.Glob(filepath.Join(testutil.Unpack(t, p), "ers", "*.ers"))
		recs = append(recs, more...)
	}
	return recs
}

func TestVerifyERS(t *testing.T) {
	home, msg, rec := sealedMessage(t, 3)
	r := conserva(t, "--archive", home, "verify-ers", rec, msg)
	if r.code != 0 || !strings.Contains(r.stdout, "valid: ") || !strings.Contains(r.stdout, "renew before") {
		t.Fatalf("valid record: %d %s %s", r.code, r.stdout, r.stderr)
	}
	devCA := filepath.Join(home, "keys", "dev-ca.pem")
	r = conserva(t, "verify-ers", "--json", "--tsa-roots", devCA, rec, msg)
	var out verifyERSResult
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || r.code != 0 || out.Verdict != "valid" || len(out.Stamps) != 1 || out.Expires == nil {
		t.Fatalf("--json: %d %s %v", r.code, r.stdout, err)
	}
	// Other roots: untrusted.
	other := filepath.Join(t.TempDir(), "other.pem")
	os.WriteFile(other, testpki.PEM(testpki.Root(t, "Other CA", testpki.Options{CA: true}).Cert), 0o644)
	if r := conserva(t, "verify-ers", "--tsa-roots", other, rec, msg); r.code != 1 || !strings.Contains(r.stdout, "untrusted") {
		t.Fatalf("other roots: %d %s %s", r.code, r.stdout, r.stderr)
	}
	// A flipped byte in the data, or in the record: invalid.
	data, _ := os.ReadFile(msg)
	data[len(data)/2] ^= 1
	bad := filepath.Join(t.TempDir(), "bad.eml")
	os.WriteFile(bad, data, 0o644)
	if r := conserva(t, "verify-ers", "--tsa-roots", devCA, rec, bad); r.code != 1 || !strings.Contains(r.stdout, "invalid") || !strings.Contains(r.stdout, "not what was timestamped") {
		t.Fatalf("flipped data: %d %s %s", r.code, r.stdout, r.stderr)
	}
	der, _ := os.ReadFile(rec)
	der[len(der)-30] ^= 1
	badRec := filepath.Join(t.TempDir(), "bad.ers")
	os.WriteFile(badRec, der, 0o644)
	if r := conserva(t, "verify-ers", "--tsa-roots", devCA, badRec, msg); r.code != 1 || !strings.Contains(r.stdout, "invalid") {
		t.Fatalf("flipped record: %d %s %s", r.code, r.stdout, r.stderr)
	}
	nowhere := filepath.Join(t.TempDir(), "none")
	if r := conserva(t, "--archive", nowhere, "verify-ers", rec, msg); r.code != 2 || !strings.Contains(r.stderr, "--tsa-roots") {
		t.Fatalf("no roots and no archive: %d %s", r.code, r.stderr)
	}
	if _, err := os.Stat(nowhere); err == nil {
		t.Fatal("verify-ers made an archive home")
	}
	if r := conserva(t, "verify-ers", "--tsa-roots", devCA, rec); r.code != 2 {
		t.Fatalf("one argument: %d %s", r.code, r.stderr)
	}
	if r := conserva(t, "verify-ers", "--tsa-roots", devCA, rec, filepath.Join(t.TempDir(), "none")); r.code != 2 {
		t.Fatalf("missing data: %d %s", r.code, r.stderr)
	}
}
