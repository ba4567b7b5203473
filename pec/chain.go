package pec

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"fmt"
	"time"
)

const maxChainLength = 8

// maxChainChecks bounds the candidate issuers one path search examines
// (each may cost a signature check). Certificates sharing one name and one
// key issue each other, so a signature carrying a few dozen of them would
// make a search through every ordering run for hours; real PEC chains need
// a handful of checks.
const maxChainChecks = 1000

// chainResult is the outcome of building a path from the signer to an anchor.
type chainResult struct {
	path []*x509.Certificate // signer first, anchor last; nil when none
	// expired is the first certificate found on an otherwise good path that
	// was not valid at the checked time.
	expired *x509.Certificate
	// gaveUp: the search stopped after maxChainChecks candidates.
	gaveUp bool
}

// buildChain searches a path from leaf to a trust anchor, checking every
// link with parent.CheckSignature (which, unlike x509.Verify, accepts the
// SHA-1 certificate signatures of real 2014 PEC chains) and every
// certificate's validity at the given time: a PEC is judged when it was
// signed, not today.
func buildChain(leaf *x509.Certificate, pool []*x509.Certificate, trust *TrustStore, at time.Time) chainResult {
	var res chainResult
	candidates := append(append([]*x509.Certificate(nil), pool...), trust.Anchors()...)
	checks := 0
	issuedBy := func(p, c *x509.Certificate) bool {
		if !bytes.Equal(p.RawSubject, c.RawIssuer) {
			return false // no signature to check: not counted
		}
		if checks >= maxChainChecks {
			res.gaveUp = true
			return false
		}
		checks++
		return trust.issued(p, c)
	}
	var walk func(c *x509.Certificate, path []*x509.Certificate) bool
	walk = func(c *x509.Certificate, path []*x509.Certificate) bool {
		path = append(path, c)
		if !validAt(c, at) {
			if trust.isAnchor(c) || reachesAnchor(c, candidates, trust, len(path), issuedBy) {
				if res.expired == nil {
					res.expired = c
				}
			}
			return false
		}
		if trust.isAnchor(c) {
			res.path = append([]*x509.Certificate(nil), path...)
			return true
		}
		if len(path) >= maxChainLength {
			return false
		}
		for _, p := range candidates {
			if res.gaveUp {
				return false
			}
			if onPath(p, path) || !issuedBy(p, c) {
				continue
			}
			if walk(p, path) {
				return true
			}
		}
		return false
	}
	walk(leaf, nil)
	return res
}

// reachesAnchor says whether some path (ignoring validity) leads from c to an
// anchor; used only to tell "expired on the way to an anchor" (invalid) from
// "no way to an anchor at all" (untrusted).
func reachesAnchor(c *x509.Certificate, candidates []*x509.Certificate, trust *TrustStore, depth int, issued func(p, c *x509.Certificate) bool) bool {
	if trust.isAnchor(c) {
		return true
	}
	if depth >= maxChainLength {
		return false
	}
	for _, p := range candidates {
		if p != c && issued(p, c) && reachesAnchor(p, candidates, trust, depth+1, issued) {
			return true
		}
	}
	return false
}

// issued says whether parent is a CA that signed child.
func issued(parent, child *x509.Certificate) bool {
	if !bytes.Equal(parent.RawSubject, child.RawIssuer) {
		return false
	}
	// A v1 certificate has no basic constraints: old roots are like that.
	if parent.Version >= 3 && (!parent.BasicConstraintsValid || !parent.IsCA) {
		return false
	}
	return parent.CheckSignature(child.SignatureAlgorithm, child.RawTBSCertificate, child.Signature) == nil
}

func validAt(c *x509.Certificate, t time.Time) bool {
	return !t.Before(c.NotBefore) && !t.After(c.NotAfter)
}

func onPath(c *x509.Certificate, path []*x509.Certificate) bool {
	for _, p := range path {
		if p.Equal(c) {
			return true
		}
	}
	return false
}

// legacyNotes names the algorithms of a path that today's policy would
// refuse but that were the norm when real PEC messages were signed.
func legacyNotes(path []*x509.Certificate, trust *TrustStore) []string {
	var notes []string
	for _, c := range path {
		name := certName(c)
		// The anchor's own signature is not checked: it is trusted as given.
		if !trust.isAnchor(c) {
			switch c.SignatureAlgorithm {
			case x509.SHA1WithRSA, x509.ECDSAWithSHA1, x509.DSAWithSHA1:
				notes = append(notes, fmt.Sprintf("certificate %q signed with %s", name, c.SignatureAlgorithm))
			case x509.MD5WithRSA, x509.MD2WithRSA:
				notes = append(notes, fmt.Sprintf("certificate %q signed with %s", name, c.SignatureAlgorithm))
			}
		}
		if k, ok := c.PublicKey.(*rsa.PublicKey); ok && k.N.BitLen() < 2048 {
			notes = append(notes, fmt.Sprintf("certificate %q has an RSA-%d key", name, k.N.BitLen()))
		}
		if k, ok := c.PublicKey.(*ecdsa.PublicKey); ok && k.Curve.Params().BitSize < 256 {
			notes = append(notes, fmt.Sprintf("certificate %q has a %d-bit EC key", name, k.Curve.Params().BitSize))
		}
	}
	return notes
}

// certName is a short, readable name for a certificate.
func certName(c *x509.Certificate) string {
	if c.Subject.CommonName != "" {
		return c.Subject.CommonName
	}
	return c.Subject.String()
}
