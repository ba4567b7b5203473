package pec

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/smallstep/pkcs7"
)

// Verdict is the one-word judgement of a signature.
type Verdict string

const (
	Valid     Verdict = "valid"     // signature and chain hold at signing time
	Invalid   Verdict = "invalid"   // tampered, broken, truncated, or certificate not valid at signing time
	Untrusted Verdict = "untrusted" // mathematically fine, but no path to a trust anchor
	Absent    Verdict = "absent"    // no signature at all
)

// Time sources for the moment a signature is judged at.
const (
	TimeFromSigningTime = "signingTime" // the CMS signed attribute
	TimeFromDaticert    = "daticert"    // the daticert data/giorno/ora, when signingTime is missing
	TimeFromNow         = "now"         // neither is there: judged at verification time
)

// Verification is the result of checking a message's provider signature.
type Verification struct {
	Verdict       Verdict    `json:"signature"`
	Reason        string     `json:"reason"`
	Signer        string     `json:"signer"`
	SignerEmail   string     `json:"signer_email,omitempty"`
	SignedAt      *time.Time `json:"signed_at"`
	TimeSource    string     `json:"time_source,omitempty"`
	Chain         []string   `json:"chain,omitempty"`  // signer first, anchor last
	Legacy        []string   `json:"legacy,omitempty"` // legacy algorithms accepted under the legacy policy
	Canonicalized bool       `json:"canonicalized,omitempty"`
	Form          string     `json:"signature_form,omitempty"` // multipart/signed or application/pkcs7-mime

	// ReadErr is set when the message could not be read while verifying:
	// the verdict then says nothing, and the caller reports an error.
	ReadErr error `json:"-"`

	SignerCert   *x509.Certificate   `json:"-"`
	Certificates []*x509.Certificate `json:"-"` // all certificates the CMS carries
}

var errNoSigners = errors.New("no signer in the SignedData")

func errPanic(r any) error { return fmt.Errorf("malformed structure (%v)", r) }

// Verify judges the provider signature of m against the trust anchors (nil
// means none: never a silent valid). It never panics.
func (m *Message) Verify(trust *TrustStore) (v Verification) {
	defer func() {
		if r := recover(); r != nil {
			v = Verification{Verdict: Invalid, Reason: fmt.Sprintf("signature could not be checked: %v", errPanic(r))}
		}
	}()
	s := m.sig
	if s == nil {
		return Verification{Verdict: Absent, Reason: "no S/MIME signature"}
	}
	v.Form = s.form
	if s.problem != "" {
		v.Verdict, v.Reason = Invalid, s.problem
		return v
	}
	p7 := s.p7
	v.Certificates = p7.Certificates
	signer := signerCert(p7)
	if signer == nil {
		v.Verdict, v.Reason = Invalid, "the signer's certificate is not in the signature"
		return v
	}
	v.SignerCert = signer
	v.Signer = certName(signer)
	if len(signer.EmailAddresses) > 0 {
		v.SignerEmail = strings.ToLower(signer.EmailAddresses[0])
	}

	at, source := m.signingTime(p7)
	v.TimeSource = source
	if source != TimeFromNow {
		v.SignedAt = &at
	}

	if err := checkContent(p7, s, &v); err != nil {
		v.Verdict, v.Reason = Invalid, err.Error()
		var re *ReadError
		if errors.As(err, &re) {
			v.ReadErr = re
		}
		return v
	}
	if digestIsSHA1(p7) {
		v.Legacy = append(v.Legacy, "SHA-1 message digest")
	}
	if !validAt(signer, at) {
		v.Verdict = Invalid
		v.Reason = fmt.Sprintf("signer certificate %q was not valid at %s (%s): valid %s to %s",
			v.Signer, at.UTC().Format(time.RFC3339), source,
			signer.NotBefore.UTC().Format(time.RFC3339), signer.NotAfter.UTC().Format(time.RFC3339))
		return v
	}
	if trust.Len() == 0 {
		v.Verdict, v.Reason = Untrusted, "signature matches the content, but no trust anchors are configured (use --trust)"
		v.Legacy = append(v.Legacy, legacyNotes([]*x509.Certificate{signer}, trust)...)
		return v
	}
	res := buildChain(signer, p7.Certificates, trust, at)
	switch {
	case res.path != nil:
		for _, c := range res.path {
			v.Chain = append(v.Chain, certName(c))
		}
		v.Legacy = append(v.Legacy, legacyNotes(res.path, trust)...)
		v.Verdict = Valid
		v.Reason = fmt.Sprintf("signature matches the content; chain to trust anchor %q valid at %s (%s)",
			v.Chain[len(v.Chain)-1], at.UTC().Format(time.RFC3339), source)
		if len(v.Legacy) > 0 {
			v.Reason += "; legacy algorithms accepted: " + strings.Join(v.Legacy, ", ")
		}
	case res.expired != nil:
		v.Verdict = Invalid
		v.Reason = fmt.Sprintf("certificate %q on the path to the trust anchor was not valid at %s (%s)",
			certName(res.expired), at.UTC().Format(time.RFC3339), source)
	case res.gaveUp:
		v.Verdict = Untrusted
		v.Reason = fmt.Sprintf("signature matches the content, but the search for a path from %q (issuer %q) to a trust anchor gave up after %d candidate issuers (the signature carries %d certificates)",
			v.Signer, signer.Issuer.CommonName, maxChainChecks, len(p7.Certificates))
	default:
		v.Verdict = Untrusted
		v.Reason = fmt.Sprintf("signature matches the content, but no path leads from %q (issuer %q) to a trust anchor",
			v.Signer, signer.Issuer.CommonName)
	}
	if source == TimeFromNow && v.Verdict == Valid {
		v.Reason += "; the signature has no signing time and there is no daticert time: judged at verification time"
	}
	return v
}

