package sip_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/conserva/conserva/internal/devpki"
	"github.com/conserva/conserva/internal/pecgen"
	"github.com/conserva/conserva/internal/testutil"
	"github.com/conserva/conserva/sip"
)

func opensslIn(t *testing.T, dir string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(testutil.Tool(t, "openssl"), args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestCAdESVerifiedByOpenSSL(t *testing.T) {
	dir := t.TempDir()
	keys, err := devpki.LoadOrCreate(dir)
	if err != nil {
		t.Fatal(err)
	}
	s := &sip.Signer{Cert: keys.Signer.Cert, Key: keys.Signer.Key, Chain: keys.Signer.Chain}
	content := []byte("<index/>\n")
	p7s, err := s.Sign(content)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{"index.xml": content, "index.xml.p7s": p7s, "ca.pem": pecgen.PEM(keys.CA)}
	for n, b := range files {
		os.WriteFile(filepath.Join(dir, n), b, 0o644)
	}
	verify := []string{"cms", "-verify", "-binary", "-inform", "DER", "-in", "index.xml.p7s", "-content", "index.xml", "-CAfile", "ca.pem", "-out", os.DevNull}
	if out, err := opensslIn(t, dir, verify...); err != nil {
		t.Fatalf("openssl cms -verify: %v\n%s", err, out)
	}
	out, err := opensslIn(t, dir, "cms", "-cmsout", "-print", "-inform", "DER", "-in", "index.xml.p7s")
	if err != nil || !strings.Contains(out, "signingCertificateV2") || !strings.Contains(out, "signingTime") {
		t.Fatalf("cmsout: %v\n%s", err, out)
	}
	os.WriteFile(filepath.Join(dir, "index.xml"), []byte("<index/>\n "), 0o644)
	if out, err := opensslIn(t, dir, verify...); err == nil {
		t.Fatalf("openssl accepted an altered index:\n%s", out)
	}
}
