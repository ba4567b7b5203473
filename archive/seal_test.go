package archive_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"encoding/pem"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/beevik/etree"
	"github.com/conserva/conserva/archive"
	"github.com/conserva/conserva/internal/devpki"
	"github.com/conserva/conserva/internal/pecgen"
	"github.com/conserva/conserva/internal/testutil"
	"github.com/conserva/conserva/pec"
	"github.com/conserva/conserva/timestamp"
)

// ingestSome puts n signed messages into a fresh archive.
func ingestSome(t *testing.T, n int) (*world, *archive.Archive) {
	t.Helper()
	w, a := setup(t)
	dir := t.TempDir()
	for i := 0; i < n; i++ {
		raw, err := w.prov.Build(pecgen.Spec{Kind: pec.KindAccettazione, Subject: strings.Repeat("x", i+1)})
		if err != nil {
			t.Fatal(err)
		}
		writeFiles(t, dir, map[string][]byte{strings.Repeat("m", i+1) + ".eml": raw})
	}
	run(t, a, pec.NewTrustStore(w.ca.Cert), dir)
	return w, a
}

func packageDir(a *archive.Archive, id string) string {
	return filepath.Join(a.Dir, "store", "packages", id)
}

func openssl(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command(testutil.Tool(t, "openssl"), args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// checkPackage verifies a package as an auditor would: tar to unpack its
// segments, openssl for the signature and the timestamp, xmllint for the
// index and the metadata, sha256 for every file the index lists.
func checkPackage(t *testing.T, a *archive.Archive, id, tsaCA string) {
	t.Helper()
	dir := testutil.Unpack(t, packageDir(a, id))
	sigCA := filepath.Join(a.Dir, "keys", "dev-ca.pem")
	openssl(t, dir, "cms", "-verify", "-binary", "-inform", "DER", "-in", "index.xml.p7s", "-content", "index.xml", "-CAfile", sigCA, "-out", os.DevNull)
	out := openssl(t, dir, "cms", "-cmsout", "-print", "-inform", "DER", "-in", "index.xml.p7s")
	if !strings.Contains(out, "signingCertificateV2") {
		t.Fatal("no signingCertificateV2 in the signature")
	}
	if !strings.Contains(out, "id-smime-aa-timeStampToken") {
		t.Fatal("the signature carries no signature timestamp (CAdES-T)")
	}
	openssl(t, dir, "ts", "-verify", "-data", "index.xml.p7s", "-in", "index.xml.p7s.tsr", "-CAfile", tsaCA)
	xsd := testutil.Shared(t, "schemas", "sincro", "SInCRO-2020-PIndex.xsd")
	if out, err := exec.Command(testutil.Tool(t, "xmllint"), "--noout", "--schema", xsd, filepath.Join(dir, "index.xml")).CombinedOutput(); err != nil {
		t.Fatalf("index.xml does not validate: %v\n%s", err, out)
	}
	metas, _ := filepath.Glob(filepath.Join(dir, "meta", "*.xml"))
	args := append([]string{"--noout", "--schema", filepath.Join(testutil.RepoRoot(t), "schemas", "conserva-metadati.xsd")}, metas...)
	if out, err := exec.Command(testutil.Tool(t, "xmllint"), args...).CombinedOutput(); err != nil {
		t.Fatalf("metadata does not validate: %v\n%s", err, out)
	}
	index, _ := os.ReadFile(filepath.Join(dir, "index.xml"))
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(index); err != nil {
		t.Fatal(err)
	}
	listed := 0
	for _, f := range doc.FindElements("//File") {
		p, h := f.SelectElement("Path").Text(), f.SelectElement("Hash").Text()
		rel, ok := strings.CutPrefix(p, "packages/"+id+"/")
		if !ok {
			continue // a message, checked below
		}
		data, err := os.ReadFile(filepath.Join(dir, rel))
		if err != nil {
			t.Fatalf("%s listed in the index: %v", rel, err)
		}
		if sum := sha256.Sum256(data); hex.EncodeToString(sum[:]) != h {
			t.Fatalf("%s does not match its hash in the index", rel)
		}
		listed++
	}
	if len(metas) > 0 && listed < len(metas)+1 {
		t.Fatalf("the index lists %d package files for %d metadata files", listed, len(metas))
	}
	a.Catalog.Scan(func(r *archive.Record) error {
		if r.Package == id && !strings.Contains(string(index), ">"+r.ID+"</sincro:Hash>") {
			t.Errorf("message %s is not in the index with its hash", r.ID)
		}
		return nil
	})
}

func TestSealWithDevelopmentKeys(t *testing.T) {
	_, a := ingestSome(t, 5)
	pkgs, warnings, err := a.Seal(context.Background(), archive.SealOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(pkgs) != 1 || pkgs[0].Messages != 5 || !pkgs[0].Development || len(warnings) != 2 {
		t.Fatalf("packages %+v warnings %v", pkgs, warnings)
	}
	checkPackage(t, a, pkgs[0].ID, filepath.Join(a.Dir, "keys", "dev-ca.pem"))
	index, _ := os.ReadFile(filepath.Join(packageDir(a, pkgs[0].ID), "index.xml"))
	if !strings.Contains(string(index), "no legal value") {
		t.Fatal("the index does not say the keys are development keys")
	}
	a.Catalog.Scan(func(r *archive.Record) error {
		if r.Package != pkgs[0].ID {
			t.Errorf("message %s not recorded in the package", r.ID)
		}
		return nil
	})
	again, _, err := a.Seal(context.Background(), archive.SealOptions{})
	if err != nil || len(again) != 0 {
		t.Fatalf("second seal with nothing pending: %+v %v", again, err)
	}
}

func TestSealSplitsPastTheSizeLimit(t *testing.T) {
	_, a := ingestSome(t, 5)
	a.Config.Seal.MaxMessages = 2
	pkgs, _, err := a.Seal(context.Background(), archive.SealOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(pkgs) != 3 || pkgs[0].Messages+pkgs[1].Messages+pkgs[2].Messages != 5 {
		t.Fatalf("%+v", pkgs)
	}
}

// TestSealWithAnIndependentTSA proves the client against a TSA conserva did
// not write: each request is answered by `openssl ts -reply`.
func TestSealWithAnIndependentTSA(t *testing.T) {
	caPEM, url := openSSLTSAServer(t)
	_, a := ingestSome(t, 3)
	pkgs, warnings, err := a.Seal(context.Background(), archive.SealOptions{TSAURL: url, Roots: archive.RootsOptions{TSA: caPEM}})
	if err != nil {
		t.Fatal(err)
	}
	if len(pkgs) != 1 || len(warnings) != 1 || !strings.Contains(warnings[0], "signer") {
		t.Fatalf("%+v %v", pkgs, warnings)
	}
	if pkgs[0].TSA != "independent TSA" {
		t.Fatalf("package records TSA %q", pkgs[0].TSA)
	}
	checkPackage(t, a, pkgs[0].ID, caPEM)
}

// openSSLTSAServer serves a throwaway TSA answered by openssl; it returns
// the TSA's CA file and URL.
func openSSLTSAServer(t *testing.T) (string, string) {
	t.Helper()
	bin := testutil.Tool(t, "openssl")
	tsaDir := t.TempDir()
	caPEM := makeOpenSSLTSA(t, tsaDir)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q, _ := io.ReadAll(r.Body)
		req := filepath.Join(tsaDir, "req.tsq")
		os.WriteFile(req, q, 0o600)
		cmd := exec.Command(bin, "ts", "-reply", "-config", "tsa.cnf", "-queryfile", "req.tsq", "-out", "resp.tsr")
		cmd.Dir = tsaDir
		if out, err := cmd.CombinedOutput(); err != nil {
			http.Error(w, string(out), 500)
			return
		}
		resp, _ := os.ReadFile(filepath.Join(tsaDir, "resp.tsr"))
		w.Header().Set("Content-Type", "application/timestamp-reply")
		w.Write(resp)
	}))
	t.Cleanup(srv.Close)
	return caPEM, srv.URL
}

// nothingSealed fails the test when any package object was stored or any
// message recorded as sealed.
func nothingSealed(t *testing.T, a *archive.Archive) {
	t.Helper()
	if sigs, _ := filepath.Glob(filepath.Join(a.Dir, "store", "packages", "*", "index.xml.p7s")); len(sigs) > 0 {
		t.Fatalf("a signature was stored: %v", sigs)
	}
	a.Catalog.Scan(func(r *archive.Record) error {
		if r.Package != "" {
			t.Errorf("message %s recorded as sealed", r.ID)
		}
		return nil
	})
}

func TestSealRefusesATSAWithoutRoots(t *testing.T) {
	_, url := openSSLTSAServer(t)
	_, a := ingestSome(t, 2)
	_, _, err := a.Seal(context.Background(), archive.SealOptions{TSAURL: url})
	if err == nil || !strings.Contains(err.Error(), "tsa_roots") {
		t.Fatalf("seal with a TSA and no TSA roots: %v", err)
	}
	if dirs, _ := filepath.Glob(filepath.Join(a.Dir, "store", "packages", "*")); len(dirs) > 0 {
		t.Fatalf("something was written: %v", dirs)
	}
}

// TestSealRefusesATSAOutsideTheRoots: a TSA whose answers chain to another
// CA than the pinned one is refused; nothing is signed into the store.
func TestSealRefusesATSAOutsideTheRoots(t *testing.T) {
	_, url := openSSLTSAServer(t)
	_, a := ingestSome(t, 2)
	devCA := filepath.Join(a.Dir, "keys", "dev-ca.pem")
	if _, err := a.SealRoots(archive.RootsOptions{}); err != nil { // makes the development CA
		t.Fatal(err)
	}
	_, _, err := a.Seal(context.Background(), archive.SealOptions{TSAURL: url, Roots: archive.RootsOptions{TSA: devCA}})
	if err == nil || !strings.Contains(err.Error(), "TSA") {
		t.Fatalf("seal with a TSA outside the roots: %v", err)
	}
	nothingSealed(t, a)
}

// TestSealRefusesASignerOutsideTheRoots: pinned signer roots that do not
// issue the signer stop the seal before anything is written.
func TestSealRefusesASignerOutsideTheRoots(t *testing.T) {
	caPEM, _ := openSSLTSAServer(t)
	_, a := ingestSome(t, 2)
	_, _, err := a.Seal(context.Background(), archive.SealOptions{Roots: archive.RootsOptions{Signer: caPEM}})
	if err == nil || !strings.Contains(err.Error(), "refusing to seal") {
		t.Fatalf("seal with a signer outside the roots: %v", err)
	}
	if dirs, _ := filepath.Glob(filepath.Join(a.Dir, "store", "packages", "*")); len(dirs) > 0 {
		t.Fatalf("something was written: %v", dirs)
	}
	if _, _, err := a.Seal(context.Background(), archive.SealOptions{Roots: archive.RootsOptions{Signer: filepath.Join(t.TempDir(), "missing.pem")}}); err == nil || !strings.Contains(err.Error(), "missing.pem") {
		t.Fatalf("a missing roots file: %v", err)
	}
}

// flakyDevTSA serves the archive's development TSA over HTTP, answering 503
// while down is set — except the first request, the probe a seal makes to
// learn the TSA's certificate before it writes anything (validation.go).
func flakyDevTSA(t *testing.T, a *archive.Archive, down *atomic.Bool) string {
	t.Helper()
	k, err := devpki.LoadOrCreate(filepath.Join(a.Dir, "keys"))
	if err != nil {
		t.Fatal(err)
	}
	h := (&timestamp.Dev{Cert: k.TSA.Cert, Key: k.TSA.Key, Chain: k.TSA.Chain}).Handler()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) > 1 && down.Load() {
			http.Error(w, "down", 503)
			return
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestInterruptedSealResumesTheSamePackage: a seal that fails after storing
// part of a package leaves every message pending; the next seal completes
// that same package, so no message is ever in two packages — even when the
// retention or a verdict changed in between.
func TestInterruptedSealResumesTheSamePackage(t *testing.T) {
	_, a := ingestSome(t, 4)
	var down atomic.Bool
	down.Store(true)
	url := flakyDevTSA(t, a, &down)
	devCA := filepath.Join(a.Dir, "keys", "dev-ca.pem")
	opts := archive.SealOptions{TSAURL: url, Roots: archive.RootsOptions{TSA: devCA}}
	if _, _, err := a.Seal(context.Background(), opts); err == nil {
		t.Fatal("seal with a failing TSA succeeded")
	}
	partial, _ := filepath.Glob(filepath.Join(a.Dir, "store", "packages", "*", "index.xml"))
	if len(partial) != 1 {
		t.Fatalf("partial packages: %v", partial)
	}
	nothingSealed(t, a)
	// What an interrupted package already stored must not make it fail.
	a.Config.Retention = "20y"
	down.Store(false)
	pkgs, _, err := a.Seal(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	want := filepath.Base(filepath.Dir(partial[0]))
	if len(pkgs) != 1 || pkgs[0].ID != want || pkgs[0].Messages != 4 {
		t.Fatalf("resumed %+v, want package %s with 4 messages", pkgs, want)
	}
	checkPackage(t, a, want, devCA)
	all, _ := filepath.Glob(filepath.Join(a.Dir, "store", "packages", "*"))
	if len(all) != 1 {
		t.Fatalf("%d package directories", len(all))
	}
}

// TestResumedWithAnotherTSANamesIt: a package begun with one TSA and
// finished with another is sealed under a new id whose index names the TSA
// that actually timestamped it.
func TestResumedWithAnotherTSANamesIt(t *testing.T) {
	_, a := ingestSome(t, 3)
	var down atomic.Bool
	down.Store(true)
	url := flakyDevTSA(t, a, &down)
	devCA := filepath.Join(a.Dir, "keys", "dev-ca.pem")
	if _, _, err := a.Seal(context.Background(), archive.SealOptions{TSAURL: url, Roots: archive.RootsOptions{TSA: devCA}}); err == nil {
		t.Fatal("seal with a failing TSA succeeded")
	}
	first, _ := filepath.Glob(filepath.Join(a.Dir, "store", "packages", "*", "index.xml"))
	if len(first) != 1 {
		t.Fatalf("partial packages: %v", first)
	}
	if idx, _ := os.ReadFile(first[0]); !strings.Contains(string(idx), url) {
		t.Fatalf("the first index does not name the TSA it was begun with:\n%s", idx)
	}
	pkgs, _, err := a.Seal(context.Background(), archive.SealOptions{}) // the in-process development TSA
	if err != nil {
		t.Fatal(err)
	}
	old := filepath.Base(filepath.Dir(first[0]))
	if len(pkgs) != 1 || pkgs[0].ID == old || pkgs[0].Messages != 3 {
		t.Fatalf("sealed %+v; the abandoned package was %s", pkgs, old)
	}
	idx, _ := os.ReadFile(filepath.Join(packageDir(a, pkgs[0].ID), "index.xml"))
	if strings.Contains(string(idx), url) || !strings.Contains(string(idx), "DEVELOPMENT TSA") {
		t.Fatalf("the index does not name the TSA used:\n%s", idx)
	}
	checkPackage(t, a, pkgs[0].ID, devCA)
}

// makeOpenSSLTSA writes a throwaway TSA (CA, key, certificate with the
// critical timeStamping EKU) and an openssl ts configuration; it returns
// the CA file.
func makeOpenSSLTSA(t *testing.T, dir string) string {
	t.Helper()
	now := time.Now().Add(-time.Hour)
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caT := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "independent TSA CA"}, NotBefore: now, NotAfter: now.Add(48 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, _ := x509.CreateCertificate(rand.Reader, caT, caT, caKey.Public(), caKey)
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	eku, _ := asn1.Marshal([]asn1.ObjectIdentifier{{1, 3, 6, 1, 5, 5, 7, 3, 8}})
	tT := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "independent TSA"}, NotBefore: now, NotAfter: now.Add(48 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtraExtensions: []pkix.Extension{{Id: asn1.ObjectIdentifier{2, 5, 29, 37}, Critical: true, Value: eku}}}
	tDER, err := x509.CreateCertificate(rand.Reader, tT, ca, key.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	k8, _ := x509.MarshalPKCS8PrivateKey(key)
	write := func(name string, data []byte) { os.WriteFile(filepath.Join(dir, name), data, 0o600) }
	write("ca.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}))
	write("tsa.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: tDER}))
	write("tsa.key", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: k8}))
	write("serial", []byte("01\n"))
	write("tsa.cnf", []byte(`[ tsa ]
default_tsa = tsa1
[ tsa1 ]
dir = .
serial = ./serial
crypto_device = builtin
signer_cert = ./tsa.pem
certs = ./ca.pem
signer_key = ./tsa.key
signer_digest = sha256
default_policy = 1.2.3.4.1
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = no
tsa_name = no
ess_cert_id_chain = no
ess_cert_id_alg = sha256
`))
	_ = ca
	return filepath.Join(dir, "ca.pem")
}
