package timestamp_test

import (
	"context"
	"crypto/x509"
	"testing"

	"github.com/conserva/conserva/internal/testpki"
	"github.com/conserva/conserva/timestamp"
)

// FuzzVerifyResponse feeds damaged TimeStampResps to VerifyResponse: it
// must never panic, and whatever it accepts must come from the pinned TSA.
func FuzzVerifyResponse(f *testing.F) {
	ctx := context.Background()
	root := testpki.Root(f, "TSA Root", testpki.Options{})
	tsa := devOf(root.Issue(f, "TSA", testpki.Options{TimeStamping: true}))
	content := []byte("signature value")
	tok, err := tsa.Timestamp(ctx, content)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(tok.Response)
	f.Add(tok.TokenDER)
	f.Add([]byte{0x30, 0x03, 0x30, 0x01, 0x02})
	roots := root.Pool()
	f.Fuzz(func(t *testing.T, der []byte) {
		for _, verify := range []func(context.Context, []byte, []byte, *x509.CertPool) (*timestamp.Verified, error){timestamp.VerifyResponse, timestamp.VerifyToken} {
			v, err := verify(ctx, der, content, roots)
			if err == nil && !v.TSA.Equal(tsa.Cert) {
				t.Fatalf("accepted a token by %v", v.TSA.Subject)
			}
		}
	})
}
