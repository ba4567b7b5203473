package pec_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/conserva/conserva/internal/pecgen"
	"github.com/conserva/conserva/pec"
)

// sameVerification fails unless a and b say the same thing, certificate
// for certificate.
func sameVerification(t *testing.T, what string, a, b pec.Verification) {
	t.Helper()
	raws := func(v pec.Verification) (out []string) {
		for _, c := range v.Certificates {
			out = append(out, string(c.Raw))
		}
		if v.SignerCert != nil {
			out = append(out, "signer", string(v.SignerCert.Raw))
		}
		return out
	}
	if a.Verdict != b.Verdict || a.Reason != b.Reason || a.Signer != b.Signer || a.TimeSource != b.TimeSource ||
		strings.Join(a.Chain, "|") != strings.Join(b.Chain, "|") || strings.Join(a.Legacy, "|") != strings.Join(b.Legacy, "|") ||
		strings.Join(raws(a), "|") != strings.Join(raws(b), "|") || (a.SignedAt == nil) != (b.SignedAt == nil) ||
		(a.SignedAt != nil && !a.SignedAt.Equal(*b.SignedAt)) {
		t.Errorf("%s: with the certificate cache %s (%s), without %s (%s)", what, a.Verdict, a.Reason, b.Verdict, b.Reason)
	}
}

// TestCertCacheTellsImpostorsApart: a provider certificate of the same
// names as the real one, from an impostor CA of the same name, carried by
// messages parsed with one certificate cache between real ones: each
// message is judged on its own certificates, as without the cache.
func TestCertCacheTellsImpostorsApart(t *testing.T) {
	set := fixtureSet(t)
	now := time.Now()
	fake, err := pecgen.NewCA(set.CA.Cert.Subject.CommonName, now.Add(-10*365*24*time.Hour), now.Add(10*365*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	real := set.Get("posta-certificata")
	prov, err := fake.NewProvider(pecgen.ProviderOptions{Name: set.Provider.Name, Domain: set.Provider.Domain})
	if err != nil {
		t.Fatal(err)
	}
	forged, err := prov.Build(pecgen.Spec{Kind: pec.KindPostaCertificata})
	if err != nil {
		t.Fatal(err)
	}
	lim := pec.DefaultLimits()
	lim.Certs = pec.NewCertCache()
	trust := pec.NewTrustStore(set.CA.Cert)
	for i, c := range []struct {
		raw  []byte
		want pec.Verdict
		cert []byte
	}{{real.Raw, pec.Valid, set.Provider.Cert.Raw}, {forged, pec.Untrusted, prov.Cert.Raw}, {real.Raw, pec.Valid, set.Provider.Cert.Raw}, {forged, pec.Untrusted, prov.Cert.Raw}} {
		v := pec.Parse(c.raw, lim).Verify(trust)
		if v.Verdict != c.want || v.SignerCert == nil || !bytes.Equal(v.SignerCert.Raw, c.cert) {
			t.Fatalf("message %d: %s (%s), want %s with its own signer certificate", i, v.Verdict, v.Reason, c.want)
		}
		sameVerification(t, fmt.Sprintf("message %d", i), v, pec.Parse(c.raw, pec.DefaultLimits()).Verify(trust))
	}
}

// TestCertCacheChangesNoVerdict: every fixture (valid, tampered, expired,
// untrusted, opaque, without signed attributes, …) and every real message
// of the corpus is judged the same with the certificate cache as without,
// the second time (from the cache) as the first.
func TestCertCacheChangesNoVerdict(t *testing.T) {
	set := fixtureSet(t)
	lim := pec.DefaultLimits()
	lim.Certs = pec.NewCertCache()
	trust := pec.NewTrustStore(set.CA.Cert)
	for range 2 {
		for _, f := range set.Fixtures {
			sameVerification(t, f.Name, pec.Parse(f.Raw, lim).Verify(trust), pec.Parse(f.Raw, pec.DefaultLimits()).Verify(trust))
		}
	}
	agid, msgs := corpus(t)
	for _, c := range msgs {
		for range 2 {
			sameVerification(t, c.name, pec.Parse(c.raw, lim).Verify(agid), pec.Parse(c.raw, pec.DefaultLimits()).Verify(agid))
		}
	}
}
