package sip

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"github.com/conserva/conserva/internal/ber"
	"io"
	"math/big"
	"time"

	"github.com/conserva/conserva/timestamp"
	"github.com/smallstep/pkcs7"
)

// oidSignatureTimeStampToken is id-aa-signatureTimeStampToken (RFC 3161
// appendix A, ETSI EN 319 122-1 §5.3): the unsigned attribute that makes a
// CAdES-BES signature CAdES-T.
var oidSignatureTimeStampToken = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 14}

// SignT makes a CAdES-T signature: the CAdES-BES detached signature of
// Sign, then one RFC 3161 request whose imprint is SHA-256 of the
// SignerInfo's signature value octets (ETSI EN 319 122-1 §5.3), the token
// added as the unsigned attribute id-aa-signatureTimeStampToken. It
// returns the final DER and the token (whose Response is the TSA's answer
// as received). One signature, one TSA request.
func (s *Signer) SignT(ctx context.Context, content []byte, tsa timestamp.Authority) ([]byte, timestamp.Token, error) {
	return s.SignTDigest(ctx, sha256.Sum256(content), tsa)
}

// SignTDigest is SignT over the content whose SHA-256 is digest: the
// same signature, without the content in memory.
func (s *Signer) SignTDigest(ctx context.Context, digest [sha256.Size]byte, tsa timestamp.Authority) ([]byte, timestamp.Token, error) {
	sd, err := s.signedData(digest)
	if err != nil {
		return nil, timestamp.Token{}, err
	}
	si := &sd.GetSignedData().SignerInfos[0]
	tok, err := tsa.Timestamp(ctx, si.EncryptedDigest)
	if err != nil {
		return nil, timestamp.Token{}, fmt.Errorf("signature timestamp: %w", err)
	}
	if len(tok.TokenDER) == 0 {
		return nil, timestamp.Token{}, errors.New("signature timestamp: the TSA's answer holds no token")
	}
	// Unsigned attributes are outside the signature: adding the token now
	// leaves the signed bytes as they were.
	attr := pkcs7.Attribute{Type: oidSignatureTimeStampToken, Value: asn1.RawValue{FullBytes: tok.TokenDER}}
	if err := si.SetUnauthenticatedAttributes([]pkcs7.Attribute{attr}); err != nil {
		return nil, timestamp.Token{}, fmt.Errorf("signature timestamp: %w", err)
	}
	der, err := sd.Finish()
	if err != nil {
		return nil, timestamp.Token{}, err
	}
	return der, tok, nil
}

// Verified is a CAdES signature checked against pinned roots.
type Verified struct {
	Signer      *x509.Certificate
	Chain       []*x509.Certificate // signer .. root (root from signerRoots)
	SigningTime time.Time           // signed attribute (zero if absent)
	Timestamp   *timestamp.Verified // the signature timestamp; nil for CAdES-BES (no token)
}

// CMS structures (RFC 5652), read strictly and only to reach the bytes the
// checks need; the signature itself is checked by smallstep/pkcs7.
type cmsContentInfo struct {
	ContentType asn1.ObjectIdentifier
	Content     asn1.RawValue `asn1:"explicit,tag:0"`
}

type cmsSignedData struct {
	Version          int
	DigestAlgorithms asn1.RawValue
	EncapContentInfo struct {
		EContentType asn1.ObjectIdentifier
		EContent     asn1.RawValue `asn1:"optional,explicit,tag:0"`
	}
	Certificates asn1.RawValue   `asn1:"optional,tag:0"`
	CRLs         asn1.RawValue   `asn1:"optional,tag:1"`
	SignerInfos  []cmsSignerInfo `asn1:"set"`
}

type cmsSignerInfo struct {
	Version            int
	SID                asn1.RawValue
	DigestAlgorithm    pkix.AlgorithmIdentifier
	SignedAttrs        asn1.RawValue `asn1:"optional,tag:0"`
	SignatureAlgorithm pkix.AlgorithmIdentifier
	Signature          []byte
	UnsignedAttrs      asn1.RawValue `asn1:"optional,tag:1"`
}

type cmsAttribute struct {
	Type   asn1.ObjectIdentifier
	Values []asn1.RawValue `asn1:"set"`
}

// signingCertificateV2In reads SigningCertificateV2 (RFC 5035) with every
// optional field, as other producers write it.
type signingCertificateV2In struct {
	Certs    []essCertIDv2In
	Policies asn1.RawValue `asn1:"optional"`
}

