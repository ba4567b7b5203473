package validation_test

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
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

	"golang.org/x/crypto/ocsp"

	"github.com/conserva/conserva/internal/testpki"
	"github.com/conserva/conserva/internal/testutil"
	"github.com/conserva/conserva/validation"
)

// crlOf makes a CRL of ca revoking the given certificates at the given times.
func crlOf(t *testing.T, ca *testpki.Identity, revoked map[*x509.Certificate]time.Time) []byte {
	return crlWith(t, ca, time.Now().Add(-time.Hour), revoked)
}

// crlWith makes a CRL of ca issued at thisUpdate (valid a week), revoking
// the given certificates at the given times, with more extensions.
func crlWith(t *testing.T, ca *testpki.Identity, thisUpdate time.Time, revoked map[*x509.Certificate]time.Time, ext ...pkix.Extension) []byte {
	t.Helper()
	var entries []x509.RevocationListEntry
	for c, at := range revoked {
		entries = append(entries, x509.RevocationListEntry{SerialNumber: c.SerialNumber, RevocationTime: at})
	}
	der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
		Number: big.NewInt(1), ThisUpdate: thisUpdate, NextUpdate: thisUpdate.Add(7 * 24 * time.Hour),
		RevokedCertificateEntries: entries, ExtraExtensions: ext,
	}, ca.Cert, ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// crlServer serves whatever *body holds at /crl, on 127.0.0.1.
func crlServer(t *testing.T, body *atomic.Pointer[[]byte]) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b := body.Load()
		if b == nil || r.URL.Path != "/crl" {
			http.NotFound(w, r)
			return
		}
		w.Write(*b)
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/crl"
}

func writePEM(t *testing.T, dir, name, typ string, der ...[]byte) string {
	t.Helper()
	var out []byte
	for _, d := range der {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: d})...)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, out, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestCollectCRL: the CRL of a certificate's distribution point is fetched
// from a real server, kept, and judged as openssl judges it.
func TestCollectCRL(t *testing.T) {
	openssl := testutil.Tool(t, "openssl")
	var body atomic.Pointer[[]byte]
	url := crlServer(t, &body)
	ca := testpki.Root(t, "Test CA", testpki.Options{})
	leaf := ca.Issue(t, "Test signer", testpki.Options{CRL: []string{url}})
	clean := crlOf(t, ca, nil)
	body.Store(&clean)
	ctx := context.Background()

	b, missing := validation.Collect(ctx, validation.NewHTTP(), leaf.Chain, time.Now())
	if len(missing) != 0 || len(b.Certs) != 2 || len(b.CRLs) != 1 || string(b.CRLs[0]) != string(clean) {
		t.Fatalf("collected %d certs, %d CRLs, missing %v", len(b.Certs), len(b.CRLs), missing)
	}
	if f := validation.Check(b, leaf.Chain, time.Now()); len(f) != 0 {
		t.Fatalf("a clean chain: %v", f)
	}
	files := b.Files()
	if len(files) != 3 {
		t.Fatalf("files %v", files)
	}
	again, err := validation.FromFiles(files)
	if err != nil || len(again.Certs) != 2 || len(again.CRLs) != 1 {
		t.Fatalf("read back: %v", err)
	}
	dir := t.TempDir()
	caPEM := writePEM(t, dir, "ca.pem", "CERTIFICATE", ca.Cert.Raw)
	leafPEM := writePEM(t, dir, "leaf.pem", "CERTIFICATE", leaf.Cert.Raw)
	crlPEM := writePEM(t, dir, "crl.pem", "X509 CRL", b.CRLs[0])
	run := func(args ...string) (string, error) {
		out, err := exec.Command(openssl, args...).CombinedOutput()
		return string(out), err
	}
	if out, err := run("crl", "-in", crlPEM, "-CAfile", caPEM, "-noout"); err != nil || !strings.Contains(out, "verify OK") {
		t.Fatalf("openssl crl: %v %s", err, out)
	}
	if out, err := run("verify", "-crl_check", "-CAfile", caPEM, "-CRLfile", crlPEM, leafPEM); err != nil {
		t.Fatalf("openssl verify -crl_check: %v %s", err, out)
	}

	// Revoked an hour ago: refused now, fine for what was signed before.
	revoked := crlOf(t, ca, map[*x509.Certificate]time.Time{leaf.Cert: time.Now().Add(-time.Hour)})
	body.Store(&revoked)
	b, missing = validation.Collect(ctx, validation.NewHTTP(), leaf.Chain, time.Now())
	if len(missing) != 0 {
		t.Fatal(missing)
	}
	f := validation.Check(b, leaf.Chain, time.Now())
	if len(f) != 1 || !f[0].Revoked || !strings.Contains(f[0].String(), `"Test signer"`) {
		t.Fatalf("a revoked signer: %v", f)
	}
	if f := validation.Check(b, leaf.Chain, time.Now().Add(-2*time.Hour)); len(f) != 0 {
		t.Fatalf("signed before the revocation: %v", f)
	}
	crlPEM = writePEM(t, dir, "crl.pem", "X509 CRL", revoked)
	if out, err := run("verify", "-crl_check", "-CAfile", caPEM, "-CRLfile", crlPEM, leafPEM); err == nil || !strings.Contains(out, "revoked") {
		t.Fatalf("openssl verify of a revoked certificate: %v %s", err, out)
	}
}

