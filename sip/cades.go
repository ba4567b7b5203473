// Package sip builds preservation packages: the UNI 11386 SInCRO index,
// the per-document metadata, and the CAdES-BES signature over the index.
package sip

import (
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
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
	sd, err := s.signedData(sha256.Sum256(content))
	if err != nil {
		return nil, err
	}
	return sd.Finish()
}

// signedData signs the content whose SHA-256 is digest (the one signature
// of a CAdES signature) and returns the detached SignedData not yet
// encoded, so that unsigned attributes can still be added.
//
// pkcs7 hashes the content itself, which must then be held: 145 MB for
// the index of a package of 100,000 messages, and as much again for its
// copy. So pkcs7 lays out the SignerInfo of no content, with a key that
// does not sign; its messageDigest attribute is then replaced by digest
// and the signed attributes, encoded as pkcs7 encodes them, signed once
// with the real key: the same structure and bytes as signing the content.
// (Both digests are 32 bytes: the attributes' DER order stays.)
func (s *Signer) signedData(digest [sha256.Size]byte) (*pkcs7.SignedData, error) {
	sd, err := pkcs7.NewSignedData(nil)
	if err != nil {
		return nil, err
	}
	sd.SetDigestAlgorithm(pkcs7.OIDDigestAlgorithmSHA256)
	cfg := pkcs7.SignerInfoConfig{ExtraSignedAttributes: []pkcs7.Attribute{signingCertificate(s.Cert)}}
	if err := sd.AddSignerChain(s.Cert, layoutKey{s.Key.Public()}, s.Chain[1:], cfg); err != nil {
		return nil, fmt.Errorf("signing: %w", err)
	}
	sd.Detach()
	si := &sd.GetSignedData().SignerInfos[0]
	md, err := asn1.Marshal(digest[:])
	if err != nil {
		return nil, err
	}
	attrs := make([]signedAttribute, len(si.AuthenticatedAttributes))
	found := false
	for i, a := range si.AuthenticatedAttributes {
		if a.Type.Equal(pkcs7.OIDAttributeMessageDigest) {
			a.Value = asn1.RawValue{Tag: asn1.TagSet, IsCompound: true, Bytes: md}
			si.AuthenticatedAttributes[i].Value, found = a.Value, true
		}
		attrs[i] = signedAttribute{Type: a.Type, Value: a.Value}
	}
	if !found {
		return nil, errors.New("signing: pkcs7 made no messageDigest attribute")
	}
	// As pkcs7 signs them: the DER SET OF the attributes, hashed.
	enc, err := asn1.Marshal(struct {
		A []signedAttribute `asn1:"set"`
	}{attrs})
	if err != nil {
		return nil, err
	}
	var set asn1.RawValue
	if _, err := asn1.Unmarshal(enc, &set); err != nil {
		return nil, err
	}
	sum := sha256.Sum256(set.Bytes)
	if si.EncryptedDigest, err = s.Key.Sign(rand.Reader, sum[:], crypto.SHA256); err != nil {
		return nil, fmt.Errorf("signing: %w", err)
	}
	return sd, nil
}

// signingCertificate is the signing-certificate-v2 attribute naming cert.
func signingCertificate(cert *x509.Certificate) pkcs7.Attribute {
	h := sha256.Sum256(cert.Raw)
	return pkcs7.Attribute{Type: oidSigningCertificateV2, Value: signingCertificateV2{Certs: []essCertIDv2{{
		CertHash: h[:],
		IssuerSerial: issuerSerial{
			Issuer: []asn1.RawValue{{Class: asn1.ClassContextSpecific, Tag: 4, IsCompound: true, Bytes: cert.RawIssuer}},
			Serial: cert.SerialNumber,
		},
	}}}}
}

// layoutKey stands for the signer's key while pkcs7 lays out a SignerInfo:
// it has its public key (which names the algorithm) and signs nothing.
type layoutKey struct{ pub crypto.PublicKey }

func (k layoutKey) Public() crypto.PublicKey { return k.pub }

func (layoutKey) Sign(io.Reader, []byte, crypto.SignerOpts) ([]byte, error) { return nil, nil }

// signedAttribute is an Attribute as pkcs7 encodes it.
type signedAttribute struct {
	Type  asn1.ObjectIdentifier
	Value asn1.RawValue `asn1:"set"`
}