type essCertIDv2In struct {
	HashAlgorithm pkix.AlgorithmIdentifier `asn1:"optional"`
	CertHash      []byte
	IssuerSerial  struct {
		Issuer asn1.RawValue // GeneralNames
		Serial *big.Int
	} `asn1:"optional"`
}

var (
	oidData        = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}
	oidSignedData  = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}
	oidContentType = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 3}
	oidSigningTime = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 5}
	oidSHA256      = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
	oidSHA384      = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 2}
	oidSHA512      = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 3}
)

// VerifyCAdES checks a detached CAdES signature over content: the CMS
// signature and messageDigest, signing-certificate-v2 naming the signer
// certificate, the signer's chain to signerRoots (certificates in the p7s
// serve only as intermediates) judged at the signature timestamp's time,
// else at signingTime; and, when the signature carries a
// signatureTimeStampToken, that token over the signature value against
// tsaRoots. Any failure is an error naming its cause.
//
// An unsigned attribute can be stripped without breaking the signature: a
// caller that expects CAdES-T must require Verified.Timestamp != nil.
func VerifyCAdES(ctx context.Context, p7s, content []byte, signerRoots, tsaRoots *x509.CertPool) (*Verified, error) {
	return verifyCAdES(ctx, p7s, content, nil, signerRoots, tsaRoots)
}

// VerifyCAdESFrom is VerifyCAdES over content read as a stream from open
// (an index of 100,000 messages is 145 MB: never held). It also returns
// the SHA-256 of the bytes it read, so that a caller reading them again
// can tell they are the ones whose signature was checked. The signature
// must have signed attributes (CAdES always has).
func VerifyCAdESFrom(ctx context.Context, p7s []byte, open func() (io.ReadCloser, error), signerRoots, tsaRoots *x509.CertPool) (*Verified, [sha256.Size]byte, error) {
	h := &streamHasher{open: open}
	v, err := verifyCAdES(ctx, p7s, nil, h, signerRoots, tsaRoots)
	if err == nil && !h.done {
		err = errors.New("signature: the content was not hashed")
	}
	return v, h.sum, err
}

// streamHasher gives pkcs7 the digest of content read from open, and
// keeps its SHA-256.
type streamHasher struct {
	open func() (io.ReadCloser, error)
	sum  [sha256.Size]byte
	done bool
}

func (h *streamHasher) Hash(f crypto.Hash, _ io.Reader) ([]byte, error) {
	if !f.Available() {
		return nil, fmt.Errorf("hash function %v not available", f)
	}
	rc, err := h.open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	d, s := f.New(), sha256.New()
	if _, err := io.Copy(io.MultiWriter(d, s), rc); err != nil {
		return nil, err
	}
	copy(h.sum[:], s.Sum(nil))
	h.done = true
	return d.Sum(nil), nil
}

func verifyCAdES(ctx context.Context, p7s, content []byte, hasher *streamHasher, signerRoots, tsaRoots *x509.CertPool) (*Verified, error) {
	if signerRoots == nil || signerRoots.Equal(x509.NewCertPool()) {
		return nil, errors.New("signature: no signer roots configured to judge it against")
	}
	si, err := parseSignerInfo(p7s)
	if err != nil {
		return nil, err
	}
	// Badly nested BER makes pkcs7.Parse work for seconds.
	if _, err := ber.Check(p7s); err != nil {
		return nil, fmt.Errorf("signature: not a CMS SignedData: %w", err)
	}
	p7, err := pkcs7.Parse(p7s)
	if err != nil {
		return nil, fmt.Errorf("signature: not a CMS SignedData: %w", err)
	}
	signer := p7.GetOnlySigner()
	if signer == nil {
		return nil, errors.New("signature: the signer's certificate is not in the signature")
	}
	p7.Content = content
	if hasher != nil {
		// Without signed attributes the signature is over the content
		// itself, which pkcs7 needs in memory.
		if len(p7.Signers) == 0 || len(p7.Signers[0].AuthenticatedAttributes) == 0 {
			return nil, errors.New("signature: no signed attributes (not CAdES)")
		}
		p7.Hasher = hasher
	}
	if err := p7.Verify(); err != nil {
		var mismatch *pkcs7.MessageDigestMismatchError
		var outside *pkcs7.SigningTimeNotValidError
		switch {
		case errors.As(err, &mismatch):
			return nil, errors.New("signature does not match content")
		case errors.As(err, &outside):
			return nil, fmt.Errorf("signature: signingTime outside the signer certificate's validity: %w", err)
		}
		return nil, fmt.Errorf("signature value invalid: %w", err)
	}
	signed, err := attributes(si.SignedAttrs.Bytes, true)
	if err != nil {
		return nil, fmt.Errorf("signature: signed attributes: %w", err)
	}
	if err := checkSignedAttributes(signed, signer); err != nil {
		return nil, err
	}
	v := &Verified{Signer: signer}
	if st, ok := signed[oidSigningTime.String()]; ok {
		if _, err := asn1.Unmarshal(st[0].FullBytes, &v.SigningTime); err != nil {
			return nil, fmt.Errorf("signature: signingTime: %w", err)
		}
	}
	unsigned, err := attributes(si.UnsignedAttrs.Bytes, false)
	if err != nil {
		return nil, fmt.Errorf("signature: unsigned attributes: %w", err)
	}
	if tokens := unsigned[oidSignatureTimeStampToken.String()]; len(tokens) > 0 {
		if len(tokens) > 1 {
			return nil, errors.New("signature timestamp: more than one signatureTimeStampToken")
		}
		if v.Timestamp, err = timestamp.VerifyToken(ctx, tokens[0].FullBytes, si.Signature, tsaRoots); err != nil {
			return nil, fmt.Errorf("signature timestamp: %w", err)
		}
	}
	at, when := time.Now(), "now (no signature timestamp, no signingTime)"
	switch {
	case v.Timestamp != nil:
		at, when = v.Timestamp.Time, "at the signature timestamp's time"
	case !v.SigningTime.IsZero():
		at, when = v.SigningTime, "at signingTime (no signature timestamp)"
	}
	if v.Chain, err = chainTo(signer, p7.Certificates, signerRoots, at); err != nil {
		return nil, fmt.Errorf("%w, judged %s %s", err, when, at.UTC().Format(time.RFC3339))
	}
	return v, nil
}

