package main

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"software.sslmate.com/src/go-pkcs12"

	"github.com/conserva/conserva/ers"
	"github.com/conserva/conserva/internal/devpki"
	"github.com/conserva/conserva/internal/testpki"
	"github.com/conserva/conserva/internal/testutil"
	"github.com/conserva/conserva/timestamp"
	"github.com/conserva/conserva/validation"
)

// sealOne ingests n messages and seals them with the defaults, returning
// the package's folder in the store.
func sealOne(t *testing.T, home string, n int, args ...string) string {
	t.Helper()
	ingestFixtures(t, home, n)
	r := conserva(t, append([]string{"--archive", home, "seal", "--json"}, args...)...)
	var out map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || r.code != 0 {
		t.Fatalf("seal: %d %q %s %v", r.code, r.stdout, r.stderr, err)
	}
	return filepath.Join(home, "store", "packages", out["package"].(string))
}

// overwrite replaces a stored (read-only) object, as an intruder with
// access to the disk would, and returns a function that puts it back.
func overwrite(t *testing.T, path string, data []byte) func() {
	t.Helper()
	old, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(path, 0o644)
	if data == nil {
		err = os.Remove(path)
	} else {
		err = os.WriteFile(path, data, 0o644)
	}
	if err != nil {
		t.Fatal(err)
	}
	return func() {
		os.Remove(path)
		if err := os.WriteFile(path, old, 0o444); err != nil {
			t.Fatal(err)
		}
	}
}

// TestSealKeepsValidationData: the default seal (development signer and
// TSA, no server) keeps the chains' certificates and the development CA's
// CRL in the package, named in the signed index; openssl checks the
// signer's certificate against that CRL at the timestamp's time; audit is
// clean, and names a forged CRL, a deleted file and a CRL saying the
// signer was revoked before it signed.
func TestSealKeepsValidationData(t *testing.T) {
	home := filepath.Join(t.TempDir(), "archive")
	dir := sealOne(t, home, 2)
	certs, _ := filepath.Glob(filepath.Join(dir, "validation", "certs", "*.cer"))
	crls, _ := filepath.Glob(filepath.Join(dir, "validation", "crls", "*.crl"))
	if len(certs) != 3 || len(crls) != 1 {
		t.Fatalf("validation data: %v %v", certs, crls)
	}
	index, _ := os.ReadFile(filepath.Join(dir, "index.xml"))
	for _, f := range append(certs, crls...) {
		if !strings.Contains(string(index), strings.TrimPrefix(f, filepath.Join(home, "store")+"/")) {
			t.Fatalf("%s is not named in the signed index", f)
		}
	}
	keys, err := devpki.LoadOrCreate(filepath.Join(home, "keys"))
	if err != nil {
		t.Fatal(err)
	}
	crlDER, _ := os.ReadFile(crls[0])
	served, err := keys.CRL(time.Now())
	if err != nil || string(served) != string(crlDER) {
		t.Fatalf("the kept CRL is not the one tsa serve gives: %v", err)
	}
	// openssl, independently: the CRL is the CA's, the signer not revoked.
	tmp := t.TempDir()
	crlPEM := filepath.Join(tmp, "crl.pem")
	os.WriteFile(crlPEM, pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: crlDER}), 0o644)
	signerPEM := filepath.Join(tmp, "signer.pem")
	os.WriteFile(signerPEM, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: keys.Signer.Cert.Raw}), 0o644)
	ca := filepath.Join(home, "keys", "dev-ca.pem")
	opensslOK(t, tmp, "verify", "-crl_check", "-CAfile", ca, "-CRLfile", crlPEM, "-attime", strconv.FormatInt(time.Now().Unix(), 10), signerPEM)

	if r := conserva(t, "--archive", home, "audit"); r.code != 0 {
		t.Fatalf("audit of a clean archive: %d %s %s", r.code, r.stdout, r.stderr)
	}

	// The evidence pack ships them; VERIFY.txt checks the signer's and
	// the TSA's certificates against the CRL with openssl.
	msgs, _ := filepath.Glob(filepath.Join(home, "store", "messages", "*", "*.eml"))
	pack, r := exportPack(t, []string{"--archive", home}, strings.TrimSuffix(filepath.Base(msgs[0]), ".eml"))
	if r.code != 0 {
		t.Fatalf("export: %d %s %s", r.code, r.stdout, r.stderr)
	}
	root := fmt.Sprintf("%x", sha256.Sum256(keys.CA.Raw))
	out, code := verifyPack(t, pack, pins(root)...)
	if code != 0 || !strings.Contains(out, "the signer certificate") || !strings.Contains(out, "the tsa certificate") || strings.Count(out, "is not revoked") != 2 {
		t.Fatalf("VERIFY.txt with validation data: %d\n%s", code, out)
	}
	rel := func(p string) string { return strings.TrimPrefix(p, filepath.Join(home, "store")+"/") }

	// A CRL signed by another CA in the development CA's name.
	other := testpki.Root(t, keys.CA.Subject.CommonName, testpki.Options{})
	forged, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{Number: big.NewInt(2),
		ThisUpdate: time.Now().Add(-time.Hour), NextUpdate: time.Now().AddDate(0, 0, 7)}, other.Cert, other.Key)
	if err != nil {
		t.Fatal(err)
	}
	restore := overwrite(t, crls[0], forged)
	r = conserva(t, "--archive", home, "audit")
	if r.code != 1 || !strings.Contains(r.stdout, rel(crls[0])) || !strings.Contains(r.stdout, "no revocation information") {
		t.Fatalf("audit of a forged CRL: %d %s", r.code, r.stdout)
	}
	restore()

	// A deleted certificate.
	restore = overwrite(t, certs[0], nil)
	if r := conserva(t, "--archive", home, "audit"); r.code != 1 || !strings.Contains(r.stdout, rel(certs[0])) {
		t.Fatalf("audit of a deleted validation file: %d %s", r.code, r.stdout)
	}
	restore()

	// The CA's own CRL saying the signer was revoked a day before it signed.
	revoked, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{Number: big.NewInt(3),
		ThisUpdate: time.Now().Add(-time.Hour), NextUpdate: time.Now().AddDate(0, 0, 7),
		RevokedCertificateEntries: []x509.RevocationListEntry{{SerialNumber: keys.Signer.Cert.SerialNumber, RevocationTime: time.Now().AddDate(0, 0, -1)}},
	}, keys.CA, keys.CAKey)
	if err != nil {
		t.Fatal(err)
	}
	packCRL := filepath.Join(pack, rel(crls[0]))
	os.WriteFile(packCRL, revoked, 0o644)
	if out, code := verifyPack(t, pack, pins(root)...); code != 1 || !strings.Contains(out, "FAILED: packages/") || !strings.Contains(out, "fails the CRL check") {
		t.Fatalf("VERIFY.txt with a CRL revoking the signer: %d\n%s", code, out)
	}
	restore = overwrite(t, crls[0], revoked)
	r = conserva(t, "--archive", home, "audit")
	if r.code != 1 || !strings.Contains(r.stdout, "signer certificate "+`"`+keys.Signer.Cert.Subject.CommonName) || !strings.Contains(r.stdout, "revoked at") {
		t.Fatalf("audit of a CRL revoking the signer before it signed: %d %s", r.code, r.stdout)
	}
	restore()
	if r := conserva(t, "--archive", home, "audit"); r.code != 0 {
		t.Fatalf("audit once restored: %d %s", r.code, r.stdout)
	}
}

