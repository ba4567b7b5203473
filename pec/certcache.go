package pec

import (
	"crypto/x509"
	"encoding/asn1"
	"slices"
	"sync"

	"github.com/conserva/conserva/internal/ber"
	"github.com/smallstep/pkcs7"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// CertCache remembers the certificates that signatures carry, parsed, by
// their bytes: every message of a provider carries the same ones, and
// parsing them again, after smallstep/pkcs7 copied them through its
// BER-to-DER conversion, was half the cost of parsing a signature. Only
// parsing is remembered: each message's chain and validity at its signing
// time are still judged (Verify). Safe for concurrent use; the zero value
// is not: use NewCertCache.
type CertCache struct {
	mu sync.Mutex
	m  map[string][]*x509.Certificate // the certificates field's content → its certificates
}

// maxCertSets bounds the cache: past it, it starts again empty.
const maxCertSets = 256

// NewCertCache makes an empty cache, for Limits.Certs.
func NewCertCache() *CertCache { return &CertCache{m: map[string][]*x509.Certificate{}} }

// parse is x509.ParseCertificates(der), as smallstep/pkcs7 calls it on a
// SignedData's certificates, remembered; false when they do not parse (the
// caller then lets pkcs7 parse them and report the error).
func (c *CertCache) parse(der []byte) ([]*x509.Certificate, bool) {
	c.mu.Lock()
	certs, ok := c.m[string(der)]
	c.mu.Unlock()
	if !ok {
		var err error
		if certs, err = x509.ParseCertificates(der); err != nil {
			return nil, false
		}
		c.mu.Lock()
		if len(c.m) >= maxCertSets {
			c.m = map[string][]*x509.Certificate{}
		}
		c.m[string(der)] = certs
		c.mu.Unlock()
	}
	// The slice is the caller's (it may append); the certificates are shared
	// and never modified.
	return slices.Clone(certs), true
}

// parseCached is pkcs7.Parse(der) with the certificates taken from the
// cache: pkcs7 parses the SignedData without its certificates field, and
// the certificates parsed from that field's bytes (as pkcs7 would parse
// them) are put in. It is taken only when that gives what pkcs7.Parse(der)
// gives: a ContentInfo holding a SignedData laid out as RFC 5652 says,
// nothing after it, and a certificates field whose lengths are all definite
// and in their shortest form (pkcs7's BER-to-DER conversion leaves such
// bytes as they are). ok is false otherwise, and the caller parses der.
func parseCached(der []byte, cache *CertCache) (*pkcs7.PKCS7, bool) {
	stripped, certsDER, ok := withoutCertificates(der)
	if !ok {
		return nil, false
	}
	certs, ok := cache.parse(certsDER)
	if !ok {
		return nil, false
	}
	p7, err := pkcs7.Parse(stripped)
	if err != nil || len(p7.Certificates) != 0 {
		return nil, false // its own error, whatever it is, comes from parsing der
	}
	p7.Certificates = certs
	return p7, true
}

// maxStripped bounds what withoutCertificates copies: a detached
// signature is a few kilobytes; an opaque one carrying a large message is
// left to pkcs7 alone rather than copied once more.
const maxStripped = 1 << 20

// withoutCertificates splits a DER ContentInfo holding a SignedData into
// the same ContentInfo without the SignedData's certificates field, and
// that field's content. ok is false for any other layout.
func withoutCertificates(der []byte) (stripped, certs []byte, ok bool) {
	if len(der) > maxStripped {
		return nil, nil, false
	}
	in := cryptobyte.String(der)
	var ci, oidElem, explicit, sd, field, certsField cryptobyte.String
	var oid asn1.ObjectIdentifier
	if !in.ReadASN1(&ci, cbasn1.SEQUENCE) || !in.Empty() ||
		!ci.ReadASN1Element(&oidElem, cbasn1.OBJECT_IDENTIFIER) ||
		!ci.ReadASN1(&explicit, cbasn1.Tag(0).Constructed().ContextSpecific()) || !ci.Empty() ||
		!explicit.ReadASN1(&sd, cbasn1.SEQUENCE) || !explicit.Empty() {
		return nil, nil, false
	}
	if o := oidElem; !o.ReadASN1ObjectIdentifier(&oid) || !oid.Equal(pkcs7.OIDSignedData) {
		return nil, nil, false
	}
	// version, digestAlgorithms, encapContentInfo; then the certificates.
	body := sd
	var skip cryptobyte.String
	if !sd.ReadASN1Element(&skip, cbasn1.INTEGER) || !sd.ReadASN1Element(&skip, cbasn1.SET) ||
		!sd.ReadASN1Element(&skip, cbasn1.SEQUENCE) {
		return nil, nil, false
	}
	before := body[:len(body)-len(sd)]
	if !sd.ReadASN1Element(&field, cbasn1.Tag(0).Constructed().ContextSpecific()) {
		return nil, nil, false
	}
	if _, err := ber.CheckDefinite(field); err != nil {
		return nil, nil, false
	}
	if !field.ReadASN1(&certsField, cbasn1.Tag(0).Constructed().ContextSpecific()) {
		return nil, nil, false
	}
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddBytes(oidElem)
		b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddBytes(before)
				b.AddBytes(sd) // crls, signerInfos: as they are
			})
		})
	})
	out, err := b.Bytes()
	if err != nil {
		return nil, nil, false
	}
	return out, certsField, true
}
