package validation

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"golang.org/x/crypto/ocsp"
)

// Unavailable is revocation information a certificate points to that could
// not be obtained (unreachable, not signed by the issuer, expired).
type Unavailable struct {
	Cert  *x509.Certificate
	Where string // the URLs tried
	Err   error
}

func (u Unavailable) Error() string {
	return fmt.Sprintf("no revocation information for %s from %s: %v", Name(u.Cert), u.Where, u.Err)
}

// Name says which certificate this is, in one line.
func Name(c *x509.Certificate) string {
	return fmt.Sprintf("certificate %q (serial %s, issued by %q)", c.Subject.CommonName, c.SerialNumber.Text(16), c.Issuer.CommonName)
}

// Collect gathers the validation data of chain (leaf first, as built to a
// pinned root): every certificate, and for each but a self-signed root the
// CRL of one of its http distribution points (the first that answers with
// a CRL signed by its issuer and not expired at now), else an OCSP answer
// from its responder when it names only that. What could not be obtained
// is returned beside the bundle; whether that is fatal is the caller's
// decision. Revocation itself is judged by Check.
func Collect(ctx context.Context, f Fetcher, chain []*x509.Certificate, now time.Time) (*Bundle, []Unavailable) {
	b := &Bundle{}
	var missing []Unavailable
	for i, c := range chain {
		b.Certs = addUnique(b.Certs, c.Raw)
		if i == len(chain)-1 {
			break // the pinned root (or the pinned end of a partial chain)
		}
		issuer := chain[i+1]
		urls := httpURLs(c.CRLDistributionPoints)
		switch {
		case len(urls) > 0:
			var errs []error
			for _, u := range urls {
				crl, err := fetchCRL(ctx, f, u, c, issuer, now)
				if err == nil {
					b.CRLs = addUnique(b.CRLs, crl)
					errs = nil
					break
				}
				errs = append(errs, err)
			}
			if errs != nil {
				missing = append(missing, Unavailable{Cert: c, Where: strings.Join(urls, ", "), Err: errors.Join(errs...)})
			}
		case len(httpURLs(c.OCSPServer)) > 0:
			urls := httpURLs(c.OCSPServer)
			resp, err := fetchOCSP(ctx, f, urls[0], c, issuer, now)
			if err != nil {
				missing = append(missing, Unavailable{Cert: c, Where: urls[0], Err: err})
				continue
			}
			b.OCSP = addUnique(b.OCSP, resp)
		}
	}
	return b, missing
}

func httpURLs(list []string) []string {
	var out []string
	for _, u := range list {
		if strings.HasPrefix(strings.ToLower(u), "http://") {
			out = append(out, u)
		}
	}
	return out
}

func fetchCRL(ctx context.Context, f Fetcher, url string, c, issuer *x509.Certificate, now time.Time) ([]byte, error) {
	der, err := f.Get(ctx, url)
	if err != nil {
		return nil, err
	}
	crl, err := x509.ParseRevocationList(der)
	if err != nil {
		return nil, fmt.Errorf("%s: not a CRL: %w", url, err)
	}
	if err := crlFrom(crl, issuer); err != nil {
		return nil, fmt.Errorf("%s: %w", url, err)
	}
	if !crl.NextUpdate.IsZero() && crl.NextUpdate.Before(now) {
		return nil, fmt.Errorf("%s: the CRL expired at %s (nextUpdate)", url, crl.NextUpdate.UTC().Format(time.RFC3339))
	}
	if err := crlScope(crl, c); err != nil {
		return nil, fmt.Errorf("%s: %w", url, err)
	}
	return der, nil
}

// crlFrom says whether crl is issued and signed by issuer.
func crlFrom(crl *x509.RevocationList, issuer *x509.Certificate) error {
	if !bytes.Equal(crl.RawIssuer, issuer.RawSubject) {
		return fmt.Errorf("the CRL is issued by %q, not by %q", crl.Issuer.CommonName, issuer.Subject.CommonName)
	}
	if err := crl.CheckSignatureFrom(issuer); err != nil {
		return fmt.Errorf("the CRL is not signed by its issuer %q: %w", issuer.Subject.CommonName, err)
	}
	// A delta CRL lists only the latest revocations, and a critical
	// extension not understood here may narrow the CRL likewise: neither
	// says "not revoked" (RFC 5280 §5.2, §5.2.4). The issuing distribution
	// point is the one critical extension of a full CRL kept.
	for _, e := range crl.Extensions {
		if e.Id.Equal(oidDeltaCRLIndicator) || e.Critical && !e.Id.Equal(oidIssuingDistributionPoint) {
			return fmt.Errorf("the CRL of %q carries the extension %v (a delta CRL, or one not understood): not complete revocation information", issuer.Subject.CommonName, e.Id)
		}
	}
	return nil
}

var (
	oidDeltaCRLIndicator        = asn1.ObjectIdentifier{2, 5, 29, 27}
	oidIssuingDistributionPoint = asn1.ObjectIdentifier{2, 5, 29, 28}
)

func fetchOCSP(ctx context.Context, f Fetcher, url string, c, issuer *x509.Certificate, now time.Time) ([]byte, error) {
	req, err := ocsp.CreateRequest(c, issuer, nil)
	if err != nil {
		return nil, err
	}
	resp, err := f.Post(ctx, url, "application/ocsp-request", req)
	if err != nil {
		return nil, err
	}
	r, err := ocspFor(resp, c, issuer)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", url, err)
	}
	if !r.NextUpdate.IsZero() && r.NextUpdate.Before(now) {
		// A replayed old answer: it may predate a revocation.
		return nil, fmt.Errorf("%s: the OCSP answer expired at %s (nextUpdate)", url, r.NextUpdate.UTC().Format(time.RFC3339))
	}
	return resp, nil
}

// ocspFor reads raw as issuer's answer about c. ParseResponseForCert
// takes any certificate issuer signed as the responder; RFC 6960
// §4.2.2.2 wants the issuer itself or one it delegated OCSP signing to,
// else anyone holding a leaf of the same CA could answer "good".
func ocspFor(raw []byte, c, issuer *x509.Certificate) (*ocsp.Response, error) {
	r, err := ocsp.ParseResponseForCert(raw, c, issuer)
	if err != nil {
		return nil, err
	}
	if r.Certificate != nil && !bytes.Equal(r.Certificate.Raw, issuer.Raw) &&
		!slices.Contains(r.Certificate.ExtKeyUsage, x509.ExtKeyUsageOCSPSigning) {
		return nil, fmt.Errorf("the OCSP answer is signed by %q, to which %q did not delegate OCSP signing", r.Certificate.Subject.CommonName, issuer.Subject.CommonName)
	}
	return r, nil
}

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
