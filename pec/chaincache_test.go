package pec_test

import (
	"testing"
	"time"

	"github.com/conserva/conserva/internal/pecgen"
	"github.com/conserva/conserva/pec"
)

// A trust store remembers which certificate issued which, across messages:
// an impostor CA of the same name, issuing a provider certificate of the
// same name, never profits from what was learnt about the real ones, before
// or after them.
func TestChainCacheTellsImpostorsApart(t *testing.T) {
	set := fixtureSet(t)
	now := time.Now()
	fake, err := pecgen.NewCA(set.CA.Cert.Subject.CommonName, now.Add(-10*365*24*time.Hour), now.Add(10*365*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	prov, err := fake.NewProvider(pecgen.ProviderOptions{Name: "Posta Certificata Test", Domain: "pec.test.example"})
	if err != nil {
		t.Fatal(err)
	}
	if string(prov.Cert.RawIssuer) != string(set.CA.Cert.RawSubject) {
		t.Fatal("the impostor's certificate must name the real CA as its issuer")
	}
	forged, err := prov.Build(pecgen.Spec{Kind: pec.KindPostaCertificata})
	if err != nil {
		t.Fatal(err)
	}
	real := set.Get("posta-certificata").Raw
	trust := pec.NewTrustStore(set.CA.Cert)
	for i, c := range []struct {
		raw  []byte
		want pec.Verdict
	}{{real, pec.Valid}, {forged, pec.Untrusted}, {real, pec.Valid}, {forged, pec.Untrusted}} {
		if _, v := check(t, c.raw, trust); v.Verdict != c.want {
			t.Fatalf("message %d: %s (%s), want %s", i, v.Verdict, v.Reason, c.want)
		}
	}
}
