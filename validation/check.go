package validation

import (
	"crypto/x509"
	"fmt"
	"strings"
	"time"

	"golang.org/x/crypto/ocsp"
)

// Finding is what Check says against one certificate of a chain.
type Finding struct {
	Cert *x509.Certificate
	// Revoked: the certificate was revoked at or before the time checked.
	Revoked bool
	Problem string
}

func (f Finding) String() string { return Name(f.Cert) + ": " + f.Problem }

// Check judges chain (leaf first, built to a pinned root by the caller:
// trust never comes from the bundle) at time at, with only what b holds:
// every certificate of the chain must be in b, and each one but the last
// that points to revocation information (CRL distribution point or OCSP
// responder) must have it in b, issued by its issuer in chain, and not
// revoked at at. A CRL or OCSP answer revoking it after at does not count
// against it: what was signed before a revocation stays signed. No
// finding means the chain's validation data are complete and say "not
// revoked at at".
func Check(b *Bundle, chain []*x509.Certificate, at time.Time) []Finding {
	if b == nil {
		b = &Bundle{}
	}
	var out []Finding
	bad := func(c *x509.Certificate, revoked bool, format string, args ...any) {
		out = append(out, Finding{Cert: c, Revoked: revoked, Problem: fmt.Sprintf(format, args...)})
	}
	var crls []*x509.RevocationList
	var crlSums []string
	for _, der := range b.CRLs {
		crl, err := x509.ParseRevocationList(der)
		if err != nil {
			out = append(out, Finding{Cert: chain[0], Problem: fmt.Sprintf("the stored CRL %s cannot be read: %v", sum(der), err)})
			continue
		}
		crls, crlSums = append(crls, crl), append(crlSums, sum(der))
	}
	for i, c := range chain {
		if !contains(b.Certs, c.Raw) {
			bad(c, false, "missing from the validation data")
		}
		if i == len(chain)-1 {
			break
		}
		issuer := chain[i+1]
		covered, judged := false, false
		var outOfScope []string
		for n, crl := range crls {
			if string(crl.RawIssuer) != string(issuer.RawSubject) {
				continue
			}
			if err := crlFrom(crl, issuer); err != nil {
				bad(c, false, "the stored CRL %s: %v", crlSums[n], err)
				judged = true
				continue
			}
			for _, e := range crl.RevokedCertificateEntries {
				if e.SerialNumber.Cmp(c.SerialNumber) == 0 && !e.RevocationTime.After(at) {
					bad(c, true, "revoked at %s, before %s (CRL %s of %q)", e.RevocationTime.UTC().Format(time.RFC3339),
						at.UTC().Format(time.RFC3339), crlSums[n], issuer.Subject.CommonName)
					judged = true
				}
			}
			// A CRL speaks for at if it was current then or issued after
			// it; one without nextUpdate (RFC 5280 §5.1.2.5 wants it)
			// only if issued at or after at: nothing says how long an
			// older one held.
			if !crl.NextUpdate.IsZero() && crl.NextUpdate.Before(at) || crl.NextUpdate.IsZero() && crl.ThisUpdate.Before(at) {
				continue
			}
			if err := crlScope(crl, c); err != nil {
				outOfScope = append(outOfScope, fmt.Sprintf("CRL %s: %v", crlSums[n], err))
				continue
			}
			covered = true
		}
		for _, raw := range b.OCSP {
			r, err := ocspFor(raw, c, issuer)
			if err != nil {
				continue // an answer about another certificate
			}
			switch {
			case r.Status == ocsp.Revoked && !r.RevokedAt.After(at):
				bad(c, true, "revoked at %s, before %s (OCSP answer %s)", r.RevokedAt.UTC().Format(time.RFC3339), at.UTC().Format(time.RFC3339), sum(raw))
				judged = true
			case r.Status == ocsp.Revoked, r.Status == ocsp.Good && (r.NextUpdate.IsZero() || !r.NextUpdate.Before(at)):
				// A good answer covers at only while it is current, as a CRL.
				covered = true
			}
		}
		offers := len(httpURLs(c.CRLDistributionPoints))+len(httpURLs(c.OCSPServer)) > 0
		if offers && !covered && !judged {
			why := ""
			if len(outOfScope) > 0 {
				why = " (" + strings.Join(outOfScope, "; ") + ")"
			}
			bad(c, false, "no revocation information in the validation data (it names %v)%s", append(c.CRLDistributionPoints, c.OCSPServer...), why)
		}
	}
	return out
}

func contains(list [][]byte, b []byte) bool {
	for _, v := range list {
		if string(v) == string(b) {
			return true
		}
	}
	return false
}