// parseSignerInfo reads the single SignerInfo of a CMS SignedData, refusing
// anything but one signer and trailing bytes.
func parseSignerInfo(p7s []byte) (*cmsSignerInfo, error) {
	var ci cmsContentInfo
	if rest, err := asn1.Unmarshal(p7s, &ci); err != nil || len(rest) != 0 {
		return nil, fmt.Errorf("signature: not a DER CMS ContentInfo (%v, %d trailing bytes)", err, len(rest))
	}
	if !ci.ContentType.Equal(oidSignedData) {
		return nil, fmt.Errorf("signature: content type %v is not SignedData", ci.ContentType)
	}
	var sd cmsSignedData
	if rest, err := asn1.Unmarshal(ci.Content.Bytes, &sd); err != nil || len(rest) != 0 {
		return nil, fmt.Errorf("signature: malformed SignedData (%v, %d trailing bytes)", err, len(rest))
	}
	if !sd.EncapContentInfo.EContentType.Equal(oidData) {
		return nil, fmt.Errorf("signature: encapsulated content type %v is not id-data", sd.EncapContentInfo.EContentType)
	}
	if len(sd.SignerInfos) != 1 {
		return nil, fmt.Errorf("signature: %d signers, want exactly one", len(sd.SignerInfos))
	}
	si := sd.SignerInfos[0]
	if alg := si.DigestAlgorithm.Algorithm; !alg.Equal(oidSHA256) && !alg.Equal(oidSHA384) && !alg.Equal(oidSHA512) {
		return nil, fmt.Errorf("signature: digest algorithm %v is not SHA-256, SHA-384 or SHA-512", alg)
	}
	if len(si.SignedAttrs.Bytes) == 0 {
		return nil, errors.New("signature: no signed attributes (not CAdES)")
	}
	return &si, nil
}

// attributes reads a SET OF Attribute by type. Signed attributes must each
// appear once with one value (RFC 5652 §11, ETSI EN 319 122-1); unsigned
// ones may repeat, each value is returned.
func attributes(raw []byte, signed bool) (map[string][]asn1.RawValue, error) {
	out := map[string][]asn1.RawValue{}
	for len(raw) > 0 {
		var a cmsAttribute
		rest, err := asn1.Unmarshal(raw, &a)
		if err != nil {
			return nil, err
		}
		raw = rest
		if len(a.Values) == 0 {
			return nil, fmt.Errorf("attribute %v has no value", a.Type)
		}
		key := a.Type.String()
		if signed && (len(a.Values) != 1 || len(out[key]) > 0) {
			return nil, fmt.Errorf("attribute %v must appear once with one value", a.Type)
		}
		out[key] = append(out[key], a.Values...)
	}
	return out, nil
}

