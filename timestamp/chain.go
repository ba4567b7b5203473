package timestamp

import (
	"context"
	"crypto/x509"
	"time"

	"github.com/notaryproject/tspclient-go"
)

// TokenChain is the certificate path of a DER TimeStampToken's signer to
// roots (signer first, the root from roots) and the token's genTime, for
// judging its revocation: the token's own certificates serve only as
// intermediates.
func TokenChain(ctx context.Context, token []byte, roots *x509.CertPool) ([]*x509.Certificate, time.Time, error) {
	st, err := tspclient.ParseSignedToken(token)
	if err != nil {
		return nil, time.Time{}, err
	}
	info, err := st.Info()
	if err != nil {
		return nil, time.Time{}, err
	}
	path, err := st.Verify(ctx, x509.VerifyOptions{Roots: roots, CurrentTime: info.GenTime})
	return path, info.GenTime, err
}
