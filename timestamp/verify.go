package timestamp

import (
	"context"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"time"

	"github.com/notaryproject/tspclient-go"
)

// Verified is a timestamp token checked against pinned roots.
type Verified struct {
	Time   time.Time           // genTime
	TSA    *x509.Certificate   // the token's signer
	Chain  []*x509.Certificate // TSA .. root, the root taken from the given pool
	Policy asn1.ObjectIdentifier
}

// VerifyResponse checks a stored DER TimeStampResp over content against
// roots; see VerifyToken.
func VerifyResponse(ctx context.Context, der, content []byte, roots *x509.CertPool) (*Verified, error) {
	var resp tspclient.Response
	rest, err := asn1.Unmarshal(der, &resp)
	if err != nil {
		return nil, fmt.Errorf("timestamp response: %w", err)
	}
	if len(rest) != 0 {
		return nil, errors.New("timestamp response: trailing data after the TimeStampResp")
	}
	if err := resp.Status.Err(); err != nil {
		return nil, fmt.Errorf("timestamp response: the TSA did not grant it: %w", err)
	}
	if len(resp.TimestampToken.FullBytes) == 0 {
		return nil, errors.New("timestamp response: no token")
	}
	return VerifyToken(ctx, resp.TimestampToken.FullBytes, content, roots)
}

// VerifyToken checks a TimeStampToken (a CMS ContentInfo, as embedded in a
// CAdES-T signature) over content: the token's signature, the TSA
// certificate's single critical timeStamping EKU, the chain from the TSA
// to one of roots built and checked at genTime, and that the imprint is
// the hash of content under the algorithm the token names. Certificates
// carried in the token serve only as intermediates: trust comes from roots
// alone, which must not be empty.
func VerifyToken(ctx context.Context, token, content []byte, roots *x509.CertPool) (*Verified, error) {
	if roots == nil || roots.Equal(x509.NewCertPool()) {
		return nil, errors.New("timestamp: no TSA roots configured to judge the token against")
	}
	signed, err := tspclient.ParseSignedToken(token)
	if err != nil {
		return nil, fmt.Errorf("timestamp token: %w", err)
	}
	// The time is read before the signature is checked only to pick the
	// moment the chain is judged at; nothing is returned unless it verifies.
	info, err := signed.Info()
	if err != nil {
		return nil, fmt.Errorf("timestamp token: %w", err)
	}
	chain, err := signed.Verify(ctx, x509.VerifyOptions{Roots: roots, CurrentTime: info.GenTime})
	if err != nil {
		return nil, tokenError(err, info.GenTime)
	}
	if _, err := info.Validate(content); err != nil {
		return nil, fmt.Errorf("timestamp token: not over the given content: %w", err)
	}
	return &Verified{Time: info.GenTime, TSA: chain[0], Chain: chain, Policy: info.Policy}, nil
}

// tokenError names why a token was refused in the words an auditor needs.
func tokenError(err error, at time.Time) error {
	var unknown x509.UnknownAuthorityError
	var invalid x509.CertificateInvalidError
	switch {
	case errors.As(err, &unknown):
		return fmt.Errorf("TSA not under the configured TSA roots: %w", err)
	case errors.As(err, &invalid) && invalid.Reason == x509.Expired:
		return fmt.Errorf("TSA certificate not valid at the token's time %s: %w", at.UTC().Format(time.RFC3339), err)
	}
	return fmt.Errorf("timestamp token rejected: %w", err)
}
