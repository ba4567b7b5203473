package pec_test

import (
	"crypto/rand"
	"crypto/x509"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/conserva/conserva/internal/pecgen"
	"github.com/conserva/conserva/pec"
)

// TestSignatureWithManySelfIssuedCAs: a message signed by a key of the
// sender's own, whose signature carries many CA certificates sharing one
// name and one key: each "issued" each other, so every ordering of them
// is a candidate path, and a search that tries them all runs for hours
// (16 of them: about 100 million paths to the depth limit, a minute per message; 30: hours). verify must
// answer, untrusted, and say why.
func TestSignatureWithManySelfIssuedCAs(t *testing.T) {
	ca, err := pecgen.NewCA("Evil CA", time.Now().AddDate(-1, 0, 0), time.Now().AddDate(5, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	prov, err := ca.NewProvider(pecgen.ProviderOptions{Name: "Evil Provider", Domain: "pec.evil.example"})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 16 {
		tmpl := *ca.Cert
		tmpl.SerialNumber = big.NewInt(int64(1000 + i))
		der, err := x509.CreateCertificate(rand.Reader, &tmpl, ca.Cert, ca.Cert.PublicKey, ca.Key)
		if err != nil {
			t.Fatal(err)
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		prov.Extra = append(prov.Extra, c)
	}
	raw, err := prov.Build(pecgen.Spec{Kind: pec.KindPostaCertificata, Subject: "Atto", Date: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	// Anchors that the sender's CA does not reach: the search must fail.
	trust := pec.NewTrustStore(fixtureSet(t).CA.Cert)
	_, v := check(t, raw, trust)
	if v.Verdict != pec.Untrusted || !strings.Contains(v.Reason, "gave up") {
		t.Fatalf("verdict %s: %s", v.Verdict, v.Reason)
	}
}