// checkContent verifies the message digest and the signature over the exact
// signed bytes, read in a stream. A detached content stored with bare LF
// line endings (as many tools export it) is retried in canonical CRLF form,
// as OpenSSL does in text mode; the stored bytes never change.
func checkContent(p7 *pkcs7.PKCS7, s *signature, v *Verification) error {
	err := verifyContent(p7, s, false)
	var mismatch *pkcs7.MessageDigestMismatchError
	if errors.As(err, &mismatch) && s.form == "multipart/signed" && s.content.hasBareLF() {
		if err = verifyContent(p7, s, true); err == nil {
			v.Canonicalized = true
		}
	}
	var badTime *pkcs7.SigningTimeNotValidError
	var readErr *ReadError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &readErr):
		return readErr
	case errors.As(err, &mismatch):
		return errors.New("the content does not match the signature: it was altered after signing")
	case errors.As(err, &badTime):
		return fmt.Errorf("signed at %s, outside the signer certificate's validity (%s to %s)",
			badTime.SigningTime.UTC().Format(time.RFC3339),
			badTime.NotBefore.UTC().Format(time.RFC3339), badTime.NotAfter.UTC().Format(time.RFC3339))
	}
	return fmt.Errorf("the signature does not verify: %s", strings.TrimPrefix(err.Error(), "pkcs7: "))
}

// verifyContent runs pkcs7's verification with the signed content hashed
// from its span. Without signed attributes the signature is over the
// content itself, which pkcs7 then needs in memory: read it, within the
// size limit (such signatures are rare: every PEC provider signs attributes).
func verifyContent(p7 *pkcs7.PKCS7, s *signature, crlf bool) error {
	saved := p7.Content
	defer func() { p7.Content, p7.Hasher = saved, nil }()
	p7.Hasher = spanHasher{s: s.content, crlf: crlf}
	if len(p7.Signers) > 0 && len(p7.Signers[0].AuthenticatedAttributes) == 0 {
		b, err := s.content.bytes(s.content.n)
		if err != nil {
			return err
		}
		if crlf {
			b = toCRLF(b)
		}
		p7.Content = b
	}
	return p7.Verify()
}

// signingTime returns the instant a signature is judged at and where it came
// from: the signed signingTime attribute, else the daticert time.
func (m *Message) signingTime(p7 *pkcs7.PKCS7) (time.Time, string) {
	var t time.Time
	if err := p7.UnmarshalSignedAttribute(pkcs7.OIDAttributeSigningTime, &t); err == nil && !t.IsZero() {
		return t, TimeFromSigningTime
	}
	if m.Daticert != nil && !m.Daticert.Data.IsZero() {
		return m.Daticert.Data, TimeFromDaticert
	}
	return time.Now(), TimeFromNow
}

// signerCert finds the first signer's certificate by issuer and serial.
func signerCert(p7 *pkcs7.PKCS7) *x509.Certificate {
	if c := p7.GetOnlySigner(); c != nil {
		return c
	}
	if len(p7.Signers) == 0 {
		return nil
	}
	ias := p7.Signers[0].IssuerAndSerialNumber
	for _, c := range p7.Certificates {
		if c.SerialNumber.Cmp(ias.SerialNumber) == 0 && bytes.Equal(c.RawIssuer, ias.IssuerName.FullBytes) {
			return c
		}
	}
	return nil
}

func digestIsSHA1(p7 *pkcs7.PKCS7) bool {
	for _, s := range p7.Signers {
		if s.DigestAlgorithm.Algorithm.Equal(pkcs7.OIDDigestAlgorithmSHA1) {
			return true
		}
	}
	return false
}

// toCRLF turns every bare LF into CRLF (S/MIME canonical form).
func toCRLF(b []byte) []byte {
	out := make([]byte, 0, len(b)+len(b)/32)
	for i, c := range b {
		if c == '\n' && (i == 0 || b[i-1] != '\r') {
			out = append(out, '\r')
		}
		out = append(out, c)
	}
	return out
}
