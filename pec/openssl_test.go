package pec_test

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"

	"github.com/conserva/conserva/internal/testutil"
	"github.com/conserva/conserva/pec"
)

// opensslVerdict runs `openssl smime -verify` the way an auditor would:
// anchored at the given bundle (-partial_chain), any purpose, at the given
// time. "unreadable" is OpenSSL's answer both for mail without a signature
// and for an S/MIME structure too broken to read.
func opensslVerdict(t *testing.T, openssl, file, caFile string, attime int64) (string, string) {
	t.Helper()
	args := []string{"smime", "-verify", "-in", file, "-CAfile", caFile, "-partial_chain", "-purpose", "any", "-out", "/dev/null"}
	if attime > 0 {
		args = append(args, "-attime", fmt.Sprint(attime))
	}
	out, err := exec.Command(openssl, args...).CombinedOutput()
	text := string(out)
	switch {
	case err == nil && strings.Contains(text, "Verification successful"):
		return "valid", text
	case strings.Contains(text, "Error reading S/MIME message"):
		return "unreadable", text
	case strings.Contains(text, "unable to get local issuer certificate"),
		strings.Contains(text, "unable to get issuer certificate"),
		strings.Contains(text, "unable to verify the first certificate"),
		strings.Contains(text, "self-signed certificate in certificate chain"):
		return "untrusted", text
	}
	return "invalid", text
}

// agrees says whether OpenSSL's answer supports conserva's verdict.
func agrees(v pec.Verdict, openssl string) bool {
	switch v {
	case pec.Valid, pec.Untrusted:
		return openssl == string(v)
	case pec.Invalid:
		return openssl == "invalid" || openssl == "unreadable"
	case pec.Absent:
		return openssl == "unreadable"
	}
	return false
}

func TestOpenSSLAgreesOnFixtures(t *testing.T) {
	openssl := testutil.Tool(t, "openssl")
	set := fixtureSet(t)
	if err := set.WriteFixtures(t.TempDir()); err != nil {
		t.Fatal(err)
	}
	trust := pec.NewTrustStore(set.CA.Cert)
	for _, f := range set.Fixtures {
		t.Run(f.Name, func(t *testing.T) {
			m := pec.Parse(f.Raw, pec.DefaultLimits())
			v := m.Verify(trust)
			var at int64
			if v.SignedAt != nil {
				at = v.SignedAt.Unix()
			}
			got, out := opensslVerdict(t, openssl, f.Path, set.TrustPEM, at)
			if !agrees(v.Verdict, got) {
				t.Fatalf("conserva says %s (%s); openssl says %s:\n%s", v.Verdict, v.Reason, got, out)
			}
		})
	}
	// The "expired today" fixture is only meaningful if OpenSSL, asked about
	// today, refuses it.
	f := set.Get("expired-now-valid-at-signing")
	if got, out := opensslVerdict(t, openssl, f.Path, set.TrustPEM, 0); got != "invalid" || !strings.Contains(out, "expired") {
		t.Fatalf("openssl today says %s, want expired:\n%s", got, out)
	}
}
