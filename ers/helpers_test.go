package ers_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"math/big"
	"testing"
	"time"

	"github.com/conserva/conserva/internal/devpki"
	"github.com/conserva/conserva/timestamp"
)

// devTSA is the development TSA of a fresh archive and its trust anchor.
func devTSA(t testing.TB) (*timestamp.Dev, *x509.CertPool, *devpki.Keys) {
	t.Helper()
	keys, err := devpki.LoadOrCreate(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(keys.CA)
	return &timestamp.Dev{Cert: keys.TSA.Cert, Key: keys.TSA.Key, Chain: keys.TSA.Chain}, roots, keys
}

// tsaValid is a TSA whose certificate is valid from notBefore to notAfter
// (its CA for 50 years around), stamping at the times now() gives.
func tsaValid(t testing.TB, notBefore, notAfter time.Time, now func() time.Time) (*timestamp.Dev, *x509.CertPool) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: notBefore.AddDate(-25, 0, 0), NotAfter: notBefore.AddDate(25, 0, 0),
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caKey.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	eku, _ := asn1.Marshal([]asn1.ObjectIdentifier{{1, 3, 6, 1, 5, 5, 7, 3, 8}})
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: fmt.Sprintf("test TSA until %s", notAfter.Format("2006-01-02"))},
		NotBefore: notBefore, NotAfter: notAfter, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtraExtensions: []pkix.Extension{{Id: asn1.ObjectIdentifier{2, 5, 29, 37}, Critical: true, Value: eku}},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, key.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	return &timestamp.Dev{Cert: cert, Key: key, Chain: []*x509.Certificate{cert, ca}, Now: now}, roots
}

// objects are n distinct messages and their SHA-256 hashes.
func objects(n int) (data, hashes [][]byte) {
	for i := range n {
		d := []byte(fmt.Sprintf("Message-ID: <%d@example.pec.it>\r\n\r\nbody %d\r\n", i, i))
		h := sha256.Sum256(d)
		data = append(data, d)
		hashes = append(hashes, h[:])
	}
	return data, hashes
}

func sum(alg crypto.Hash, b []byte) []byte {
	h := alg.New()
	h.Write(b)
	return h.Sum(nil)
}

// countingTSA counts the requests it passes on.
type countingTSA struct {
	timestamp.DigestAuthority
	n int
}

func (c *countingTSA) TimestampDigest(ctx context.Context, h crypto.Hash, d []byte) (timestamp.Token, error) {
	c.n++
	return c.DigestAuthority.TimestampDigest(ctx, h, d)
}
