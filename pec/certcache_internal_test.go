package pec

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"reflect"
	"testing"
	"time"

	"github.com/smallstep/pkcs7"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// signedData builds a ContentInfo holding a SignedData whose certificates
// field has the given content (nil: no such field).
func signedData(certs []byte) []byte {
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(pkcs7.OIDSignedData)
		b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1Int64(1)
				b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) {})
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { b.AddASN1ObjectIdentifier(pkcs7.OIDData) })
				if certs != nil {
					b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) { b.AddBytes(certs) })
				}
				b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) {})
			})
		})
	})
	return b.BytesOrPanic()
}

// TestWithoutCertificatesOnlyWhenPkcs7KeepsThem: the certificates are
// taken apart only when smallstep/pkcs7 would read them byte for byte as
// they are: a length it would rewrite (long form under 128, indefinite),
// anywhere inside them, leaves the whole signature to pkcs7.
func TestWithoutCertificatesOnlyWhenPkcs7KeepsThem(t *testing.T) {
	plain := []byte{0x30, 0x03, 0x04, 0x01, 'x'}
	stripped, certs, ok := withoutCertificates(signedData(plain))
	if !ok || !bytes.Equal(certs, plain) || !bytes.Equal(stripped, signedData(nil)) {
		t.Fatalf("plain certificates: ok %v, certificates %x, rest %x", ok, certs, stripped)
	}
	for name, inner := range map[string][]byte{
		"long form under 128": {0x30, 0x04, 0x04, 0x81, 0x01, 'x'},
		"indefinite":          {0x30, 0x80, 0x04, 0x01, 'x', 0x00, 0x00},
	} {
		if _, _, ok := withoutCertificates(signedData(inner)); ok {
			t.Errorf("%s inside the certificates: taken apart, but pkcs7 would rewrite it", name)
		}
	}
	if _, _, ok := withoutCertificates(append(signedData(plain), 0)); ok {
		t.Error("a byte after the ContentInfo: taken apart, but pkcs7 ignores it and the copy would not")
	}
}

// TestParseCachedIsPkcs7Parse: a provider's detached and opaque
// signatures, parsed with the certificates from the cache, are pkcs7's own
// parse, field for field, the first time and from the cache.
func TestParseCachedIsPkcs7Parse(t *testing.T) {
	caCert, leaf, key := testChain(t)
	cache := NewCertCache()
	for _, detached := range []bool{true, false} {
		content := []byte("Content-Type: text/plain\r\n\r\nciao\r\n")
		sd, err := pkcs7.NewSignedData(content)
		if err != nil {
			t.Fatal(err)
		}
		if err := sd.AddSigner(leaf, key, pkcs7.SignerInfoConfig{}); err != nil {
			t.Fatal(err)
		}
		sd.AddCertificate(caCert)
		if detached {
			sd.Detach()
		}
		der, err := sd.Finish()
		if err != nil {
			t.Fatal(err)
		}
		want, err := pkcs7.Parse(der)
		if err != nil {
			t.Fatal(err)
		}
		for i := range 2 {
			got, ok := parseCached(der, cache)
			if !ok {
				t.Fatalf("detached %v, pass %d: not parsed with the cache", detached, i)
			}
			if !reflect.DeepEqual(got.Content, want.Content) || !reflect.DeepEqual(got.Signers, want.Signers) ||
				!reflect.DeepEqual(got.CRLs, want.CRLs) || len(got.Certificates) != 2 || len(want.Certificates) != 2 {
				t.Fatalf("detached %v, pass %d: differs from pkcs7.Parse", detached, i)
			}
			for j := range got.Certificates {
				if !got.Certificates[j].Equal(want.Certificates[j]) {
					t.Fatalf("detached %v, pass %d: certificate %d differs", detached, i, j)
				}
			}
			got.Content = content // detached: given beside it
			if err := got.Verify(); err != nil {
				t.Fatalf("detached %v: %v", detached, err)
			}
		}
	}
}

// testChain makes a CA and a certificate it issued (pecgen cannot be used
// here: it imports this package).
func testChain(t *testing.T) (ca, leaf *x509.Certificate, key *ecdsa.PrivateKey) {
	t.Helper()
	make := func(tmpl, parent *x509.Certificate, pub, signer any) *x509.Certificate {
		der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
		if err != nil {
			t.Fatal(err)
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	key, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := time.Now()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"}, NotBefore: now.Add(-time.Hour),
		NotAfter: now.Add(time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	ca = make(caTmpl, caTmpl, &caKey.PublicKey, caKey)
	leaf = make(&x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "Posta Certificata test"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature}, ca, &key.PublicKey, caKey)
	return ca, leaf, key
}