// TestForgedCRL: a CRL signed by another CA (with the issuer's name) is
// never taken: not at collection, not when judging.
func TestForgedCRL(t *testing.T) {
	var body atomic.Pointer[[]byte]
	url := crlServer(t, &body)
	ca := testpki.Root(t, "Test CA", testpki.Options{})
	other := testpki.Root(t, "Test CA", testpki.Options{}) // same name, another key
	leaf := ca.Issue(t, "Test signer", testpki.Options{CRL: []string{url}})
	forged := crlOf(t, other, nil)
	body.Store(&forged)
	b, missing := validation.Collect(context.Background(), validation.NewHTTP(), leaf.Chain, time.Now())
	if len(missing) != 1 || !strings.Contains(missing[0].Error(), "not signed by its issuer") || len(b.CRLs) != 0 {
		t.Fatalf("a forged CRL was taken: %v", missing)
	}
	b.CRLs = [][]byte{forged}
	f := validation.Check(b, leaf.Chain, time.Now())
	if len(f) != 1 || f[0].Revoked || !strings.Contains(f[0].Problem, "not signed by its issuer") {
		t.Fatalf("judging a forged CRL: %v", f)
	}
	// No CRL at all, and a certificate missing.
	f = validation.Check(&validation.Bundle{Certs: [][]byte{leaf.Cert.Raw}}, leaf.Chain, time.Now())
	if len(f) != 2 || !strings.Contains(f[0].Problem, "no revocation information") || !strings.Contains(f[1].Problem, "missing from the validation data") {
		t.Fatalf("nothing kept: %v", f)
	}
}

// TestFetchLimits: an unreachable point, a server error and an answer over
// the size limit are each named.
func TestFetchLimits(t *testing.T) {
	big := make([]byte, 2048)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/big" {
			w.Write(big)
			return
		}
		http.Error(w, "no", http.StatusInternalServerError)
	}))
	defer srv.Close()
	h := &validation.HTTP{Client: srv.Client(), MaxSize: 1024}
	ctx := context.Background()
	if _, err := h.Get(ctx, srv.URL+"/big"); err == nil || !strings.Contains(err.Error(), "larger than 1024") {
		t.Fatalf("over the limit: %v", err)
	}
	if _, err := h.Get(ctx, srv.URL+"/x"); err == nil || !strings.Contains(err.Error(), "500") {
		t.Fatalf("server error: %v", err)
	}
	if _, err := h.Get(ctx, "ldap://example.invalid/cn=crl"); err == nil {
		t.Fatal("ldap fetched")
	}
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	if _, err := h.Get(ctx, closed.URL+"/crl"); err == nil {
		t.Fatal("a closed server answered")
	}
	// A distribution point with a password or a key in its URL: no error
	// says them, whatever failed (refused connection, HTTP error, limit).
	for _, u := range []string{
		strings.Replace(closed.URL, "http://", "http://crl:s3cretPW@", 1) + "/crl?key=s3cretKEY",
		strings.Replace(srv.URL, "http://", "http://crl:s3cretPW@", 1) + "/x?key=s3cretKEY",
		strings.Replace(srv.URL, "http://", "http://crl:s3cretPW@", 1) + "/big?token=s3cretKEY",
		"https://crl:s3cretPW@example.invalid/crl?key=s3cretKEY",
	} {
		_, err := h.Get(ctx, u)
		if err == nil || strings.Contains(err.Error(), "s3cret") {
			t.Errorf("fetching a URL with secrets: %v", err)
		}
	}
}

