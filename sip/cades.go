// Package sip builds preservation packages: the UNI 11386 SInCRO index,
// the per-document metadata, and the CAdES-BES signature over the index.
package sip

import (
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"os"

	"github.com/smallstep/pkcs7"
	"software.sslmate.com/src/go-pkcs12"
)

// Signer signs package indexes: the responsabile della conservazione's key.
type Signer struct {
	Cert  *x509.Certificate
	Key   crypto.Signer
	Chain []*x509.Certificate // Cert first
}

// LoadPKCS12 reads a signer from a .p12 file.
func LoadPKCS12(path, password string) (*Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("signer: %w", err)
	}
	key, cert, cas, err := pkcs12.DecodeChain(data, password)
	if err != nil {
		return nil, fmt.Errorf("signer %s: %w", path, err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, errors.New("signer: the PKCS#12 key cannot sign")
	}
	return &Signer{Cert: cert, Key: signer, Chain: append([]*x509.Certificate{cert}, cas...)}, nil
}

// oidSigningCertificateV2 is id-aa-signingCertificateV2 (RFC 5035).
var oidSigningCertificateV2 = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 47}

type signingCertificateV2 struct {
	Certs []essCertIDv2
}

// essCertIDv2 leaves hashAlgorithm out: its DEFAULT is SHA-256.
type essCertIDv2 struct {
	CertHash     []byte
	IssuerSerial issuerSerial
}

type issuerSerial struct {
	Issuer []asn1.RawValue // GeneralNames, with the issuer as a directoryName
	Serial *big.Int
}

// Sign makes a detached CMS SignedData (DER) over content with SHA-256 and
// the signed attributes contentType, messageDigest, signingTime and
// signing-certificate-v2, which make it CAdES-BES; the chain is included.
func (s *Signer) Sign(content []byte) ([]byte, error) {
	sd, err := s.signedData(content)
	if err != nil {
		return nil, err
	}
	return sd.Finish()
}

// signedData signs content (the one signature of a CAdES signature) and
// returns the detached SignedData not yet encoded, so that unsigned
// attributes can still be added.
func (s *Signer) signedData(content []byte) (*pkcs7.SignedData, error) {
	sd, err := pkcs7.NewSignedData(content)
	if err != nil {
		return nil, err
	}
	sd.SetDigestAlgorithm(pkcs7.OIDDigestAlgorithmSHA256)
	h := sha256.Sum256(s.Cert.Raw)
	scv2 := signingCertificateV2{Certs: []essCertIDv2{{
		CertHash: h[:],
		IssuerSerial: issuerSerial{
			Issuer: []asn1.RawValue{{Class: asn1.ClassContextSpecific, Tag: 4, IsCompound: true, Bytes: s.Cert.RawIssuer}},
			Serial: s.Cert.SerialNumber,
		},
	}}}
	cfg := pkcs7.SignerInfoConfig{ExtraSignedAttributes: []pkcs7.Attribute{{Type: oidSigningCertificateV2, Value: scv2}}}
	if err := sd.AddSignerChain(s.Cert, s.Key, s.Chain[1:], cfg); err != nil {
		return nil, fmt.Errorf("signing: %w", err)
	}
	sd.Detach()
	return sd, nil
}
