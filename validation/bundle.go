package validation

import (
	"crypto/sha256"
	"encoding/asn1"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// Bundle is the validation data of one or more chains, each item DER.
type Bundle struct {
	Certs [][]byte // X.509 certificates
	CRLs  [][]byte // X.509 CRLs (RFC 5280 CertificateList)
	OCSP  [][]byte // OCSPResponse (RFC 6960)
}

// Directories of the files of a bundle, under a package's validation/.
const (
	CertsDir = "certs/"
	CRLsDir  = "crls/"
	OCSPDir  = "ocsp/"
)

// Add puts other's items into b, once each.
func (b *Bundle) Add(other *Bundle) {
	if other == nil {
		return
	}
	b.Certs = addUnique(b.Certs, other.Certs...)
	b.CRLs = addUnique(b.CRLs, other.CRLs...)
	b.OCSP = addUnique(b.OCSP, other.OCSP...)
}

func addUnique(list [][]byte, items ...[]byte) [][]byte {
	for _, it := range items {
		dup := false
		for _, have := range list {
			if string(have) == string(it) {
				dup = true
				break
			}
		}
		if !dup {
			list = append(list, it)
		}
	}
	return list
}

// Empty says whether b holds nothing.
func (b *Bundle) Empty() bool {
	return b == nil || len(b.Certs)+len(b.CRLs)+len(b.OCSP) == 0
}

// Files names each item by its SHA-256 (certs/<sha256>.cer,
// crls/<sha256>.crl, ocsp/<sha256>.der): write-once names, so a later
// fetch never replaces an earlier one.
func (b *Bundle) Files() map[string][]byte {
	out := map[string][]byte{}
	put := func(dir, ext string, items [][]byte) {
		for _, it := range items {
			s := sha256.Sum256(it)
			out[dir+hex.EncodeToString(s[:])+ext] = it
		}
	}
	put(CertsDir, ".cer", b.Certs)
	put(CRLsDir, ".crl", b.CRLs)
	put(OCSPDir, ".der", b.OCSP)
	return out
}

// FromFiles is the bundle of files named as Files names them (a name
// elsewhere is an error: the archive never writes one).
func FromFiles(files map[string][]byte) (*Bundle, error) {
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	b := &Bundle{}
	for _, n := range names {
		switch {
		case strings.HasPrefix(n, CertsDir) && strings.HasSuffix(n, ".cer"):
			b.Certs = append(b.Certs, files[n])
		case strings.HasPrefix(n, CRLsDir) && strings.HasSuffix(n, ".crl"):
			b.CRLs = append(b.CRLs, files[n])
		case strings.HasPrefix(n, OCSPDir) && strings.HasSuffix(n, ".der"):
			b.OCSP = append(b.OCSP, files[n])
		default:
			return nil, fmt.Errorf("%.200q is not a validation file name", n)
		}
	}
	return b, nil
}

// The CAdES attributes (RFC 5126 §6.3.3, §6.3.4) that carry certificates
// and revocation values; an evidence record's cryptoInfos holds them.
var (
	OIDCertValues       = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 23}
	OIDRevocationValues = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 24}
)

// CryptoInfos encodes b as the cryptoInfos field of an RFC 4998
// EvidenceRecord ([0] IMPLICIT SEQUENCE OF Attribute): a certValues
// attribute (SEQUENCE OF Certificate) and a revocationValues attribute
// (crlVals [0], ocspVals [1]: the BasicOCSPResponse of each answer). It
// returns nil when b is empty.
func (b *Bundle) CryptoInfos() ([]byte, error) {
	if b.Empty() {
		return nil, nil
	}
	var c cryptobyte.Builder
	c.AddASN1(cbasn1.Tag(0).ContextSpecific().Constructed(), func(c *cryptobyte.Builder) {
		if len(b.Certs) > 0 {
			attribute(c, OIDCertValues, func(c *cryptobyte.Builder) {
				c.AddASN1(cbasn1.SEQUENCE, func(c *cryptobyte.Builder) {
					for _, cert := range b.Certs {
						c.AddBytes(cert)
					}
				})
			})
		}
		if len(b.CRLs)+len(b.OCSP) > 0 {
			attribute(c, OIDRevocationValues, func(c *cryptobyte.Builder) {
				c.AddASN1(cbasn1.SEQUENCE, func(c *cryptobyte.Builder) {
					if len(b.CRLs) > 0 {
						c.AddASN1(cbasn1.Tag(0).ContextSpecific().Constructed(), func(c *cryptobyte.Builder) {
							c.AddASN1(cbasn1.SEQUENCE, func(c *cryptobyte.Builder) {
								for _, crl := range b.CRLs {
									c.AddBytes(crl)
								}
							})
						})
					}
					if len(b.OCSP) > 0 {
						c.AddASN1(cbasn1.Tag(1).ContextSpecific().Constructed(), func(c *cryptobyte.Builder) {
							c.AddASN1(cbasn1.SEQUENCE, func(c *cryptobyte.Builder) {
								for _, o := range b.OCSP {
									basic, err := basicOCSP(o)
									if err != nil {
										c.SetError(err)
										return
									}
									c.AddBytes(basic)
								}
							})
						})
					}
				})
			})
		}
	})
	return c.Bytes()
}

func attribute(c *cryptobyte.Builder, oid asn1.ObjectIdentifier, value func(*cryptobyte.Builder)) {
	c.AddASN1(cbasn1.SEQUENCE, func(c *cryptobyte.Builder) {
		c.AddASN1ObjectIdentifier(oid)
		c.AddASN1(cbasn1.SET, value)
	})
}

// basicOCSP cuts the BasicOCSPResponse out of an OCSPResponse:
// SEQUENCE { responseStatus, [0] EXPLICIT SEQUENCE { responseType, response OCTET STRING } }.
func basicOCSP(resp []byte) ([]byte, error) {
	in := cryptobyte.String(resp)
	var body, bytesField, rb cryptobyte.String
	var status int
	var typ asn1.ObjectIdentifier
	var basic cryptobyte.String
	if !in.ReadASN1(&body, cbasn1.SEQUENCE) ||
		!body.ReadASN1Enum(&status) ||
		!body.ReadASN1(&bytesField, cbasn1.Tag(0).ContextSpecific().Constructed()) ||
		!bytesField.ReadASN1(&rb, cbasn1.SEQUENCE) ||
		!rb.ReadASN1ObjectIdentifier(&typ) ||
		!rb.ReadASN1(&basic, cbasn1.OCTET_STRING) {
		return nil, fmt.Errorf("validation: malformed OCSP response")
	}
	return basic, nil
}