// TestCollectOCSP: a certificate naming only an OCSP responder gets its
// answer kept; a revoked answer is judged so.
func TestCollectOCSP(t *testing.T) {
	ca := testpki.Root(t, "Test CA", testpki.Options{})
	var status atomic.Int32
	var revokedAt atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		req, err := ocsp.ParseRequest(body)
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		resp, err := ocsp.CreateResponse(ca.Cert, ca.Cert, ocsp.Response{
			Status: int(status.Load()), SerialNumber: req.SerialNumber,
			ThisUpdate: time.Now().Add(-time.Minute), NextUpdate: time.Now().Add(time.Hour),
			RevokedAt: time.Unix(revokedAt.Load(), 0),
		}, ca.Key)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		w.Write(resp)
	}))
	defer srv.Close()
	leaf := ca.Issue(t, "Test TSA", testpki.Options{OCSP: []string{srv.URL}})
	ctx := context.Background()
	b, missing := validation.Collect(ctx, validation.NewHTTP(), leaf.Chain, time.Now())
	if len(missing) != 0 || len(b.OCSP) != 1 {
		t.Fatalf("OCSP: %v %d", missing, len(b.OCSP))
	}
	if f := validation.Check(b, leaf.Chain, time.Now()); len(f) != 0 {
		t.Fatal(f)
	}
	status.Store(ocsp.Revoked)
	revokedAt.Store(time.Now().Add(-time.Hour).Unix())
	b, _ = validation.Collect(ctx, validation.NewHTTP(), leaf.Chain, time.Now())
	if f := validation.Check(b, leaf.Chain, time.Now()); len(f) != 1 || !f[0].Revoked {
		t.Fatalf("revoked by OCSP: %v", f)
	}
	if _, err := b.CryptoInfos(); err != nil {
		t.Fatal(err)
	}
}

// TestCryptoInfos: the evidence record field is DER: [0] holding the
// certValues and revocationValues attributes.
func TestCryptoInfos(t *testing.T) {
	ca := testpki.Root(t, "Test CA", testpki.Options{})
	leaf := ca.Issue(t, "Test signer", testpki.Options{})
	b := &validation.Bundle{Certs: [][]byte{leaf.Cert.Raw, ca.Cert.Raw}, CRLs: [][]byte{crlOf(t, ca, nil)}}
	der, err := b.CryptoInfos()
	if err != nil {
		t.Fatal(err)
	}
	var raw asn1.RawValue
	if rest, err := asn1.Unmarshal(der, &raw); err != nil || len(rest) != 0 || raw.Tag != 0 || raw.Class != asn1.ClassContextSpecific {
		t.Fatalf("not a [0] element: %v", err)
	}
	var attrs []struct {
		Type   asn1.ObjectIdentifier
		Values asn1.RawValue `asn1:"set"`
	}
	if _, err := asn1.Unmarshal(append([]byte{0x30}, der[1:]...), &attrs); err != nil || len(attrs) != 2 ||
		!attrs[0].Type.Equal(validation.OIDCertValues) || !attrs[1].Type.Equal(validation.OIDRevocationValues) {
		t.Fatalf("attributes: %v %v", attrs, err)
	}
	back, err := validation.FromCryptoInfos(der)
	if err != nil || len(back.Certs) != 2 || len(back.CRLs) != 1 || string(back.CRLs[0]) != string(b.CRLs[0]) {
		t.Fatalf("read back: %v", err)
	}
	if d, _ := (&validation.Bundle{}).CryptoInfos(); d != nil {
		t.Fatal("an empty bundle has cryptoInfos")
	}
}
