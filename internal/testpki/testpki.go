// Package testpki makes throwaway certificate hierarchies for tests:
// roots, signers and TSAs with RSA or ECDSA keys and chosen validity, so
// tests can forge what an attacker would (a look-alike CA, a TSA without
// the critical EKU, an expired signer).
package testpki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"math/big"
	"testing"
	"time"
)

// Identity is a certificate, its key and its chain (itself first, root last).
type Identity struct {
	Cert  *x509.Certificate
	Key   crypto.Signer
	Chain []*x509.Certificate
}

// Options shape a certificate.
type Options struct {
	RSA       bool      // RSA-2048 instead of ECDSA P-256
	NotBefore time.Time // zero: an hour ago
	NotAfter  time.Time // zero: in ten years
	// TimeStamping gives the only EKU, timeStamping, marked critical unless
	// NonCritical (RFC 3161 §2.3 wants it critical).
	TimeStamping, NonCritical bool
	CA                        bool
	// CRL and OCSP are the CRL distribution points and OCSP responders the
	// certificate names.
	CRL, OCSP []string
}

func key(t testing.TB, useRSA bool) crypto.Signer {
	t.Helper()
	var k crypto.Signer
	var err error
	if useRSA {
		k, err = rsa.GenerateKey(rand.Reader, 2048)
	} else {
		k, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func template(cn string, o Options) *x509.Certificate {
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	tmpl := &x509.Certificate{
		SerialNumber: serial.Add(serial, big.NewInt(1)),
		Subject:      pkix.Name{CommonName: cn, Organization: []string{"conserva tests"}},
		NotBefore:    o.NotBefore, NotAfter: o.NotAfter,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment,
	}
	if tmpl.NotBefore.IsZero() {
		tmpl.NotBefore = time.Now().Add(-time.Hour)
	}
	if tmpl.NotAfter.IsZero() {
		tmpl.NotAfter = time.Now().AddDate(10, 0, 0)
	}
	tmpl.CRLDistributionPoints, tmpl.OCSPServer = o.CRL, o.OCSP
	if o.CA {
		tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign
		tmpl.BasicConstraintsValid, tmpl.IsCA = true, true
	}
	if o.TimeStamping {
		eku, _ := asn1.Marshal([]asn1.ObjectIdentifier{{1, 3, 6, 1, 5, 5, 7, 3, 8}})
		tmpl.ExtraExtensions = []pkix.Extension{{Id: asn1.ObjectIdentifier{2, 5, 29, 37}, Critical: !o.NonCritical, Value: eku}}
	}
	return tmpl
}

// Root makes a self-signed CA.
func Root(t testing.TB, cn string, o Options) *Identity {
	t.Helper()
	o.CA = true
	k := key(t, o.RSA)
	tmpl := template(cn, o)
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.Public(), k)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &Identity{Cert: c, Key: k, Chain: []*x509.Certificate{c}}
}

// Issue makes a certificate signed by ca.
func (ca *Identity) Issue(t testing.TB, cn string, o Options) *Identity {
	t.Helper()
	k := key(t, o.RSA)
	der, err := x509.CreateCertificate(rand.Reader, template(cn, o), ca.Cert, k.Public(), ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &Identity{Cert: c, Key: k, Chain: append([]*x509.Certificate{c}, ca.Chain...)}
}

// Pool is a pool holding only this identity's root.
func (id *Identity) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(id.Chain[len(id.Chain)-1])
	return p
}

// PEM encodes certificates.
func PEM(certs ...*x509.Certificate) []byte {
	var out []byte
	for _, c := range certs {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return out
}