// checkSignedAttributes checks contentType and that signing-certificate-v2
// names the certificate the signature was verified with (so the signer
// cannot be swapped for another certificate with the same key).
func checkSignedAttributes(attrs map[string][]asn1.RawValue, signer *x509.Certificate) error {
	ct, ok := attrs[oidContentType.String()]
	var ctype asn1.ObjectIdentifier
	if !ok {
		return errors.New("signature: no contentType signed attribute")
	}
	if _, err := asn1.Unmarshal(ct[0].FullBytes, &ctype); err != nil || !ctype.Equal(oidData) {
		return fmt.Errorf("signature: contentType signed attribute %v is not id-data (%v)", ctype, err)
	}
	raw, ok := attrs[oidSigningCertificateV2.String()]
	if !ok {
		return errors.New("signature: no signing-certificate-v2 signed attribute (not CAdES)")
	}
	var scv2 signingCertificateV2In
	if _, err := asn1.Unmarshal(raw[0].FullBytes, &scv2); err != nil || len(scv2.Certs) == 0 {
		return fmt.Errorf("signature: malformed signing-certificate-v2 (%v)", err)
	}
	id := scv2.Certs[0]
	hash := crypto.SHA256 // the DEFAULT of ESSCertIDv2
	switch alg := id.HashAlgorithm.Algorithm; {
	case alg == nil || alg.Equal(oidSHA256):
	case alg.Equal(oidSHA384):
		hash = crypto.SHA384
	case alg.Equal(oidSHA512):
		hash = crypto.SHA512
	default:
		return fmt.Errorf("signature: signing-certificate-v2 uses unsupported hash %v", alg)
	}
	h := hash.New()
	h.Write(signer.Raw)
	if !bytes.Equal(h.Sum(nil), id.CertHash) {
		return errors.New("signature: signing-certificate-v2 does not name the signer's certificate")
	}
	if id.IssuerSerial.Serial != nil {
		if id.IssuerSerial.Serial.Cmp(signer.SerialNumber) != 0 || !namesIssuer(id.IssuerSerial.Issuer.Bytes, signer.RawIssuer) {
			return errors.New("signature: signing-certificate-v2 issuerSerial does not name the signer's certificate")
		}
	}
	return nil
}

// namesIssuer says whether GeneralNames (content octets) holds issuer as a
// directoryName.
func namesIssuer(generalNames, issuer []byte) bool {
	for len(generalNames) > 0 {
		var gn asn1.RawValue
		rest, err := asn1.Unmarshal(generalNames, &gn)
		if err != nil {
			return false
		}
		generalNames = rest
		if gn.Class == asn1.ClassContextSpecific && gn.Tag == 4 && bytes.Equal(gn.Bytes, issuer) {
			return true
		}
	}
	return false
}

// chainTo builds cert's chain to roots at time at; others are only
// candidate intermediates.
func chainTo(cert *x509.Certificate, others []*x509.Certificate, roots *x509.CertPool, at time.Time) ([]*x509.Certificate, error) {
	inter := x509.NewCertPool()
	for _, c := range others {
		if !c.Equal(cert) {
			inter.AddCert(c)
		}
	}
	chains, err := cert.Verify(x509.VerifyOptions{
		Roots: roots, Intermediates: inter, CurrentTime: at,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	if err == nil {
		return chains[0], nil
	}
	var unknown x509.UnknownAuthorityError
	var invalid x509.CertificateInvalidError
	switch {
	case errors.As(err, &unknown):
		return nil, fmt.Errorf("signer not issued under the configured signer roots (%v)", err)
	case errors.As(err, &invalid) && invalid.Reason == x509.Expired:
		return nil, fmt.Errorf("signer certificate not valid (%v)", err)
	}
	return nil, fmt.Errorf("signer certificate rejected (%v)", err)
}

// CheckSigner says, before anything is signed, whether the signer's key
// matches its certificate and its chain reaches signerRoots at now (not
// expired, not yet valid or issued elsewhere).
func (s *Signer) CheckSigner(signerRoots *x509.CertPool, now time.Time) error {
	if signerRoots == nil || signerRoots.Equal(x509.NewCertPool()) {
		return errors.New("signer: no signer roots configured")
	}
	if s.Cert == nil || s.Key == nil {
		return errors.New("signer: no certificate or key")
	}
	if pub, ok := s.Key.Public().(interface{ Equal(crypto.PublicKey) bool }); !ok || !pub.Equal(s.Cert.PublicKey) {
		return errors.New("signer: the key does not belong to the certificate")
	}
	if _, err := chainTo(s.Cert, s.Chain, signerRoots, now); err != nil {
		return fmt.Errorf("%w, judged at %s", err, now.UTC().Format(time.RFC3339))
	}
	return nil
}
