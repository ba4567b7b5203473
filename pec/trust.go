package pec

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
)

// TrustStore holds the trust anchors: CA certificates, intermediates or
// provider certificates themselves. Any of them ends a chain, as with
// OpenSSL's -partial_chain: PEC trust comes from AgID's list of providers,
// not from a web PKI root.
type TrustStore struct {
	anchors []*x509.Certificate
	links   linkCache
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

// linkCache remembers which certificate issued which: the same provider
// chain comes with every message of a run, and checking its signatures
// again each time was most of the chain's cost. The answer depends on the
// two certificates' bytes alone (names, CA flag, signature), not on any
// time: validity at the signing time is checked for every message.
type linkCache struct {
	mu sync.Mutex
	m  map[string]map[string]bool // parent DER → child DER → issued
	n  int
}

// maxLinks bounds the cache: past it, it starts again empty.
const maxLinks = 4096

// issued is issued(parent, child), remembered.
func (t *TrustStore) issued(parent, child *x509.Certificate) bool {
	if t == nil {
		return issued(parent, child)
	}
	c := &t.links
	c.mu.Lock()
	ok, known := c.m[string(parent.Raw)][string(child.Raw)]
	c.mu.Unlock()
	if known {
		return ok
	}
	ok = issued(parent, child)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || c.n >= maxLinks {
		c.m, c.n = map[string]map[string]bool{}, 0
	}
	children := c.m[string(parent.Raw)]
	if children == nil {
		children = map[string]bool{}
		c.m[string(parent.Raw)] = children
	}
	children[string(child.Raw)] = ok
	c.n++
	return ok
}
