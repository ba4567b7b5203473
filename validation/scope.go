package validation

import (
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"slices"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

var oidExpiredCertsOnCRL = asn1.ObjectIdentifier{2, 5, 29, 60}

// crlScope says whether crl, already known to be issued and signed by c's
// issuer, is complete revocation information for c. A CA may split its
// revocations over several CRLs (RFC 5280 §5.2.5, issuing distribution
// point): one for CA certificates only, one per distribution point, one per
// reason, or an indirect CRL about another issuer's certificates. Such a
// CRL that does not list c says nothing about c, so it covers c only when
// its scope is c's: the partition named in c's distribution points (or no
// partition at all), for c's kind of certificate, for every reason (RFC
// 5280 §6.3.3 b). And a CA may drop a revoked certificate from its CRLs
// once the certificate has expired (§3.3): a CRL issued after c's
// notAfter covers c only if it says it keeps expired certificates
// (expiredCertsOnCRL, X.509 §9.6.2.9) from before then.
func crlScope(crl *x509.RevocationList, c *x509.Certificate) error {
	var kept time.Time // from when expired certificates stay listed
	var keptErr error  // it matters only for a CRL issued after c expired
	for _, e := range crl.Extensions {
		switch {
		case e.Id.Equal(oidIssuingDistributionPoint):
			if err := idpCovers(e.Value, c); err != nil {
				return err
			}
		case e.Id.Equal(oidExpiredCertsOnCRL):
			if rest, err := asn1.UnmarshalWithParams(e.Value, &kept, "generalized"); err != nil || len(rest) != 0 {
				keptErr = errors.New("the CRL's expiredCertsOnCRL cannot be read")
			}
		}
	}
	if !crl.ThisUpdate.After(c.NotAfter) {
		return nil
	}
	if keptErr != nil {
		return keptErr
	}
	if kept.IsZero() || kept.After(c.NotAfter) {
		return fmt.Errorf("the CRL was issued on %s, after the certificate expired (%s), and need not list it any more",
			crl.ThisUpdate.UTC().Format(time.RFC3339), c.NotAfter.UTC().Format(time.RFC3339))
	}
	return nil
}

// idpCovers reads an issuingDistributionPoint extension (RFC 5280
// §5.2.5) and says whether its scope includes c.
func idpCovers(der []byte, c *x509.Certificate) error {
	bad := errors.New("the CRL's issuing distribution point cannot be read")
	in := cryptobyte.String(der)
	var seq cryptobyte.String
	if !in.ReadASN1(&seq, cbasn1.SEQUENCE) || !in.Empty() {
		return bad
	}
	var dp cryptobyte.String
	var hasDP bool
	if !seq.ReadOptionalASN1(&dp, &hasDP, cbasn1.Tag(0).ContextSpecific().Constructed()) {
		return bad
	}
	flag := func(tag uint8) (bool, bool) {
		var v cryptobyte.String
		var has bool
		if !seq.ReadOptionalASN1(&v, &has, cbasn1.Tag(tag).ContextSpecific()) {
			return false, false
		}
		if !has {
			return false, true
		}
		return len(v) == 1 && v[0] != 0, len(v) == 1
	}
	onlyUser, ok1 := flag(1)
	onlyCA, ok2 := flag(2)
	var reasons cryptobyte.String
	var someReasons bool
	ok3 := seq.ReadOptionalASN1(&reasons, &someReasons, cbasn1.Tag(3).ContextSpecific())
	indirect, ok4 := flag(4)
	onlyAttr, ok5 := flag(5)
	if !ok1 || !ok2 || !ok3 || !ok4 || !ok5 || !seq.Empty() {
		return bad
	}
	switch {
	case indirect:
		return errors.New("the CRL is an indirect CRL (about certificates of other issuers too): not taken as the issuer's own")
	case someReasons:
		return errors.New("the CRL lists only some revocation reasons (onlySomeReasons): not complete revocation information")
	case onlyAttr:
		return errors.New("the CRL lists only attribute certificates")
	case onlyCA && !c.IsCA:
		return errors.New("the CRL lists only CA certificates, and this one is not a CA")
	case onlyUser && c.IsCA:
		return errors.New("the CRL lists only end-entity certificates, and this one is a CA")
	}
	if !hasDP {
		return nil
	}
	names, ok := fullNameURIs(dp)
	if !ok {
		return errors.New("the CRL's distribution point is not named by URLs: its partition cannot be matched to the certificate")
	}
	for _, n := range names {
		if slices.Contains(c.CRLDistributionPoints, n) {
			return nil
		}
	}
	return fmt.Errorf("the CRL is the partition %v, not one the certificate points to (%v)", names, c.CRLDistributionPoints)
}

// fullNameURIs reads a DistributionPointName's fullName and returns its
// URIs; false when it is a name relative to the CRL issuer or unreadable.
func fullNameURIs(dp cryptobyte.String) ([]string, bool) {
	var full cryptobyte.String
	if !dp.ReadASN1(&full, cbasn1.Tag(0).ContextSpecific().Constructed()) || !dp.Empty() {
		return nil, false
	}
	var out []string
	for !full.Empty() {
		var v cryptobyte.String
		var tag cbasn1.Tag
		if !full.ReadAnyASN1(&v, &tag) {
			return nil, false
		}
		if tag == cbasn1.Tag(6).ContextSpecific() {
			out = append(out, string(v))
		}
	}
	return out, len(out) > 0
}
