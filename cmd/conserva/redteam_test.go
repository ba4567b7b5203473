package main

import (
	"crypto/rand"
	"crypto/x509"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/conserva/conserva/internal/devpki"
	"github.com/conserva/conserva/internal/testpki"
	"github.com/conserva/conserva/sip"
	"github.com/conserva/conserva/timestamp"
)

// TestTSAWithTwoUnitsRevokedOne: a TSA service answering with more than
// one certificate (several timestamping units behind one URL, or a
// hostile one relaying the probe to a good unit) stamps the probe with a
// unit in good standing and the package with a revoked one. The seal must
// judge the chain that actually stamped the package.
func TestTSAWithTwoUnitsRevokedOne(t *testing.T) {
	ca := newRevokingCA(t)
	tmp := t.TempDir()
	caPEM := filepath.Join(tmp, "ca.pem")
	os.WriteFile(caPEM, testpki.PEM(ca.Cert), 0o644)
	good := ca.Issue(t, "TSU buona", testpki.Options{TimeStamping: true, CRL: []string{ca.url}})
	bad := ca.Issue(t, "TSU revocata", testpki.Options{TimeStamping: true, CRL: []string{ca.url}})
	ca.revoked = append(ca.revoked, bad.Cert)
	units := []http.Handler{(&timestamp.Dev{Cert: good.Cert, Key: good.Key, Chain: good.Chain}).Handler(),
		(&timestamp.Dev{Cert: bad.Cert, Key: bad.Key, Chain: bad.Chain}).Handler()}
	// The probe is request 0, then the signature's timestamp, the
	// signature file's timestamp and the evidence records' archive
	// timestamp: the revoked unit answers from each of them on.
	for _, from := range []int64{1, 2, 3} {
		var n atomic.Int64
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			unit := units[0]
			if n.Add(1)-1 >= from {
				unit = units[1]
			}
			unit.ServeHTTP(w, r)
		}))
		home := filepath.Join(t.TempDir(), "archive")
		ingestFixtures(t, home, 2)
		r := conserva(t, "--archive", home, "seal", "--tsa-url", srv.URL, "--tsa-roots", caPEM)
		srv.Close()
		if r.code == 0 {
			t.Errorf("stamp %d on by a revoked unit: sealed: %s %s", from, r.stdout, r.stderr)
			continue
		}
		if !strings.Contains(r.stderr, `"TSU revocata"`) || !strings.Contains(r.stderr, "revoked at") {
			t.Errorf("stamp %d on by a revoked unit: refused without naming it: %d %q", from, r.code, r.stderr)
		}
	}
}

// TestPackValidationFilesAgainstTheIndex: the conservator (who holds the
// signer key and so can re-sign a pack's manifest) swaps a package's CRL
// in an evidence pack for another CRL of the same CA, as it would to hide
// a revocation. The CRL is not the one the package's signed index lists:
// VERIFY.txt must say so, as it does for the metadata files.
func TestPackValidationFilesAgainstTheIndex(t *testing.T) {
	_, cfg, ref, root := sealedDossier(t)
	home := cfg[1]
	pack, r := exportPack(t, cfg, ref)
	if r.code != 0 {
		t.Fatalf("export: %d %s %s", r.code, r.stdout, r.stderr)
	}
	crls, _ := filepath.Glob(filepath.Join(pack, "packages", "*", "validation", "crls", "*.crl"))
	if len(crls) != 1 {
		t.Fatalf("CRLs in the pack: %v", crls)
	}
	keys, err := devpki.LoadOrCreate(filepath.Join(home, "keys"))
	if err != nil {
		t.Fatal(err)
	}
	// The CA's, revoking nothing, but not the one sealed.
	other, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{Number: big.NewInt(99),
		ThisUpdate: time.Now().Add(-time.Hour), NextUpdate: time.Now().AddDate(0, 0, 7)}, keys.CA, keys.CAKey)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(crls[0], other, 0o644)
	insider := &forger{signer: &sip.Signer{Cert: keys.Signer.Cert, Key: keys.Signer.Key, Chain: keys.Signer.Chain},
		tsa: &timestamp.Dev{Cert: keys.TSA.Cert, Key: keys.TSA.Key, Chain: keys.TSA.Chain}}
	p7s, tsr := insider.seal(t, resum(t, pack))
	os.WriteFile(filepath.Join(pack, "SHA256SUMS.p7s"), p7s, 0o644)
	os.WriteFile(filepath.Join(pack, "SHA256SUMS.p7s.tsr"), tsr, 0o644)
	out, code := verifyPack(t, pack, pins(root)...)
	if code == 0 || !strings.Contains(out, "is not listed in the signed index") {
		t.Fatalf("a CRL swapped in the pack passes VERIFY.txt: %d\n%s", code, out)
	}
}
