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

// FromCryptoInfos reads what CryptoInfos wrote (other attributes are
// ignored); OCSP answers come back as BasicOCSPResponse wrapped again in
// a successful OCSPResponse, as Check reads them.
func FromCryptoInfos(der []byte) (*Bundle, error) {
	b := &Bundle{}
	if der == nil {
		return b, nil
	}
	in := cryptobyte.String(der)
	var attrs cryptobyte.String
	if !in.ReadASN1(&attrs, cbasn1.Tag(0).ContextSpecific().Constructed()) || !in.Empty() {
		return nil, fmt.Errorf("validation: malformed cryptoInfos")
	}
	elements := func(s cryptobyte.String) ([][]byte, bool) {
		var out [][]byte
		for !s.Empty() {
			var e cryptobyte.String
			if !s.ReadASN1Element(&e, cbasn1.SEQUENCE) {
				return nil, false
			}
			out = append(out, e)
		}
		return out, true
	}
	for !attrs.Empty() {
		var attr, values cryptobyte.String
		var oid asn1.ObjectIdentifier
		if !attrs.ReadASN1(&attr, cbasn1.SEQUENCE) || !attr.ReadASN1ObjectIdentifier(&oid) || !attr.ReadASN1(&values, cbasn1.SET) {
			return nil, fmt.Errorf("validation: malformed cryptoInfos attribute")
		}
		var seq cryptobyte.String
		switch {
		case oid.Equal(OIDCertValues):
			if !values.ReadASN1(&seq, cbasn1.SEQUENCE) {
				return nil, fmt.Errorf("validation: malformed certValues")
			}
			certs, ok := elements(seq)
			if !ok {
				return nil, fmt.Errorf("validation: malformed certValues")
			}
			b.Certs = addUnique(b.Certs, certs...)
		case oid.Equal(OIDRevocationValues):
			if !values.ReadASN1(&seq, cbasn1.SEQUENCE) {
				return nil, fmt.Errorf("validation: malformed revocationValues")
			}
			var crlVals, ocspVals, inner cryptobyte.String
			var has bool
			if !seq.ReadOptionalASN1(&crlVals, &has, cbasn1.Tag(0).ContextSpecific().Constructed()) {
				return nil, fmt.Errorf("validation: malformed crlVals")
			}
			if has {
				if !crlVals.ReadASN1(&inner, cbasn1.SEQUENCE) {
					return nil, fmt.Errorf("validation: malformed crlVals")
				}
				crls, ok := elements(inner)
				if !ok {
					return nil, fmt.Errorf("validation: malformed crlVals")
				}
				b.CRLs = addUnique(b.CRLs, crls...)
			}
			if !seq.ReadOptionalASN1(&ocspVals, &has, cbasn1.Tag(1).ContextSpecific().Constructed()) {
				return nil, fmt.Errorf("validation: malformed ocspVals")
			}
			if has {
				if !ocspVals.ReadASN1(&inner, cbasn1.SEQUENCE) {
					return nil, fmt.Errorf("validation: malformed ocspVals")
				}
				basics, ok := elements(inner)
				if !ok {
					return nil, fmt.Errorf("validation: malformed ocspVals")
				}
				for _, basic := range basics {
					b.OCSP = addUnique(b.OCSP, wrapOCSP(basic))
				}
			}
		}
	}
	return b, nil
}

// wrapOCSP is the successful OCSPResponse holding a BasicOCSPResponse.
func wrapOCSP(basic []byte) []byte {
	var c cryptobyte.Builder
	c.AddASN1(cbasn1.SEQUENCE, func(c *cryptobyte.Builder) {
		c.AddASN1Enum(0)
		c.AddASN1(cbasn1.Tag(0).ContextSpecific().Constructed(), func(c *cryptobyte.Builder) {
			c.AddASN1(cbasn1.SEQUENCE, func(c *cryptobyte.Builder) {
				c.AddASN1ObjectIdentifier(asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 1})
				c.AddASN1OctetString(basic)
			})
		})
	})
	return c.BytesOrPanic()
}
