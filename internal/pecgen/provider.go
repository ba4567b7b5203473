// Package pecgen makes throwaway PEC providers and signed PEC messages of
// every kind, laid out as real providers lay them out. Tests and the bench
// use it; the keys it makes have no value outside them.
package pecgen

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"time"
)

// KeyType selects the provider's signing key.
type KeyType string

const (
	RSA2048   KeyType = "rsa2048"
	ECDSAP256 KeyType = "ecdsa-p256"
)

// CA is a throwaway certification authority.
type CA struct {
	Cert *x509.Certificate
	Key  crypto.Signer
}

// Provider is a PEC provider: a signing certificate issued by a CA.
type Provider struct {
	Name   string // e.g. "Posta Certificata Test"
	Domain string // the provider's mail domain
	Cert   *x509.Certificate
	Key    crypto.Signer
	CA     *CA
	// Extra are more certificates put into every signature (to test
	// hostile signatures).
	Extra []*x509.Certificate
}

// NewCA makes a self-signed CA valid from notBefore to notAfter.
func NewCA(name string, notBefore, notAfter time.Time) (*CA, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: name, Organization: []string{"conserva test"}, Country: []string{"IT"}},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &CA{Cert: cert, Key: key}, nil
}

// ProviderOptions describe the provider's signing certificate.
type ProviderOptions struct {
	Name      string
	Domain    string
	Key       KeyType
	NotBefore time.Time
	NotAfter  time.Time
}

// NewProvider issues a provider signing certificate from the CA, with the
// profile real providers use: SAN posta-certificata@domain, emailProtection.
func (ca *CA) NewProvider(o ProviderOptions) (*Provider, error) {
	if o.Name == "" {
		o.Name = "Posta Certificata Test"
	}
	if o.Domain == "" {
		o.Domain = "pec.test.example"
	}
	if o.NotBefore.IsZero() {
		o.NotBefore = time.Now().Add(-24 * time.Hour)
	}
	if o.NotAfter.IsZero() {
		o.NotAfter = time.Now().Add(3 * 365 * 24 * time.Hour)
	}
	var key crypto.Signer
	var err error
	switch o.Key {
	case ECDSAP256:
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case RSA2048, "":
		key, err = rsa.GenerateKey(rand.Reader, 2048)
	default:
		return nil, fmt.Errorf("unknown key type %q", o.Key)
	}
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:   serial(),
		Subject:        pkix.Name{CommonName: o.Name, Organization: []string{"conserva test provider"}, Country: []string{"IT"}},
		NotBefore:      o.NotBefore,
		NotAfter:       o.NotAfter,
		KeyUsage:       x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment,
		ExtKeyUsage:    []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection},
		EmailAddresses: []string{"posta-certificata@" + o.Domain},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, key.Public(), ca.Key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &Provider{Name: o.Name, Domain: o.Domain, Cert: cert, Key: key, CA: ca}, nil
}

// PEM encodes certificates as a PEM bundle.
func PEM(certs ...*x509.Certificate) []byte {
	var out []byte
	for _, c := range certs {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return out
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	return n.Add(n, big.NewInt(1))
}
