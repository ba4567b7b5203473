package pec

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
)

// TrustStore holds the trust anchors: CA certificates, intermediates or
// provider certificates themselves. Any of them ends a chain, as with
// OpenSSL's -partial_chain: PEC trust comes from AgID's list of providers,
// not from a web PKI root.
type TrustStore struct {
	anchors []*x509.Certificate
}

// NewTrustStore makes a store from certificates.
func NewTrustStore(certs ...*x509.Certificate) *TrustStore {
	return &TrustStore{anchors: append([]*x509.Certificate(nil), certs...)}
}

// Len is the number of anchors.
func (t *TrustStore) Len() int {
	if t == nil {
		return 0
	}
	return len(t.anchors)
}

// Anchors returns the anchors.
func (t *TrustStore) Anchors() []*x509.Certificate {
	if t == nil {
		return nil
	}
	return t.anchors
}

// Add adds anchors.
func (t *TrustStore) Add(certs ...*x509.Certificate) { t.anchors = append(t.anchors, certs...) }

// LoadTrustFile reads anchors from a file: a PEM bundle, or an IGPEC LDIF
// export (see ParseIGPEC). A file that yields no certificate is an error,
// so that a wrong path never silently means "trust nothing".
func LoadTrustFile(path string) (*TrustStore, error) {
	data, err := ReadTrustFile(path)
	if err != nil {
		return nil, err
	}
	t, err := ParseTrust(data)
	if err != nil {
		return nil, fmt.Errorf("trust anchors %s: %w", path, err)
	}
	return t, nil
}

// ParseTrust reads anchors from the bytes of a PEM bundle or an IGPEC LDIF
// export; no certificate at all is an error.
func ParseTrust(data []byte) (*TrustStore, error) {
	var certs []*x509.Certificate
	var err error
	if bytes.Contains(data, []byte("-----BEGIN")) {
		certs, err = parsePEMCertificates(data)
	} else {
		var providers []IGPECProvider
		providers, err = ParseIGPEC(bytes.NewReader(data))
		for _, p := range providers {
			certs = append(certs, p.Certificates...)
		}
	}
	if err != nil {
		return nil, err
	}
	if len(certs) == 0 {
		return nil, errors.New("no certificate found")
	}
	return NewTrustStore(certs...), nil
}

func parsePEMCertificates(data []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate %d: %w", len(certs)+1, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, errors.New("no PEM CERTIFICATE block")
	}
	return certs, nil
}

// isAnchor says whether c is (a form of) a trust anchor: the same subject
// and key, so that a cross-signed copy of an anchor counts as the anchor.
func (t *TrustStore) isAnchor(c *x509.Certificate) bool {
	for _, a := range t.Anchors() {
		if bytes.Equal(a.RawSubject, c.RawSubject) && bytes.Equal(a.RawSubjectPublicKeyInfo, c.RawSubjectPublicKeyInfo) {
			return true
		}
	}
	return false
}

// MaxTrustFile bounds a trust anchors file (AgID's whole provider index is
// a few megabytes).
const MaxTrustFile = 64 << 20

// ReadTrustFile reads a trust anchors file: a regular file of at most
// MaxTrustFile bytes (never /dev/zero or a pipe read forever).
func ReadTrustFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading trust anchors: %w", err)
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		return nil, fmt.Errorf("trust anchors %s: not a regular file", path)
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxTrustFile+1))
	if err != nil {
		return nil, fmt.Errorf("reading trust anchors: %w", err)
	}
	if len(data) > MaxTrustFile {
		return nil, fmt.Errorf("trust anchors %s: larger than %d bytes", path, MaxTrustFile)
	}
	return data, nil
}
