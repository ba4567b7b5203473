package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/conserva/conserva/internal/devpki"
	"github.com/conserva/conserva/internal/pecgen"
	"github.com/conserva/conserva/internal/testutil"
)

// TestBouncyCastleVerifiesPackageAndPack: Bouncy Castle, an implementation
// that is neither Go nor OpenSSL, verifies the CAdES-T signature of a
// sealed package's index and of an evidence pack's manifest: the signature,
// signing-certificate-v2, and the signature timestamp over the signature
// value. A package index changed by one byte is refused.
func TestBouncyCastleVerifiesPackageAndPack(t *testing.T) {
	_, cfg, ref, _ := sealedDossier(t)
	home := cfg[1]
	dir, r := exportPack(t, cfg, ref)
	if r.code != 0 {
		t.Fatalf("export: %s %s", r.stdout, r.stderr)
	}
	keys, err := devpki.LoadOrCreate(filepath.Join(home, "keys"))
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	signer, tsa := filepath.Join(tmp, "signer.pem"), filepath.Join(tmp, "tsa.pem")
	os.WriteFile(signer, pecgen.PEM(keys.Signer.Cert), 0o644)
	os.WriteFile(tsa, pecgen.PEM(keys.TSA.Cert), 0o644)
	pkgs, _ := filepath.Glob(filepath.Join(home, "store", "packages", "*"))
	if len(pkgs) != 1 {
		t.Fatalf("packages: %v", pkgs)
	}
	p := pkgs[0]
	altered := filepath.Join(tmp, "index.xml")
	index, _ := os.ReadFile(filepath.Join(p, "index.xml"))
	index[len(index)/2] ^= 1
	os.WriteFile(altered, index, 0o644)
	out, err := testutil.Java(t, filepath.Join(testutil.RepoRoot(t), "sip", "testdata", "VerifyCAdEST.java"),
		filepath.Join(p, "index.xml.p7s"), filepath.Join(p, "index.xml"), signer, tsa,
		filepath.Join(dir, "SHA256SUMS.p7s"), filepath.Join(dir, "SHA256SUMS"), signer, tsa,
		filepath.Join(p, "index.xml.p7s"), altered, signer, tsa)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if err == nil || len(lines) != 3 || !strings.HasPrefix(lines[0], "case 0: OK") || !strings.HasPrefix(lines[1], "case 1: OK") || strings.HasPrefix(lines[2], "case 2: OK") {
		t.Fatalf("Bouncy Castle on the package, the pack's manifest and an altered index: %v\n%s", err, out)
	}
}
