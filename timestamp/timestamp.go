// Package timestamp obtains RFC 3161 timestamps: from a TSA over HTTP, or
// from the development TSA built in (no legal value). Every response is
// checked before it is accepted: status, message imprint, nonce, the
// token's signature and the TSA certificate's critical timeStamping EKU.
package timestamp

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"github.com/notaryproject/tspclient-go"
)

// Authority stamps content.
type Authority interface {
	// Timestamp returns the DER TimeStampResp for SHA-256(content), as the
	// TSA sent it, and the time it certifies.
	Timestamp(ctx context.Context, content []byte) (Token, error)
	// TimestampDigest stamps a precomputed digest (see digest.go).
	DigestAuthority
	// Name says which TSA this is, for reports.
	Name() string
}

// Token is an accepted timestamp.
type Token struct {
	Response []byte    // DER TimeStampResp, byte for byte as received
	TokenDER []byte    // the TimeStampToken (CMS ContentInfo) inside Response, as received
	Time     time.Time // genTime
	Chain    []*x509.Certificate
}

// request makes an RFC 3161 request for SHA-256(content) with a nonce and
// certReq.
func request(content []byte) (*tspclient.Request, []byte, error) {
	req, err := tspclient.NewRequest(tspclient.RequestOptions{Content: content, HashAlgorithm: crypto.SHA256})
	if err != nil {
		return nil, nil, err
	}
	der, err := req.MarshalBinary()
	return req, der, err
}

// accept checks a response against its request. roots, when given, must
// anchor the TSA's chain; without them the token's own certificates are
// used, which proves the signature and the EKU but not who the TSA is.
func accept(ctx context.Context, req *tspclient.Request, der []byte, roots *x509.CertPool) (Token, error) {
	var resp tspclient.Response
	if err := resp.UnmarshalBinary(der); err != nil {
		return Token{}, fmt.Errorf("timestamp response: %w", err)
	}
	if err := resp.Validate(req); err != nil {
		return Token{}, fmt.Errorf("timestamp response rejected: %w", err)
	}
	token, chain, err := verifyToken(ctx, &resp, roots)
	if err != nil {
		return Token{}, err
	}
	info, err := token.Info()
	if err != nil {
		return Token{}, err
	}
	if len(chain) == 0 {
		return Token{}, errors.New("timestamp token: no TSA certificate")
	}
	return Token{Response: der, TokenDER: resp.TimestampToken.FullBytes, Time: info.GenTime, Chain: chain}, nil
}

// Parse reads a stored TimeStampResp without judging it: its time and the
// certificates it carries (used when resuming an interrupted seal).
func Parse(der []byte) (Token, error) {
	var resp tspclient.Response
	if err := resp.UnmarshalBinary(der); err != nil {
		return Token{}, fmt.Errorf("timestamp response: %w", err)
	}
	token, err := resp.SignedToken()
	if err != nil {
		return Token{}, err
	}
	info, err := token.Info()
	if err != nil {
		return Token{}, err
	}
	return Token{Response: der, TokenDER: resp.TimestampToken.FullBytes, Time: info.GenTime, Chain: token.Certificates}, nil
}

// verifyToken checks the token's signature and its TSA certificate (the
// critical timeStamping EKU) against roots, or against the certificates the
// token carries when roots is nil.
func verifyToken(ctx context.Context, resp *tspclient.Response, roots *x509.CertPool) (*tspclient.SignedToken, []*x509.Certificate, error) {
	token, err := resp.SignedToken()
	if err != nil {
		return nil, nil, fmt.Errorf("timestamp response: %w", err)
	}
	if roots == nil {
		roots = x509.NewCertPool()
		for _, c := range token.Certificates {
			roots.AddCert(c)
		}
	}
	chain, err := token.Verify(ctx, x509.VerifyOptions{Roots: roots})
	if err != nil {
		return nil, nil, fmt.Errorf("timestamp token rejected: %w", err)
	}
	return token, chain, nil
}
