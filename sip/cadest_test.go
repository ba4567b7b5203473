package sip_test

import (
	"context"
	"crypto/x509"
	"testing"

	"github.com/conserva/conserva/internal/devpki"
	"github.com/conserva/conserva/sip"
	"github.com/conserva/conserva/timestamp"
)

func devSetup(t *testing.T) (*sip.Signer, *timestamp.Dev, *x509.CertPool) {
	t.Helper()
	keys, err := devpki.LoadOrCreate(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(keys.CA)
	return &sip.Signer{Cert: keys.Signer.Cert, Key: keys.Signer.Key, Chain: keys.Signer.Chain},
		&timestamp.Dev{Cert: keys.TSA.Cert, Key: keys.TSA.Key, Chain: keys.TSA.Chain}, roots
}

func TestSignTVerifies(t *testing.T) {
	ctx := context.Background()
	s, tsa, roots := devSetup(t)
	content := []byte("<index/>\n")
	p7s, tok, err := s.SignT(ctx, content, tsa)
	if err != nil {
		t.Fatal(err)
	}
	if len(tok.TokenDER) == 0 || len(tok.Response) == 0 {
		t.Fatal("SignT returned no token")
	}
	v, err := sip.VerifyCAdES(ctx, p7s, content, roots, roots)
	if err != nil {
		t.Fatal(err)
	}
	if v.Timestamp == nil || !v.Timestamp.Time.Equal(tok.Time) || !v.Signer.Equal(s.Cert) || len(v.Chain) != 2 || v.SigningTime.IsZero() {
		t.Fatalf("verified %+v", v)
	}
	if _, err := sip.VerifyCAdES(ctx, p7s, []byte("<index/>\n "), roots, roots); err == nil {
		t.Fatal("altered content accepted")
	}
}
