package validation_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"os/exec"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/conserva/conserva/internal/testpki"
	"github.com/conserva/conserva/internal/testutil"
	"github.com/conserva/conserva/validation"
)

// idp encodes an issuingDistributionPoint (RFC 5280 §5.2.5): the
// partition named by uri (none if empty) and the flags given by tag
// ([1] onlyContainsUserCerts, [2] onlyContainsCACerts, [4] indirectCRL);
// reasons adds onlySomeReasons (keyCompromise).
func idp(uri string, reasons bool, flags ...uint8) pkix.Extension {
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		if uri != "" {
			b.AddASN1(cbasn1.Tag(0).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) {
				b.AddASN1(cbasn1.Tag(0).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) {
					b.AddASN1(cbasn1.Tag(6).ContextSpecific(), func(b *cryptobyte.Builder) { b.AddBytes([]byte(uri)) })
				})
			})
		}
		for tag := uint8(1); tag <= 5; tag++ {
			switch {
			case tag == 3 && reasons:
				b.AddASN1(cbasn1.Tag(3).ContextSpecific(), func(b *cryptobyte.Builder) { b.AddBytes([]byte{0x06, 0x40}) })
			case slices.Contains(flags, tag):
				b.AddASN1(cbasn1.Tag(tag).ContextSpecific(), func(b *cryptobyte.Builder) { b.AddUint8(0xff) })
			}
		}
	})
	return pkix.Extension{Id: asn1.ObjectIdentifier{2, 5, 29, 28}, Critical: true, Value: b.BytesOrPanic()}
}

// TestCRLPartitions: a CA that splits its revocations over several CRLs
// (issuing distribution point) signs each of them; a hostile or careless
// distribution point serving the wrong one — the CA certificates' CRL, a
// partition of other certificates, one reason only, an indirect CRL —
// must not pass for the certificate's. Neither Collect nor Check takes
// such a CRL as saying "not revoked"; openssl, judging the same files,
// agrees on every case.
func TestCRLPartitions(t *testing.T) {
	openssl := testutil.Tool(t, "openssl")
	var body atomic.Pointer[[]byte]
	url := crlServer(t, &body)
	ca := testpki.Root(t, "Partitioned CA", testpki.Options{})
	leaf := ca.Issue(t, "Signer", testpki.Options{CRL: []string{url}})
	dir := t.TempDir()
	caPEM := writePEM(t, dir, "ca.pem", "CERTIFICATE", ca.Cert.Raw)
	leafPEM := writePEM(t, dir, "leaf.pem", "CERTIFICATE", leaf.Cert.Raw)
	now := time.Now()
	for _, tc := range []struct {
		name   string
		ext    []pkix.Extension
		covers bool
		why    string
	}{
		{"no partition", nil, true, ""},
		{"the certificate's own partition", []pkix.Extension{idp(url, false)}, true, ""},
		{"end-entity certificates only", []pkix.Extension{idp(url, false, 1)}, true, ""},
		{"another partition", []pkix.Extension{idp("http://127.0.0.1:1/other.crl", false)}, false, "partition"},
		{"CA certificates only", []pkix.Extension{idp("", false, 2)}, false, "only CA certificates"},
		{"some reasons only", []pkix.Extension{idp(url, true)}, false, "onlySomeReasons"},
		{"an indirect CRL", []pkix.Extension{idp("", false, 4)}, false, "indirect"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			crl := crlWith(t, ca, now.Add(-time.Hour), nil, tc.ext...)
			body.Store(&crl)
			b, missing := validation.Collect(context.Background(), validation.NewHTTP(), leaf.Chain, now)
			if tc.covers != (len(missing) == 0) {
				t.Fatalf("collected: missing %v", missing)
			}
			if !tc.covers && !strings.Contains(missing[0].Error(), tc.why) {
				t.Errorf("the reason does not say why: %v", missing[0])
			}
			b.CRLs = [][]byte{crl}
			f := validation.Check(b, leaf.Chain, now)
			if tc.covers != (len(f) == 0) {
				t.Fatalf("judged: %v", f)
			}
			if !tc.covers && (f[0].Revoked || !strings.Contains(f[0].Problem, tc.why)) {
				t.Errorf("the finding does not say why: %v", f[0])
			}
			crlPEM := writePEM(t, dir, "crl.pem", "X509 CRL", crl)
			out, err := exec.Command(openssl, "verify", "-crl_check", "-CAfile", caPEM, "-CRLfile", crlPEM, leafPEM).CombinedOutput()
			if tc.covers != (err == nil) {
				t.Errorf("openssl disagrees (covers %v): %v %s", tc.covers, err, out)
			}
		})
	}

	// A certificate listed in a partition still counts as revoked there:
	// the CA said so, whatever the partition.
	crl := crlWith(t, ca, now.Add(-time.Hour), map[*x509.Certificate]time.Time{leaf.Cert: now.Add(-2 * time.Hour)}, idp("http://127.0.0.1:1/other.crl", false))
	f := validation.Check(&validation.Bundle{Certs: [][]byte{leaf.Cert.Raw, ca.Cert.Raw}, CRLs: [][]byte{crl}}, leaf.Chain, now)
	if len(f) != 1 || !f[0].Revoked {
		t.Errorf("a revocation listed in another partition was ignored: %v", f)
	}
}