// revokingCA is a CA whose CRL, served on 127.0.0.1, revokes what it is
// told to.
type revokingCA struct {
	*testpki.Identity
	url     string
	revoked []*x509.Certificate
	fetched atomic.Int64
}

func newRevokingCA(t *testing.T) *revokingCA {
	t.Helper()
	ca := &revokingCA{Identity: testpki.Root(t, "Revoking CA", testpki.Options{})}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ca.fetched.Add(1)
		var entries []x509.RevocationListEntry
		for _, c := range ca.revoked {
			entries = append(entries, x509.RevocationListEntry{SerialNumber: c.SerialNumber, RevocationTime: time.Now().Add(-time.Hour)})
		}
		der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{Number: big.NewInt(1),
			ThisUpdate: time.Now().Add(-time.Hour), NextUpdate: time.Now().Add(time.Hour), RevokedCertificateEntries: entries}, ca.Cert, ca.Key)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		w.Write(der)
	}))
	t.Cleanup(srv.Close)
	ca.url = srv.URL + "/ca.crl"
	return ca
}

// TestRevokedChainRefusesTheSeal: a signer, or a TSA, that its CA's CRL
// says is revoked refuses the seal with one line naming the certificate,
// before anything of a package is written; a CRL that cannot be fetched
// refuses it too, unless --revocation best-effort.
func TestRevokedChainRefusesTheSeal(t *testing.T) {
	ca := newRevokingCA(t)
	tmp := t.TempDir()
	caPEM := filepath.Join(tmp, "ca.pem")
	os.WriteFile(caPEM, testpki.PEM(ca.Cert), 0o644)
	signer := ca.Issue(t, "Responsabile revocato", testpki.Options{CRL: []string{ca.url}})
	p12, err := pkcs12.Modern.Encode(signer.Key, signer.Cert, []*x509.Certificate{ca.Cert}, "segreta")
	if err != nil {
		t.Fatal(err)
	}
	p12Path := filepath.Join(tmp, "signer.p12")
	os.WriteFile(p12Path, p12, 0o600)
	t.Setenv("CONSERVA_SIGNER_PASSWORD", "segreta")

	home := filepath.Join(t.TempDir(), "archive")
	ingestFixtures(t, home, 2)
	ca.revoked = []*x509.Certificate{signer.Cert}
	r := conserva(t, "--archive", home, "seal", "--signer", p12Path, "--signer-roots", caPEM)
	if r.code != 1 || !strings.Contains(r.stderr, `"Responsabile revocato"`) || !strings.Contains(r.stderr, "revoked at") ||
		strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
		t.Fatalf("seal with a revoked signer: %d %q", r.code, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(home, "store", "packages")); err == nil {
		t.Fatal("a package was written with a revoked signer")
	}

	// The TSA revoked, served on 127.0.0.1 with its CA's CRL.
	tsa := ca.Issue(t, "TSA revocata", testpki.Options{TimeStamping: true, CRL: []string{ca.url}})
	srv := httptest.NewServer((&timestamp.Dev{Cert: tsa.Cert, Key: tsa.Key, Chain: tsa.Chain}).Handler())
	defer srv.Close()
	ca.revoked = []*x509.Certificate{tsa.Cert}
	r = conserva(t, "--archive", home, "seal", "--tsa-url", srv.URL, "--tsa-roots", caPEM)
	if r.code != 1 || !strings.Contains(r.stderr, `TSA's certificate "TSA revocata"`) {
		t.Fatalf("seal with a revoked TSA: %d %q", r.code, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(home, "store", "packages")); err == nil {
		t.Fatal("a package was written with a revoked TSA")
	}

	// Its CRL unreachable: refused by default, sealed with a warning when
	// the policy says best-effort, and then audit names what is missing.
	ca.revoked = nil
	down := ca.Issue(t, "TSA senza CRL", testpki.Options{TimeStamping: true, CRL: []string{"http://127.0.0.1:1/none.crl"}})
	srv2 := httptest.NewServer((&timestamp.Dev{Cert: down.Cert, Key: down.Key, Chain: down.Chain}).Handler())
	defer srv2.Close()
	r = conserva(t, "--archive", home, "seal", "--tsa-url", srv2.URL, "--tsa-roots", caPEM)
	if r.code != 1 || !strings.Contains(r.stderr, "no revocation information") || !strings.Contains(r.stderr, "best-effort") {
		t.Fatalf("seal with an unreachable CRL: %d %q", r.code, r.stderr)
	}
	r = conserva(t, "--archive", home, "seal", "--tsa-url", srv2.URL, "--tsa-roots", caPEM, "--revocation", "best-effort")
	if r.code != 0 || !strings.Contains(r.stdout+r.stderr, "TSA senza CRL") {
		t.Fatalf("best-effort seal: %d %s %s", r.code, r.stdout, r.stderr)
	}
	r = conserva(t, "--archive", home, "audit", "--tsa-roots", caPEM)
	if r.code != 1 || !strings.Contains(r.stdout, `"TSA senza CRL"`) || !strings.Contains(r.stdout, "no revocation information") {
		t.Fatalf("audit of a package lacking the TSA's CRL: %d %s %s", r.code, r.stdout, r.stderr)
	}
}

// TestRenewalFetchesFreshValidationData: a renewal fetches the TSA's CRL
// again and adds it to the renewed records' cryptoInfos (the earlier one
// stays); a TSA revoked since refuses the renewal, nothing written.
func TestRenewalFetchesFreshValidationData(t *testing.T) {
	ca := newRevokingCA(t)
	caPEM := filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(caPEM, testpki.PEM(ca.Cert), 0o644)
	tsa := ca.Issue(t, "TSA rinnovi", testpki.Options{TimeStamping: true, CRL: []string{ca.url}})
	srv := httptest.NewServer((&timestamp.Dev{Cert: tsa.Cert, Key: tsa.Key, Chain: tsa.Chain}).Handler())
	defer srv.Close()
	home := filepath.Join(t.TempDir(), "archive")
	dir := sealOne(t, home, 1, "--tsa-url", srv.URL, "--tsa-roots", caPEM)
	// Records are read from their segment, version v.
	crls := func(v int) [][]byte {
		seg, member := testutil.ERSSegment(dir, "index.xml.p7s.tsr", v)
		der := testutil.ReadMember(t, seg, member)
		er, err := ers.Parse(der)
		if err != nil {
			t.Fatal(err)
		}
		b, err := validation.FromCryptoInfos(er.CryptoInfos)
		if err != nil {
			t.Fatal(err)
		}
		return b.CRLs
	}
	first := crls(1)
	before := ca.fetched.Load()
	// The development signer's CA's CRL, and the TSA's CA's.
	if len(first) != 2 || before == 0 {
		t.Fatalf("sealed records: %d CRLs, %d fetches", len(first), before)
	}
	if r := conserva(t, "--archive", home, "renew", "--force", "--tsa-url", srv.URL, "--tsa-roots", caPEM); r.code != 0 {
		t.Fatalf("renew: %d %s %s", r.code, r.stdout, r.stderr)
	}
	renewed := crls(2)
	if r := conserva(t, "--archive", home, "audit", "--tsa-roots", caPEM); r.code != 0 {
		t.Fatalf("audit after the renewal: %d %s %s", r.code, r.stdout, r.stderr)
	}
	// The TSA's CA's CRL fetched again (its bytes differ each time), the
	// development CA's the same within its week.
	if ca.fetched.Load() == before || len(renewed) != 3 || !containsBytes(renewed, first[0]) || !containsBytes(renewed, first[1]) {
		t.Fatalf("renewal: %d fetches, %d CRLs in the renewed record", ca.fetched.Load()-before, len(renewed))
	}
	ca.revoked = []*x509.Certificate{tsa.Cert}
	r := conserva(t, "--archive", home, "renew", "--force", "--tsa-url", srv.URL, "--tsa-roots", caPEM)
	if r.code == 0 || !strings.Contains(r.stderr, `"TSA rinnovi"`) || !strings.Contains(r.stderr, "revoked at") {
		t.Fatalf("renew with a revoked TSA: %d %s", r.code, r.stderr)
	}
	if seg, _ := testutil.ERSSegment(dir, "index.xml.p7s.tsr", 3); fileExists(seg) {
		t.Fatal("a record renewed with a revoked TSA")
	}

	// A record whose cryptoInfos say the TSA was revoked (an hour ago)
	// before its timestamps: audit names it.
	resp, err := http.Get(ca.url)
	if err != nil {
		t.Fatal(err)
	}
	revokedCRL, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	seg, member := testutil.ERSSegment(dir, "index.xml.p7s.tsr", 2)
	good, _ := os.ReadFile(seg)
	der := testutil.ReadMember(t, seg, member)
	er, _ := ers.Parse(der)
	b, _ := validation.FromCryptoInfos(er.CryptoInfos)
	b.CRLs = [][]byte{revokedCRL}
	if er.CryptoInfos, err = b.CryptoInfos(); err != nil {
		t.Fatal(err)
	}
	forged, _ := er.Marshal()
	testutil.EditMember(t, seg, member, func([]byte) []byte { return forged })
	r = conserva(t, "--archive", home, "audit", "--tsa-roots", caPEM)
	if r.code != 1 || !strings.Contains(r.stdout, "index.xml.p7s.tsr.2.ers: archive timestamp") || !strings.Contains(r.stdout, `"TSA rinnovi"`) || !strings.Contains(r.stdout, "revoked at") {
		t.Fatalf("audit of a record whose CRL revokes its TSA: %d %s", r.code, r.stdout)
	}
	overwrite(t, seg, good)
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func containsBytes(list [][]byte, b []byte) bool {
	for _, v := range list {
		if string(v) == string(b) {
			return true
		}
	}
	return false
}

// TestTSAServeCRL: `conserva tsa serve` serves the development CA's CRL at
// /crl: DER, signed by the CA (openssl agrees), with a nextUpdate, the
// same bytes an archive using these keys makes in process.
func TestTSAServeCRL(t *testing.T) {
	home := t.TempDir()
	url := startTSA(t, home)
	resp, err := http.Get(url + "/crl")
	if err != nil {
		t.Fatal(err)
	}
	der, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	keys, err := devpki.LoadOrCreate(filepath.Join(home, "keys"))
	if err != nil {
		t.Fatal(err)
	}
	crl, err := x509.ParseRevocationList(der)
	if err != nil || resp.Header.Get("Content-Type") != "application/pkix-crl" || crl.CheckSignatureFrom(keys.CA) != nil || crl.NextUpdate.IsZero() {
		t.Fatalf("/crl: %v %q", err, resp.Header.Get("Content-Type"))
	}
	if local, err := keys.CRL(time.Now()); err != nil || string(local) != string(der) {
		t.Fatalf("the CRL made in process differs from the served one: %v", err)
	}
	if keys.Signer.Cert.CRLDistributionPoints[0] != devpki.CRLURL || keys.TSA.Cert.CRLDistributionPoints[0] != devpki.CRLURL {
		t.Fatal("the development certificates name no CRL distribution point")
	}
	crlPEM := filepath.Join(t.TempDir(), "crl.pem")
	os.WriteFile(crlPEM, pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der}), 0o644)
	cmd := exec.Command(testutil.Tool(t, "openssl"), "crl", "-in", crlPEM, "-CAfile", filepath.Join(home, "keys", "dev-ca.pem"), "-noout")
	if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "verify OK") {
		t.Fatalf("openssl crl: %v %s", err, out)
	}
}
