package sip

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"testing"
	"time"

	"github.com/smallstep/pkcs7"
)

// Signing a digest makes the signature pkcs7 makes over the content
// itself: the same DER, byte for byte, when both are made within the same
// second (signingTime) with a key whose signatures are deterministic
// (RSA PKCS #1 v1.5).
func TestSignDigestIsPkcs7OverTheContent(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "signer"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	s := &Signer{Cert: cert, Key: key, Chain: []*x509.Certificate{cert}}
	content := bytes.Repeat([]byte("<index/>\n"), 1000)
	for try := 0; try < 5; try++ {
		got, err := s.Sign(content)
		if err != nil {
			t.Fatal(err)
		}
		ref, err := pkcs7Sign(s, content)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Equal(got, ref) {
			return
		}
		if len(got) != len(ref) {
			t.Fatalf("signature of %d bytes, pkcs7's over the content %d", len(got), len(ref))
		}
	}
	t.Fatal("the signature differs from pkcs7's over the content")
}

// pkcs7Sign signs content as Sign did before it signed digests.
func pkcs7Sign(s *Signer, content []byte) ([]byte, error) {
	sd, err := pkcs7.NewSignedData(content)
	if err != nil {
		return nil, err
	}
	sd.SetDigestAlgorithm(pkcs7.OIDDigestAlgorithmSHA256)
	cfg := pkcs7.SignerInfoConfig{ExtraSignedAttributes: []pkcs7.Attribute{signingCertificate(s.Cert)}}
	if err := sd.AddSignerChain(s.Cert, s.Key, s.Chain[1:], cfg); err != nil {
		return nil, err
	}
	sd.Detach()
	return sd.Finish()
}
