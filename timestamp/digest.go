package timestamp

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"

	"github.com/notaryproject/tspclient-go"

	"github.com/conserva/conserva/internal/redact"
)

// Digest OIDs (RFC 5754). Requests carry them WITHOUT parameters: RFC 5754
// says SHA-2 identifiers omit them, and RFC 4998 verifiers (Bouncy Castle)
// compare the identifiers of one chain byte for byte. tspclient-go would
// add a NULL, so digest requests are built here.
var digestOIDs = map[crypto.Hash]asn1.ObjectIdentifier{
	crypto.SHA256: {2, 16, 840, 1, 101, 3, 4, 2, 1},
	crypto.SHA384: {2, 16, 840, 1, 101, 3, 4, 2, 2},
	crypto.SHA512: {2, 16, 840, 1, 101, 3, 4, 2, 3},
}

// DigestOID is the object identifier of h (SHA-256, SHA-384 or SHA-512).
func DigestOID(h crypto.Hash) (asn1.ObjectIdentifier, bool) {
	oid, ok := digestOIDs[h]
	return oid, ok
}

// HashOf is the hash an algorithm identifier names, if supported.
func HashOf(alg pkix.AlgorithmIdentifier) (crypto.Hash, bool) {
	for h, oid := range digestOIDs {
		if oid.Equal(alg.Algorithm) {
			return h, true
		}
	}
	return 0, false
}

// DigestAuthority stamps a digest computed by the caller: the token's
// messageImprint is digest itself, under algorithm h (RFC 4998 archive
// timestamps stamp a hash-tree root this way).
type DigestAuthority interface {
	TimestampDigest(ctx context.Context, h crypto.Hash, digest []byte) (Token, error)
}

// digestRequest makes an RFC 3161 request for a precomputed digest, with a
// nonce, certReq and an AlgorithmIdentifier without parameters.
func digestRequest(h crypto.Hash, digest []byte) (*tspclient.Request, []byte, error) {
	oid, ok := digestOIDs[h]
	if !ok {
		return nil, nil, fmt.Errorf("timestamp: unsupported digest algorithm %v", h)
	}
	if len(digest) != h.Size() {
		return nil, nil, fmt.Errorf("timestamp: %v digest of %d bytes, want %d", h, len(digest), h.Size())
	}
	nonce, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 159))
	if err != nil {
		return nil, nil, err
	}
	req := &tspclient.Request{
		Version:        1,
		MessageImprint: tspclient.MessageImprint{HashAlgorithm: pkix.AlgorithmIdentifier{Algorithm: oid}, HashedMessage: bytes.Clone(digest)},
		Nonce:          nonce,
		CertReq:        true,
	}
	der, err := req.MarshalBinary()
	return req, der, err
}

// acceptDigest checks a response to a digest request like accept does. A
// TSA may echo the algorithm with a NULL parameter (RFC 5754 lets
// verifiers accept both forms); anything else must match exactly.
func acceptDigest(ctx context.Context, req *tspclient.Request, der []byte, roots *x509.CertPool) (Token, error) {
	var resp tspclient.Response
	if err := resp.UnmarshalBinary(der); err != nil {
		return Token{}, fmt.Errorf("timestamp response: %w", err)
	}
	check := *req
	if token, err := resp.SignedToken(); err == nil {
		if info, err := token.Info(); err == nil {
			p := info.MessageImprint.HashAlgorithm.Parameters
			if len(p.FullBytes) == 0 || bytes.Equal(p.FullBytes, []byte{asn1.TagNull, 0}) {
				check.MessageImprint.HashAlgorithm.Parameters = p
			}
		}
	}
	tok, err := accept(ctx, &check, der, roots)
	if err != nil {
		return Token{}, err
	}
	if _, err := tok.TimeStampToken(); err != nil {
		return Token{}, err
	}
	return tok, nil
}

// TimestampDigest stamps a precomputed digest in process.
func (d *Dev) TimestampDigest(ctx context.Context, h crypto.Hash, digest []byte) (Token, error) {
	req, der, err := digestRequest(h, digest)
	if err != nil {
		return Token{}, err
	}
	resp, err := d.Respond(der)
	if err != nil {
		return Token{}, err
	}
	return acceptDigest(ctx, req, resp, d.roots())
}

// TimestampDigest asks the TSA to stamp a precomputed digest.
func (h *HTTP) TimestampDigest(ctx context.Context, alg crypto.Hash, digest []byte) (Token, error) {
	req, der, err := digestRequest(alg, digest)
	if err != nil {
		return Token{}, err
	}
	body, err := h.post(ctx, der)
	if err != nil {
		return Token{}, err
	}
	tok, err := acceptDigest(ctx, req, body, h.Roots)
	if err != nil {
		return Token{}, fmt.Errorf("TSA %s: %w", redact.URL(h.URL), err)
	}
	return tok, nil
}

// TimeStampToken is the token's ContentInfo (RFC 3161 TimeStampToken), the
// bytes an RFC 4998 ArchiveTimeStamp embeds and later timestamps hash. It
// must be DER, since verifiers hash its DER encoding: a BER token is
// refused rather than re-encoded.
func (t Token) TimeStampToken() ([]byte, error) {
	if len(t.TokenDER) == 0 {
		return nil, errors.New("timestamp response: no token")
	}
	if err := CheckDER(t.TokenDER); err != nil {
		return nil, fmt.Errorf("timestamp token is not DER: %w", err)
	}
	return t.TokenDER, nil
}

// CheckDER checks that b is one DER element: definite minimal lengths
// throughout, and no constructed string types (BER's chunked strings).
func CheckDER(b []byte) error {
	rest, err := checkDER(b, 0)
	if err != nil {
		return err
	}
	if len(rest) != 0 {
		return errors.New("trailing data")
	}
	return nil
}

func checkDER(b []byte, depth int) ([]byte, error) {
	if depth > 64 {
		return nil, errors.New("nested too deep")
	}
	if len(b) < 2 {
		return nil, errors.New("truncated")
	}
	tag := b[0]
	if tag&0x1f == 0x1f {
		return nil, errors.New("multi-byte tag")
	}
	n, hdr := int(b[1]), 2
	switch {
	case b[1] == 0x80:
		return nil, errors.New("indefinite length")
	case b[1] > 0x80:
		k := int(b[1] & 0x7f)
		if k > 4 || len(b) < 2+k {
			return nil, errors.New("bad length")
		}
		n = 0
		for _, c := range b[2 : 2+k] {
			n = n<<8 | int(c)
		}
		if b[2] == 0 || n < 0x80 {
			return nil, errors.New("non-minimal length")
		}
		hdr += k
	}
	if n > len(b)-hdr {
		return nil, errors.New("truncated")
	}
	body, rest := b[hdr:hdr+n], b[hdr+n:]
	if tag&0x20 != 0 {
		if tag&0xc0 == 0 && (tag&0x1f == asn1.TagBitString || tag&0x1f == asn1.TagOctetString || tag&0x1f >= asn1.TagUTF8String && tag&0x1f != asn1.TagSequence && tag&0x1f != asn1.TagSet) {
			return nil, fmt.Errorf("constructed string (tag %#x)", tag)
		}
		for len(body) > 0 {
			var err error
			if body, err = checkDER(body, depth+1); err != nil {
				return nil, err
			}
		}
	}
	return rest, nil
}