// TestCRLAfterExpiry: a CA may drop a revoked certificate from its CRLs
// once it has expired (RFC 5280 §3.3). A CRL issued after the signer's
// certificate expired, not listing it, says nothing about it — unless
// it declares it keeps expired certificates (expiredCertsOnCRL).
func TestCRLAfterExpiry(t *testing.T) {
	now := time.Now()
	ca := testpki.Root(t, "CA", testpki.Options{})
	leaf := ca.Issue(t, "Signer", testpki.Options{CRL: []string{"http://127.0.0.1:1/ca.crl"},
		NotBefore: now.Add(-48 * time.Hour), NotAfter: now.Add(-2 * time.Hour)})
	signed := now.Add(-24 * time.Hour)
	judge := func(crl []byte) []validation.Finding {
		return validation.Check(&validation.Bundle{Certs: [][]byte{leaf.Cert.Raw, ca.Cert.Raw}, CRLs: [][]byte{crl}}, leaf.Chain, signed)
	}
	if f := judge(crlWith(t, ca, now.Add(-3*time.Hour), nil)); len(f) != 0 {
		t.Fatalf("a CRL issued while the certificate was valid: %v", f)
	}
	f := judge(crlWith(t, ca, now.Add(-time.Hour), nil))
	if len(f) != 1 || !strings.Contains(f[0].Problem, "after the certificate expired") {
		t.Fatalf("a CRL issued after the certificate expired was taken: %v", f)
	}
	keeps := func(from time.Time) pkix.Extension {
		v, err := asn1.MarshalWithParams(from.UTC(), "generalized")
		if err != nil {
			t.Fatal(err)
		}
		return pkix.Extension{Id: asn1.ObjectIdentifier{2, 5, 29, 60}, Value: v}
	}
	if f := judge(crlWith(t, ca, now.Add(-time.Hour), nil, keeps(now.Add(-72*time.Hour)))); len(f) != 0 {
		t.Fatalf("a CRL keeping expired certificates: %v", f)
	}
	if f := judge(crlWith(t, ca, now.Add(-time.Hour), nil, keeps(now.Add(-time.Hour)))); len(f) != 1 {
		t.Fatalf("a CRL keeping only certificates expired after this one: %v", f)
	}
}

// TestCRLWithoutNextUpdate: a CRL without nextUpdate (RFC 5280 wants it)
// says nothing about how long it held: it speaks for times at or after
// its issue only, never for a signature made after it.
func TestCRLWithoutNextUpdate(t *testing.T) {
	openssl := testutil.Tool(t, "openssl")
	now := time.Now().Truncate(time.Second)
	ca := testpki.Root(t, "CA", testpki.Options{})
	leaf := ca.Issue(t, "Signer", testpki.Options{CRL: []string{"http://127.0.0.1:1/ca.crl"}})
	crl := crlNoNextUpdate(t, ca, now.Add(-time.Hour))
	parsed, err := x509.ParseRevocationList(crl)
	if err != nil || !parsed.NextUpdate.IsZero() {
		t.Fatalf("the test CRL: %v", err)
	}
	dir := t.TempDir()
	if out, err := exec.Command(openssl, "crl", "-in", writePEM(t, dir, "crl.pem", "X509 CRL", crl), "-noout",
		"-CAfile", writePEM(t, dir, "ca.pem", "CERTIFICATE", ca.Cert.Raw)).CombinedOutput(); err != nil {
		t.Fatalf("openssl refuses the test CRL: %v %s", err, out)
	}
	b := &validation.Bundle{Certs: [][]byte{leaf.Cert.Raw, ca.Cert.Raw}, CRLs: [][]byte{crl}}
	if f := validation.Check(b, leaf.Chain, now.Add(-2*time.Hour)); len(f) != 0 {
		t.Errorf("signed before the CRL was issued: %v", f)
	}
	if f := validation.Check(b, leaf.Chain, now); len(f) != 1 || f[0].Revoked {
		t.Errorf("an older CRL without nextUpdate covered a later signature: %v", f)
	}
}

// crlNoNextUpdate signs a CRL of ca (ECDSA P-256) with no nextUpdate,
// which crypto/x509 will not make.
func crlNoNextUpdate(t *testing.T, ca *testpki.Identity, thisUpdate time.Time) []byte {
	t.Helper()
	alg := func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1ObjectIdentifier(asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2})
		})
	}
	var tbs cryptobyte.Builder
	tbs.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1Int64(1)
		alg(b)
		b.AddBytes(ca.Cert.RawSubject)
		b.AddASN1UTCTime(thisUpdate.UTC())
	})
	raw := tbs.BytesOrPanic()
	d := sha256.Sum256(raw)
	sig, err := ca.Key.Sign(rand.Reader, d[:], crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	var out cryptobyte.Builder
	out.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddBytes(raw)
		alg(b)
		b.AddASN1BitString(sig)
	})
	return out.BytesOrPanic()
}
